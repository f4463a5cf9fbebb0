"""The shopper's unsubscribe page (one click, RFC 8058) and preference centre: reached by a
signed token under the merchant's slug, never by a token of another merchant or purpose."""

import itertools
import re
import time

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from notifications.links import PREFERENCES_SALT, preferences_token, token_read, unsubscribe_token
from notifications.models import ContactPreference
from orders.models import Customer
from tests.factories import CustomerFactory, MerchantFactory
from tests.shopper.sent_links import OLD_KEY, OLD_PREFERENCES, OLD_UNSUBSCRIBE_EMAIL

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture(autouse=True)
def every_signature_a_second_later(monkeypatch):
    """Each token is signed a second after the one before, as on a loaded machine: a test that
    compares two tokens made apart by their bytes fails every time, not one run in many. Tokens
    are compared by what they decode to (or one link is reused)."""
    seconds = itertools.count(int(time.time()))
    monkeypatch.setattr(
        signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(next(seconds))
    )


@pytest.fixture
def ada(merchant_a):
    merchant_a.postal_address = "1 Market St\nSpringfield, IL 62701"
    merchant_a.support_email = "help@alpha.example"
    merchant_a.support_url = "https://help.alpha.example/"
    merchant_a.primary_colour = "#112233"
    merchant_a.accent_colour = "#aa5500"
    merchant_a.save()
    return CustomerFactory(
        merchant=merchant_a,
        email="ada.lovelace@example.net",
        first_name="Ada",
        last_name="Lovelace",
        phone="+14155550123",
        email_marketing_consent=True,
        sms_marketing_consent=True,
    )


def unsubscribe_path(customer, channel="email", *, slug=None, merchant_id=None):
    token = unsubscribe_token(
        merchant_id=merchant_id or customer.merchant_id, customer_id=customer.pk, channel=channel
    )
    return f"/s/{slug or customer.merchant.slug}/unsubscribe/{token}/"


def preferences_path(customer, *, slug=None, merchant_id=None):
    token = preferences_token(
        merchant_id=merchant_id or customer.merchant_id, customer_id=customer.pk
    )
    return f"/s/{slug or customer.merchant.slug}/preferences/{token}/"


def consent(customer):
    row = Customer.unscoped.get(pk=customer.pk)
    return (
        row.email_marketing_consent,
        row.email_consent_source,
        row.email_consent_updated_at,
        row.sms_marketing_consent,
        row.sms_consent_source,
        row.sms_consent_updated_at,
    )


def muted(customer):
    found = ContactPreference.unscoped.filter(customer=customer).first()
    return None if found is None else found.muted_kinds


def ticked(body):
    """Each checkbox on the page (a topic by its value, a switch by its name): ticked or not."""
    boxes = {}
    for tag in re.findall(r'<input type="checkbox"[^>]*>', body):
        key = re.search(r'value="(\w+)"', tag) or re.search(r'name="(\w+)"', tag)
        boxes[key[1]] = " checked" in tag
    return boxes


def token_in(path):
    return path.rstrip("/").rsplit("/", 1)[1]


def csrf_token_in(response):
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)[1].decode()


# --- Unsubscribe ---------------------------------------------------------------------------


def test_the_unsubscribe_page_says_what_will_happen_and_changes_nothing(client, ada):
    # given
    before = consent(ada)

    # when
    response = client.get(unsubscribe_path(ada))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert (
        "Unsubscribe <strong>a•••@example.net</strong> from Alpha Apparel’s marketing emails."
        in (body)
    )
    assert '<form method="post">' in body
    assert "Unsubscribe, Ada?" in body
    assert consent(ada) == before


def test_one_click_unsubscribe_without_cookie_or_csrf_token(ada):
    # given: a mail provider, RFC 8058: a form body, no cookie, no CSRF token
    provider = Client(enforce_csrf_checks=True)
    before = timezone.now()

    # when
    response = provider.post(unsubscribe_path(ada), ONE_CLICK)

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"Unsubscribed.\n"
    email, source, updated_at, sms, sms_source, sms_updated_at = consent(ada)
    assert (email, source) == (False, "unsubscribe_link")
    assert before <= updated_at <= timezone.now()
    assert (sms, sms_source, sms_updated_at) == (True, "", None)


def test_one_click_url_encoded_body_as_providers_may_send_it(ada):
    # given
    provider = Client(enforce_csrf_checks=True)

    # when
    response = provider.post(
        unsubscribe_path(ada),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    # then
    assert response.status_code == 200
    assert response.content == b"Unsubscribed.\n"
    assert consent(ada)[:2] == (False, "unsubscribe_link")


def test_a_second_unsubscribe_is_the_same_answer_and_keeps_the_first_stamp(ada):
    # given
    provider = Client(enforce_csrf_checks=True)
    provider.post(unsubscribe_path(ada), ONE_CLICK)
    first = consent(ada)

    # when
    response = provider.post(unsubscribe_path(ada), ONE_CLICK)

    # then
    assert response.status_code == 200
    assert response.content == b"Unsubscribed.\n"
    assert consent(ada) == first


def test_the_button_unsubscribes_and_shows_the_way_to_the_preference_centre(ada):
    # given: the shopper's browser posts the page's form (no CSRF token on it: exempt)
    browser = Client(enforce_csrf_checks=True)

    # when
    response = browser.post(unsubscribe_path(ada))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "You’re unsubscribed" in body
    assert "<strong>a•••@example.net</strong> won’t get Alpha Apparel’s marketing emails" in body
    # The link is signed when the page is made: compared by what it says, not by its bytes,
    # which carry the second it was signed in.
    [token] = re.findall(r'href="http://127\.0\.0\.1:8000/s/alpha/preferences/([^/"]+)/"', body)
    assert token_read(token, salt=PREFERENCES_SALT) == {"m": ada.merchant_id, "c": ada.pk}
    assert consent(ada)[:2] == (False, "unsubscribe_link")


def test_an_sms_token_withdraws_sms_consent_only(ada):
    # when
    response = Client().post(unsubscribe_path(ada, "sms"), ONE_CLICK)

    # then
    assert response.status_code == 200
    email, source, updated_at, sms, sms_source, sms_updated_at = consent(ada)
    assert (email, source, updated_at) == (True, "", None)
    assert (sms, sms_source) == (False, "unsubscribe_link")
    assert sms_updated_at is not None


def test_the_page_after_unsubscribing_says_so_without_a_button(client, ada):
    # given
    client.post(unsubscribe_path(ada), ONE_CLICK)

    # when
    response = client.get(unsubscribe_path(ada))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<strong>a•••@example.net</strong> won’t get Alpha Apparel’s marketing emails." in body
    assert "<form" not in body


# --- Who may reach the pages: a token of this merchant, for this page, of a customer --------

PAGES = [
    ("unsubscribe", "get"),
    ("unsubscribe", "post"),
    ("preferences", "get"),
    ("preferences", "post"),
]


def path_for(page, customer, **kwargs):
    return (
        unsubscribe_path(customer, **kwargs)
        if page == "unsubscribe"
        else preferences_path(customer, **kwargs)
    )


@pytest.mark.parametrize(("page", "method"), PAGES)
def test_a_token_of_merchant_a_under_merchant_b_is_not_found(client, ada, merchant_b, page, method):
    # given
    before = (consent(ada), muted(ada))

    # when
    response = getattr(client, method)(path_for(page, ada, slug="bravo"), ONE_CLICK)

    # then
    assert response.status_code == 404
    assert "We can’t find that page" in response.content.decode()
    assert "Bravo Books" in response.content.decode()
    assert "Alpha Apparel" not in response.content.decode()
    assert (consent(ada), muted(ada)) == before


@pytest.mark.parametrize(("page", "method"), PAGES)
def test_a_token_naming_another_merchant_is_not_found_even_for_its_own_customer_id(
    client, ada, merchant_b, page, method
):
    # given: a well-signed token naming merchant B, for A's customer, under A's slug
    before = consent(ada)
    path = path_for(page, ada, merchant_id=merchant_b.pk)

    # when
    response = getattr(client, method)(path, ONE_CLICK)

    # then
    assert response.status_code == 404
    assert consent(ada) == before


@pytest.mark.parametrize(("page", "method"), PAGES)
def test_a_forged_token_is_not_found_like_any_other_failure(client, ada, page, method):
    # given: Ada's signature on a payload naming Eve, and a token of a customer since deleted
    eve = CustomerFactory(merchant=ada.merchant, email_marketing_consent=True)
    ada_path = path_for(page, ada)  # one link: another made a second later differs
    ada_token, eve_token = token_in(ada_path), token_in(path_for(page, eve))
    forged = ada_path.replace(
        ada_token, eve_token.rsplit(":", 1)[0] + ":" + ada_token.rsplit(":", 1)[1]
    )
    gone = CustomerFactory(merchant=ada.merchant)
    unknown = path_for(page, gone)
    gone.delete()
    before = (consent(ada), consent(eve))

    # when
    response = getattr(client, method)(forged, ONE_CLICK)
    other = getattr(client, method)(unknown, ONE_CLICK)

    # then: the same page, so it tells nothing about which part was wrong
    assert response.status_code == 404
    assert other.status_code == 404
    assert response.content == other.content
    assert (consent(ada), consent(eve)) == before
    assert (muted(ada), muted(eve)) == (None, None)


def test_tokens_of_one_purpose_are_refused_by_the_other_page(client, ada):
    # given
    unsubscribe = unsubscribe_token(
        merchant_id=ada.merchant_id, customer_id=ada.pk, channel="email"
    )
    preferences = preferences_token(merchant_id=ada.merchant_id, customer_id=ada.pk)
    before = consent(ada)

    # when
    on_preferences = client.get(f"/s/alpha/preferences/{unsubscribe}/")
    on_unsubscribe = client.post(f"/s/alpha/unsubscribe/{preferences}/", ONE_CLICK)

    # then
    assert on_preferences.status_code == 404
    assert on_unsubscribe.status_code == 404
    assert consent(ada) == before


def test_an_unknown_or_inactive_merchant_is_not_found(client, ada):
    # given
    path = unsubscribe_path(ada)
    ada.merchant.is_active = False
    ada.merchant.save()

    # when
    inactive = client.post(path, ONE_CLICK)
    unknown = client.post(unsubscribe_path(ada, slug="nobody"), ONE_CLICK)

    # then
    assert inactive.status_code == 404
    assert unknown.status_code == 404
    assert inactive.content == unknown.content
    assert consent(ada)[0] is True


# --- Preference centre ---------------------------------------------------------------------


def test_the_preference_centre_shows_current_choices_and_no_more_of_the_customer(client, ada):
    # given
    ContactPreference.unscoped.create(merchant=ada.merchant, customer=ada, muted_kinds=["feedback"])
    Customer.unscoped.filter(pk=ada.pk).update(sms_marketing_consent=False)

    # when
    response = client.get(preferences_path(ada))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ada, choose what Alpha Apparel sends you" in body
    checkboxes = ticked(body)
    assert checkboxes == {
        "email_marketing": True,
        "sms_marketing": False,
        "onboarding": True,
        "feedback": False,
        "relationship": True,
        "re_engagement": True,
    }
    assert "Onboarding" in body
    assert "Re-engagement" in body
    assert "To a•••@example.net" in body
    assert "ada.lovelace" not in body
    assert "Lovelace" not in body
    assert "+14155550123" not in body
    assert "0123" not in body


def test_the_sms_switch_is_hidden_without_a_phone(client, merchant_a):
    # given
    customer = CustomerFactory(merchant=merchant_a, phone="", sms_marketing_consent=True)

    # when
    response = client.get(preferences_path(customer))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="email_marketing"' in body
    assert 'name="sms_marketing"' not in body
    assert "Marketing text messages" not in body


def test_saving_preferences_writes_consent_and_muted_topics_exactly(client, ada):
    # given: one link, as a shopper follows it (two made in different seconds differ)
    path = preferences_path(ada)
    page = client.get(path)
    before = timezone.now()

    # when: email off, SMS kept on, feedback and re-engagement unticked
    response = client.post(
        path,
        {
            "csrfmiddlewaretoken": csrf_token_in(page),
            "sms_marketing": "on",
            "topics": ["onboarding", "relationship"],
        },
    )

    # then
    assert response.status_code == 303
    assert response["Location"] == f"{path}?saved=1"
    email, source, updated_at, sms, sms_source, sms_updated_at = consent(ada)
    assert (email, source) == (False, "preference_centre")
    assert before <= updated_at <= timezone.now()
    assert (sms, sms_source, sms_updated_at) == (True, "", None)  # unchanged: not stamped
    assert muted(ada) == ["feedback", "re_engagement"]

    # when: following the redirect
    confirmation = client.get(response["Location"])

    # then
    assert "Your preferences are saved." in confirmation.content.decode()


def test_saving_can_switch_consent_back_on_and_unmute_everything(client, ada):
    # given
    Customer.unscoped.filter(pk=ada.pk).update(email_marketing_consent=False)
    ContactPreference.unscoped.create(
        merchant=ada.merchant, customer=ada, muted_kinds=["onboarding", "feedback"]
    )

    # when
    response = client.post(
        preferences_path(ada),
        {
            "email_marketing": "on",
            "sms_marketing": "on",
            "topics": ["onboarding", "feedback", "relationship", "re_engagement"],
        },
    )

    # then
    assert response.status_code == 303
    assert consent(ada)[:2] == (True, "preference_centre")
    assert muted(ada) == []


def test_without_a_phone_saving_keeps_the_sms_consent_as_it_was(client, merchant_a):
    # given
    customer = CustomerFactory(merchant=merchant_a, phone="", sms_marketing_consent=True)

    # when
    client.post(preferences_path(customer), {"email_marketing": "on", "topics": []})

    # then
    assert consent(customer)[3:] == (True, "", None)
    assert consent(customer)[:2] == (True, "preference_centre")
    assert muted(customer) == ["onboarding", "feedback", "relationship", "re_engagement"]


def test_an_unknown_topic_is_a_form_error_and_saves_nothing(client, ada):
    # when
    response = client.post(
        preferences_path(ada), {"email_marketing": "on", "topics": ["transactional"]}
    )

    # then
    assert response.status_code == 200
    assert "Select a valid choice. transactional is not one of the available choices." in (
        response.content.decode()
    )
    assert muted(ada) is None
    assert consent(ada)[:3] == (True, "", None)


def test_the_preference_form_is_csrf_checked(ada):
    # given: a browser that kept no cookie, and one that loaded the page first
    stranger = Client(enforce_csrf_checks=True)
    shopper = Client(enforce_csrf_checks=True)
    page = shopper.get(preferences_path(ada))
    choices = {"topics": ["onboarding"]}

    # when
    refused = stranger.post(preferences_path(ada), choices)

    # then
    assert refused.status_code == 403
    assert (consent(ada)[:3], muted(ada)) == ((True, "", None), None)

    # when
    accepted = shopper.post(
        preferences_path(ada), {**choices, "csrfmiddlewaretoken": csrf_token_in(page)}
    )

    # then
    assert accepted.status_code == 303
    assert muted(ada) == ["feedback", "relationship", "re_engagement"]


# --- Headers on the shell (the shell's own brand and 404: tests/shopper/) ------------------

CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


@pytest.mark.parametrize(
    ("request_for", "status", "referrer_policy"),
    [
        (lambda c, ada: c.get(unsubscribe_path(ada)), 200, "no-referrer"),
        (lambda c, ada: c.post(unsubscribe_path(ada), ONE_CLICK), 200, "no-referrer"),
        (lambda c, ada: c.post(unsubscribe_path(ada)), 200, "no-referrer"),
        (lambda c, ada: c.get(unsubscribe_path(ada, slug="nobody")), 404, "no-referrer"),
        (lambda c, ada: c.get("/s/alpha/unsubscribe/not-a-token/"), 404, "no-referrer"),
        # The form's CSRF check needs the page's real origin on its POST (see shopper_views).
        (lambda c, ada: c.get(preferences_path(ada)), 200, "same-origin"),
        (lambda c, ada: c.post(preferences_path(ada), {}), 303, "same-origin"),
    ],
    ids=["unsubscribe", "one-click", "unsubscribed", "no-merchant", "bad-token", "prefs", "save"],
)
def test_pages_are_neither_kept_nor_indexed_nor_referred(
    client, ada, request_for, status, referrer_policy
):
    # when
    response = request_for(client, ada)

    # then
    assert response.status_code == status
    assert response["Referrer-Policy"] == referrer_policy
    assert response["Cache-Control"] == "no-store"
    assert response["X-Robots-Tag"] == "noindex"
    assert response["Content-Security-Policy"] == CSP


def test_a_customer_of_merchant_b_is_served_under_b_with_bs_brand(client, ada, merchant_b):
    # given
    bo = CustomerFactory(merchant=merchant_b, email="bo@example.org", first_name="Bo")

    # when
    response = client.get(preferences_path(bo))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "Bo, choose what Bravo Books sends you" in body
    assert "Alpha Apparel" not in body


# --- Links already delivered ---------------------------------------------------------------


def test_links_in_messages_sent_before_the_shell_still_open_their_pages(client, settings, db):
    # given: merchant 7001's customer 8001, and the links notifications/links.py signed for them
    # on 2025-01-01 (tests/shopper/test_tokens.py), before the pages moved onto the shell
    settings.SECRET_KEY = OLD_KEY
    merchant = MerchantFactory(pk=7001, slug="since-2025", name="Old Shop")
    customer = CustomerFactory(
        pk=8001, merchant=merchant, email="ada@example.net", email_marketing_consent=True
    )

    # when
    preferences = client.get(f"/s/since-2025/preferences/{OLD_PREFERENCES}/")
    unsubscribe_page = client.get(f"/s/since-2025/unsubscribe/{OLD_UNSUBSCRIBE_EMAIL}/")
    one_click = client.post(f"/s/since-2025/unsubscribe/{OLD_UNSUBSCRIBE_EMAIL}/", ONE_CLICK)

    # then
    assert preferences.status_code == 200
    assert "choose what Old Shop sends you" in preferences.content.decode()
    assert unsubscribe_page.status_code == 200
    assert one_click.status_code == 200
    assert one_click.content == b"Unsubscribed.\n"
    assert consent(customer)[:2] == (False, "unsubscribe_link")
