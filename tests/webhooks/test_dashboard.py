"""Settings → Webhooks in the dashboard: who may open and use it, adding an endpoint (its
secret shown once), editing, enabling and disabling, rotating, test events and the log."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.scoping import merchant_scope
from tests.webhooks.conftest import T0
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_endpoint_disable

pytestmark = pytest.mark.usefixtures("dns")

LIST = reverse("dashboard:settings_webhooks")
FORM = {
    "url": "https://hooks.example/in",
    "description": "ERP sync",
    "event_types": ["order.placed", "shipment.delivered"],
    "custom_event_types": "product.setup_completed, ",
}


@pytest.fixture
def client_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def owner(owner_a, client_for):
    return client_for(owner_a)


@pytest.fixture
def endpoint_a(merchant_a):
    return webhook_endpoint_create(
        merchant=merchant_a, url="https://a.example/hook", event_types=["order.placed"], now=T0
    )


@pytest.fixture
def endpoint_b(merchant_b):
    return webhook_endpoint_create(
        merchant=merchant_b, url="https://b.example/hook", event_types=["*"], now=T0
    )


def state():
    return [
        list(WebhookEndpoint.unscoped.order_by("pk").values()),
        list(WebhookDelivery.unscoped.order_by("pk").values()),
    ]


PAGES = ["dashboard:settings_webhooks", "dashboard:settings_webhook_detail"]
ACTIONS = [
    ("dashboard:settings_webhooks", FORM),
    ("dashboard:settings_webhook_detail", FORM),
    ("dashboard:settings_webhook_enable", {}),
    ("dashboard:settings_webhook_disable", {}),
    ("dashboard:settings_webhook_rotate_secret", {}),
    ("dashboard:settings_webhook_test", {}),
    ("dashboard:settings_webhook_delete", {}),
]


def url(name: str, endpoint) -> str:
    return (
        reverse(name)
        if name == "dashboard:settings_webhooks"
        else reverse(name, args=[endpoint.pk])
    )


def test_every_webhooks_page_is_in_these_lists():
    from webhooks.dashboard_urls import urlpatterns

    names = {f"dashboard:{p.name}" for p in urlpatterns}
    assert names == set(PAGES) | {name for name, _ in ACTIONS}


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.OWNER, 200), (Role.ADMIN, 200), (Role.EDITOR, 403), (Role.VIEWER, 403)],
)
@pytest.mark.parametrize("name", PAGES)
def test_pages_are_for_roles_that_manage_settings(
    merchant_a, member_of, client_for, endpoint_a, name, role, status
):
    response = client_for(member_of(merchant_a, role)).get(url(name, endpoint_a))

    assert response.status_code == status


@pytest.mark.parametrize(("name", "body"), ACTIONS)
@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_actions_are_refused_to_other_roles_and_change_nothing(
    merchant_a, member_of, client_for, endpoint_a, name, body, role
):
    before = state()

    response = client_for(member_of(merchant_a, role)).post(url(name, endpoint_a), body)

    assert response.status_code == 403
    assert state() == before


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, endpoint_a, name):
    target = url(name, endpoint_a)

    response = client.get(target)

    assert (response.status_code, response["Location"]) == (302, f"/app/login/?next={target}")


@pytest.mark.parametrize(("name", "body"), [a for a in ACTIONS if a[0] != PAGES[0]])
def test_another_merchants_endpoint_answers_404_and_changes_nothing(owner, endpoint_b, name, body):
    before = state()

    response = owner.post(url(name, endpoint_b), body)

    assert response.status_code == 404
    assert state() == before
    assert owner.get(url(PAGES[1], endpoint_b)).status_code == 404


def test_the_navigation_links_to_webhooks(owner):
    response = owner.get(LIST)

    html = response.content.decode()
    assert f'href="{LIST}" aria-current="page"' in html


def test_adding_an_endpoint_shows_its_secret_once(owner, merchant_a):
    # when
    response = owner.post(LIST, FORM)

    # then
    assert response.status_code == 200
    endpoint = WebhookEndpoint.unscoped.get()
    assert (endpoint.merchant_id, endpoint.url, endpoint.description) == (
        merchant_a.pk,
        "https://hooks.example/in",
        "ERP sync",
    )
    assert endpoint.event_types == [
        "order.placed",
        "product.setup_completed",
        "shipment.delivered",
    ]
    html = response.content.decode()
    assert endpoint.secret in html
    assert "no-store" in response["Cache-Control"]
    # and not on the next visit
    again = owner.get(LIST).content.decode()
    assert endpoint.secret not in again
    assert "https://hooks.example/in" in again and "Healthy" in again


def test_every_event_wins_over_single_types(owner):
    owner.post(LIST, {**FORM, "all_events": "on"})

    assert WebhookEndpoint.unscoped.get().event_types == ["*"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {**FORM, "url": "http://169.254.169.254/"},
            "The host in the URL must resolve only to public internet addresses.",
        ),
        ({**FORM, "event_types": [], "custom_event_types": ""}, "Choose at least one event"),
        ({**FORM, "custom_event_types": "Not An Event"}, "is not an event type"),
    ],
)
def test_a_refused_endpoint_shows_why_and_saves_nothing(owner, body, error):
    response = owner.post(LIST, body)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert WebhookEndpoint.unscoped.count() == 0


def test_editing_an_endpoint(owner, endpoint_a):
    # when
    response = owner.post(
        url(PAGES[1], endpoint_a), {**FORM, "url": "https://a.example/v2", "event_types": []}
    )

    # then
    assert response.status_code == 302
    endpoint = WebhookEndpoint.unscoped.get()
    assert (endpoint.url, endpoint.event_types) == (
        "https://a.example/v2",
        ["product.setup_completed"],
    )
    page = owner.get(url(PAGES[1], endpoint_a)).content.decode()
    assert 'value="product.setup_completed"' in page


def test_disabling_and_enabling(owner, endpoint_a, owner_a):
    # when
    owner.post(url("dashboard:settings_webhook_disable", endpoint_a))
    disabled = WebhookEndpoint.unscoped.get()
    page = owner.get(url(PAGES[1], endpoint_a)).content.decode()
    owner.post(url("dashboard:settings_webhook_enable", endpoint_a))

    # then
    assert (disabled.enabled, disabled.disabled_reason) == (
        False,
        "Disabled by owner@alpha.example.",
    )
    assert "Disabled by owner@alpha.example." in page and "data-disabled-reason" in page
    assert WebhookEndpoint.unscoped.get().enabled is True


def test_an_automatic_disabling_shows_its_reason(owner, merchant_a, endpoint_a):
    with merchant_scope(merchant_a):
        webhook_endpoint_disable(endpoint=endpoint_a, reason="Every delivery attempt failed.")

    page = owner.get(url(PAGES[1], endpoint_a)).content.decode()
    listing = owner.get(LIST).content.decode()

    assert "Every delivery attempt failed." in page
    assert "Disabled" in listing


def test_rotating_the_secret_shows_the_new_one(owner, endpoint_a):
    response = owner.post(url("dashboard:settings_webhook_rotate_secret", endpoint_a))

    endpoint = WebhookEndpoint.unscoped.get()
    assert endpoint.secret != endpoint_a.secret
    assert endpoint.secret in response.content.decode()
    assert endpoint.secret not in owner.get(url(PAGES[1], endpoint_a)).content.decode()


def test_a_test_event_and_the_delivery_log(
    owner, merchant_a, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given
    endpoint = webhook_endpoint_create(merchant=merchant_a, url=receiver.url, event_types=["*"])
    receiver.answer((500, "upstream exploded"))

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(url("dashboard:settings_webhook_test", endpoint))
    run_queue(T0)
    page = owner.get(url(PAGES[1], endpoint)).content.decode()

    # then
    assert response.status_code == 302
    assert "webhook.test" in page
    assert "Retrying" in page
    assert "upstream exploded" in page
    assert "HTTP 500" in page
    assert " ms</td>" in page


def test_a_test_event_to_a_disabled_endpoint_is_refused(owner, merchant_a, endpoint_a):
    with merchant_scope(merchant_a):
        webhook_endpoint_disable(endpoint=endpoint_a, reason="Paused.")

    response = owner.post(url("dashboard:settings_webhook_test", endpoint_a), follow=True)

    assert "Enable the endpoint to send it a test event." in response.content.decode()
    assert WebhookDelivery.unscoped.count() == 0


def test_deleting_an_endpoint(owner, endpoint_a):
    response = owner.post(url("dashboard:settings_webhook_delete", endpoint_a))

    assert (response.status_code, response["Location"]) == (302, LIST)
    assert WebhookEndpoint.unscoped.count() == 0
