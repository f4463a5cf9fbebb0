"""Every shopper page, walked from the URL configuration: another merchant's slug, another
merchant's token, an expired token and a malformed one all get the same branded 404, and
change nothing. A new page under ``/s/<slug>/`` joins this matrix by itself; a new kind of
link fails ``test_every_link_purpose_has_a_sample`` until it is given one here."""

from __future__ import annotations

import time

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from notifications.models import ContactPreference
from orders.models import Customer, Order
from postpurchase.shopper.tokens import link_token
from postpurchase.shopper.views import SHOPPER_HEADERS, ShopperTokenView, ShopperView
from tests.factories import CustomerFactory
from tests.shopper.conftest import make_order
from tracking import counters
from tracking.models import ShipmentPageViews, TrackingSubscription

pytestmark = pytest.mark.django_db

SHELL_PREFIX = "s/<slug:merchant_slug>/"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def shopper_routes():
    """(route, name, view class) of every page under /s/<slug>/."""
    found = []

    def walk(patterns, prefix, namespace):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route, entry.namespace or namespace)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}:{entry.name}" if namespace else entry.name
                found.append((route, name, getattr(entry.callback, "view_class", None)))

    walk(get_resolver().url_patterns, "", None)
    return [route for route in found if route[0].startswith(SHELL_PREFIX)]


ROUTES = shopper_routes()
TOKEN_ROUTES = [
    (name, view) for _, name, view in ROUTES if issubclass(view or object, ShopperTokenView)
]


def customer_of(merchant):
    return CustomerFactory(
        merchant=merchant, email=f"someone@{merchant.slug}.example", email_marketing_consent=True
    )


# What a link of each purpose names, made for a merchant: {field: value}.
SAMPLES = {
    "notifications.unsubscribe": lambda merchant: {"c": customer_of(merchant).pk, "ch": "email"},
    "notifications.preferences": lambda merchant: {"c": customer_of(merchant).pk},
    "orders.status": lambda merchant: {
        "o": make_order(merchant, number=f"#{merchant.slug}", email="x@example.net").pk
    },
    "tracking.page": lambda merchant: {
        "o": make_order(merchant, number=f"#t-{merchant.slug}", email="t@example.net").pk
    },
}


def url(name, slug, token):
    return reverse(name, kwargs={"merchant_slug": slug, "token": token})


def state():
    """What a page could change: consent, muted topics, orders, update subscriptions, views
    (the views counted so far written first)."""
    counters.flush()
    return (
        sorted(
            Customer.unscoped.values_list(
                "pk", "email_marketing_consent", "sms_marketing_consent", "email_consent_source"
            )
        ),
        sorted(ContactPreference.unscoped.values_list("customer_id", "muted_kinds")),
        sorted(Order.unscoped.values_list("pk", "updated_at", "fulfillment_status")),
        sorted(TrackingSubscription.unscoped.values_list("pk", "address", "stopped_at")),
        sorted(ShipmentPageViews.unscoped.values_list("pk", "views")),
    )


def ask(client, method, path):
    return client.post(path, ONE_CLICK) if method == "post" else client.get(path)


def not_found_page(client, slug):
    """The branded 404 a merchant's shoppers get for an address that is no page."""
    return client.get(f"/s/{slug}/no-such-page/")


def assert_branded_404(response, reference):
    assert response.status_code == 404
    assert response.content == reference.content
    for header, value in SHOPPER_HEADERS.items():
        assert response[header] == value
    assert response["Referrer-Policy"] == "no-referrer"


def test_the_walk_finds_every_shopper_page():
    # then: a page added later is walked too; these are today's
    assert {name for _, name, _ in ROUTES} == {
        "shopper:lookup",
        "shopper_notifications:unsubscribe",
        "shopper_notifications:preferences",
        "shopper_orders:order",
        "shopper_tracking:page",
        "shopper_claims:file",
        "shopper_claims:claim",
        "shopper_not_found",
    }


def test_every_shopper_page_stands_on_the_shell():
    # then: the merchant, its scope, the headers and the 404 come from ShopperView
    assert [name for _, name, view in ROUTES if not issubclass(view or object, ShopperView)] == []


def test_every_link_purpose_has_a_sample():
    # then
    assert {view.purpose.salt for _, view in TOKEN_ROUTES} == set(SAMPLES)


def test_the_expiring_pages_are_walked_with_an_expired_link():
    # then: the pages that show an order (its status, tracking, claims) expire; the links
    # in messages that only lower what is sent never do
    assert sorted(case.values[0] for case in FAILURE_CASES if case.values[2] == "expired") == [
        "shopper_claims:claim",
        "shopper_claims:file",
        "shopper_orders:order",
        "shopper_tracking:page",
    ]


def test_the_404_page_is_branded_for_the_merchant(client, merchant_a):
    # when
    response = not_found_page(client, "alpha")

    # then
    body = response.content.decode()
    assert response.status_code == 404
    assert "We can’t find that page" in body
    assert '<span class="brandbar__name">Alpha Apparel</span>' in body


FAILURES = [
    "other_merchants_slug",
    "other_merchants_token",
    "token_naming_other_merchant",
    "expired",  # for the purposes that expire
    "malformed",
    "truncated",
    "other_purpose",
]
FAILURE_CASES = [
    pytest.param(name, view, case, id=f"{name}-{case}")
    for name, view in TOKEN_ROUTES
    for case in FAILURES
    if case != "expired" or view.purpose.max_age is not None
]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("name", "view", "case"), FAILURE_CASES)
def test_every_failure_of_a_link_is_the_same_branded_404(
    client, merchant_a, merchant_b, name, view, method, case
):
    # given: a genuine link of merchant A, and B's of the same kind
    purpose = view.purpose
    fields_a, fields_b = SAMPLES[purpose.salt](merchant_a), SAMPLES[purpose.salt](merchant_b)
    genuine = link_token(purpose=purpose, merchant_id=merchant_a.pk, **fields_a)
    other_salt = next(salt for salt in SAMPLES if salt != purpose.salt)
    slug, token = "alpha", genuine
    if case == "other_merchants_slug":
        slug = "bravo"
    elif case == "other_merchants_token":
        token = link_token(purpose=purpose, merchant_id=merchant_b.pk, **fields_b)
    elif case == "token_naming_other_merchant":
        token = link_token(purpose=purpose, merchant_id=merchant_b.pk, **fields_a)
    elif case == "expired":
        long_ago = time.time() - purpose.max_age.total_seconds() - 60
        token = link_token(purpose=purpose, merchant_id=merchant_a.pk, now=long_ago, **fields_a)
    elif case == "malformed":
        token = "not-a-token"
    elif case == "truncated":
        token = genuine[:-3]
    elif case == "other_purpose":
        other = next(v.purpose for _, v in TOKEN_ROUTES if v.purpose.salt == other_salt)
        token = link_token(
            purpose=other, merchant_id=merchant_a.pk, **SAMPLES[other_salt](merchant_a)
        )
    reference = not_found_page(client, slug)
    before = state()

    # when
    response = ask(client, method, url(name, slug, token))

    # then
    assert_branded_404(response, reference)
    assert state() == before


@pytest.mark.parametrize(("name", "view"), TOKEN_ROUTES, ids=[n for n, _ in TOKEN_ROUTES])
def test_the_genuine_link_opens_its_page(client, merchant_a, name, view):
    # given
    fields = SAMPLES[view.purpose.salt](merchant_a)
    token = link_token(purpose=view.purpose, merchant_id=merchant_a.pk, **fields)

    # when
    response = client.get(url(name, "alpha", token))

    # then
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == SHOPPER_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("name", "view"),
    [(n, v) for n, v in TOKEN_ROUTES if v.purpose.max_age is None],
    ids=[n for n, v in TOKEN_ROUTES if v.purpose.max_age is None],
)
def test_links_that_never_expire_still_open_years_later(client, merchant_a, name, view):
    # given: signed five years ago
    fields = SAMPLES[view.purpose.salt](merchant_a)
    five_years_ago = time.time() - 5 * 365 * 86400
    token = link_token(
        purpose=view.purpose, merchant_id=merchant_a.pk, now=five_years_ago, **fields
    )

    # when
    response = client.get(url(name, "alpha", token))

    # then
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize(("route", "name", "view"), ROUTES, ids=[n for _, n, _ in ROUTES])
def test_an_unknown_or_inactive_merchant_is_one_unbranded_404_on_every_page(
    client, merchant_a, route, name, view, method
):
    # given: a genuine link (for a page that takes one), then the merchant is deactivated
    if issubclass(view or object, ShopperTokenView):
        fields = SAMPLES[view.purpose.salt](merchant_a)
        token = link_token(purpose=view.purpose, merchant_id=merchant_a.pk, **fields)
        path, unknown = url(name, "alpha", token), url(name, "nobody", token)
    elif name == "shopper_not_found":
        path, unknown = "/s/alpha/anything/", "/s/nobody/anything/"
    else:
        path, unknown = (
            reverse(name, kwargs={"merchant_slug": "alpha"}),
            reverse(name, kwargs={"merchant_slug": "nobody"}),
        )
    merchant_a.is_active = False
    merchant_a.save()
    before = state()

    # when
    inactive = ask(client, method, path)
    nobody = ask(client, method, unknown)

    # then
    assert_branded_404(inactive, nobody)
    assert "Alpha Apparel" not in inactive.content.decode()
    assert state() == before
