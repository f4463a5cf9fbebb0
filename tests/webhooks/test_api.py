"""Webhook endpoints in the API: CRUD, the secret shown once, validation naming the field, the
write scope, and another merchant's key answering 404 on every endpoint."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.webhooks.conftest import T0
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.usefixtures("dns")

LIST = "/api/v1/webhook-endpoints"
BODY = {
    "url": "https://hooks.example/in",
    "description": "ERP sync",
    "event_types": ["shipment.delivered", "order.placed"],
}


@pytest.fixture
def endpoint_a(merchant_a):
    return webhook_endpoint_create(
        merchant=merchant_a, url="https://a.example/hook", event_types=["*"], now=T0
    )


def snapshot():
    return [
        sorted(model.unscoped.values_list("pk", flat=True))
        for model in (WebhookDelivery, WebhookAttempt)
    ] + [list(WebhookEndpoint.unscoped.order_by("pk").values())]


def test_create_answers_201_with_the_secret_once(api_a, merchant_a):
    # when
    response = api_a.post(LIST, BODY, format="json")

    # then
    assert response.status_code == 201
    body = response.json()
    endpoint = WebhookEndpoint.unscoped.get()
    assert endpoint.merchant_id == merchant_a.pk
    assert body["secret"] == endpoint.secret
    assert body["secret"].startswith("whsec_") and len(body["secret"]) == 6 + 44
    assert {k: body[k] for k in ("id", "url", "description", "event_types", "enabled")} == {
        "id": endpoint.pk,
        "url": "https://hooks.example/in",
        "description": "ERP sync",
        "event_types": ["order.placed", "shipment.delivered"],
        "enabled": True,
    }
    assert body["health"] == {
        "status": "healthy",
        "consecutive_failures": 0,
        "failing_since": None,
        "last_success_at": None,
        "last_failure_at": None,
    }
    # and never again
    assert "secret" not in api_a.get(f"{LIST}/{endpoint.pk}").json()
    assert "secret" not in api_a.get(LIST).json()["results"][0]


def test_the_secret_is_encrypted_at_rest(api_a):
    from django.db import connection

    api_a.post(LIST, BODY, format="json")
    secret = WebhookEndpoint.unscoped.get().secret

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhookendpoint")
        [(stored,)] = cursor.fetchall()
    assert stored.startswith("fernet:")
    assert secret not in stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "url": "http://10.0.0.1/hook"}, "url"),
        ({**BODY, "url": "ftp://hooks.example/"}, "url"),
        ({**BODY, "event_types": []}, "event_types"),
        ({**BODY, "event_types": ["Order Placed"]}, "event_types"),
        ({**BODY, "event_types": ["*", "order.placed"]}, "event_types"),
        ({**BODY, "description": "x" * 201}, "description"),
        ({"event_types": ["*"]}, "url"),
    ],
)
def test_invalid_input_is_a_problem_naming_the_field(api_a, body, field):
    # when
    response = api_a.post(LIST, body, format="json")

    # then
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == [field]
    assert WebhookEndpoint.unscoped.count() == 0


def test_list_shows_the_merchants_endpoints_newest_first(api_a, merchant_a, merchant_b):
    # given
    first = webhook_endpoint_create(
        merchant=merchant_a, url="https://a.example/1", event_types=["*"]
    )
    second = webhook_endpoint_create(
        merchant=merchant_a, url="https://a.example/2", event_types=["*"]
    )
    webhook_endpoint_create(merchant=merchant_b, url="https://b.example/1", event_types=["*"])

    # when
    response = api_a.get(LIST)

    # then
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [second.pk, first.pk]


def test_patch_changes_only_what_is_sent_and_can_disable_and_enable(api_a, endpoint_a):
    # when
    renamed = api_a.patch(
        f"{LIST}/{endpoint_a.pk}",
        {"description": "Renamed", "event_types": ["order.cancelled"]},
        format="json",
    )
    disabled = api_a.patch(f"{LIST}/{endpoint_a.pk}", {"enabled": False}, format="json")
    enabled = api_a.patch(f"{LIST}/{endpoint_a.pk}", {"enabled": True}, format="json")

    # then
    assert renamed.status_code == 200
    assert (renamed.json()["description"], renamed.json()["url"]) == ("Renamed", endpoint_a.url)
    assert renamed.json()["event_types"] == ["order.cancelled"]
    assert (disabled.json()["enabled"], disabled.json()["disabled_reason"]) == (
        False,
        "Disabled by the merchant.",
    )
    assert disabled.json()["health"]["status"] == "disabled"
    assert (enabled.json()["enabled"], enabled.json()["disabled_reason"]) == (True, "")


def test_patch_to_a_private_url_is_refused_and_changes_nothing(api_a, endpoint_a):
    before = snapshot()

    response = api_a.patch(f"{LIST}/{endpoint_a.pk}", {"url": "http://[::1]/"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["url"]
    assert snapshot() == before


def test_rotate_secret_answers_the_new_secret(api_a, endpoint_a):
    # when
    response = api_a.post(f"{LIST}/{endpoint_a.pk}/rotate-secret")

    # then
    assert response.status_code == 200
    endpoint = WebhookEndpoint.unscoped.get()
    assert response.json()["secret"] == endpoint.secret != endpoint_a.secret
    assert endpoint.previous_secret == endpoint_a.secret


def test_delete_removes_the_endpoint_and_its_log(api_a, endpoint_a, enqueued):
    # given
    api_a.post(f"{LIST}/{endpoint_a.pk}/send-test")

    # when
    response = api_a.delete(f"{LIST}/{endpoint_a.pk}")

    # then
    assert response.status_code == 204
    assert (WebhookEndpoint.unscoped.count(), WebhookDelivery.unscoped.count()) == (0, 0)


def test_deliveries_list_shows_each_with_its_attempts(
    api_a, merchant_a, endpoint_a, receiver, enqueued, run_queue, django_capture_on_commit_callbacks
):
    # given: a test event whose one attempt got a 500
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url=receiver.url, event_types=["*"], now=T0
    )
    receiver.answer((500, "nope"))
    with django_capture_on_commit_callbacks(execute=True):
        sent = api_a.post(f"{LIST}/{endpoint.pk}/send-test")
    assert sent.status_code == 202
    run_queue(T0)

    # when
    response = api_a.get(f"{LIST}/{endpoint.pk}/deliveries")

    # then
    assert response.status_code == 200
    [delivery] = response.json()["results"]
    assert (delivery["id"], delivery["event_type"], delivery["status"]) == (
        sent.json()["id"],
        "webhook.test",
        "pending",
    )
    assert delivery["payload"]["data"] == {
        "endpoint_id": endpoint.pk,
        "message": "A test event: your endpoint works.",
    }
    [attempt] = delivery["attempts"]
    assert {k: attempt[k] for k in ("number", "succeeded", "status_code", "error")} == {
        "number": 1,
        "succeeded": False,
        "status_code": 500,
        "error": "HTTP 500",
    }
    assert attempt["response_excerpt"] == "nope"
    assert api_a.get(f"{LIST}/{endpoint.pk}/deliveries?status=succeeded").json()["results"] == []
    assert api_a.get(f"{LIST}/{endpoint_a.pk}/deliveries").json()["results"] == []


def test_send_test_to_a_disabled_endpoint_answers_409(api_a, endpoint_a):
    api_a.patch(f"{LIST}/{endpoint_a.pk}", {"enabled": False}, format="json")

    response = api_a.post(f"{LIST}/{endpoint_a.pk}/send-test")

    assert response.status_code == 409
    assert WebhookDelivery.unscoped.count() == 0


# --- isolation and scope --------------------------------------------------------------------

OBJECT_REQUESTS = [
    ("get", "{id}", None),
    ("patch", "{id}", {"description": "Mine now"}),
    ("delete", "{id}", None),
    ("post", "{id}/rotate-secret", None),
    ("post", "{id}/send-test", None),
    ("get", "{id}/deliveries", None),
]


def test_every_webhook_api_route_is_in_the_request_lists():
    from webhooks.api_urls import urlpatterns

    routes = {str(p.pattern) for p in urlpatterns}
    covered = {
        f"webhook-endpoints/{path}".replace("{id}", "<int:pk>") for _, path, _ in OBJECT_REQUESTS
    }
    assert routes == {"webhook-endpoints", *covered}


@pytest.mark.parametrize(("method", "path", "body"), OBJECT_REQUESTS)
def test_another_merchants_key_gets_404_and_nothing_changes(api_b, endpoint_a, method, path, body):
    # given
    before = snapshot()

    # when
    url = f"{LIST}/{path.format(id=endpoint_a.pk)}"
    response = getattr(api_b, method)(url, body, format="json")

    # then
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert snapshot() == before


def test_another_merchants_list_shows_none_of_them(api_b, endpoint_a):
    assert api_b.get(LIST).json()["results"] == []


WRITES = [
    ("post", "", BODY),
    ("patch", "/{id}", {"description": "x"}),
    ("delete", "/{id}", None),
    ("post", "/{id}/rotate-secret", None),
    ("post", "/{id}/send-test", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_read_only_key_may_not_write(api_a_read, endpoint_a, method, path, body):
    # given
    before = snapshot()

    # when
    url = LIST + path.format(id=endpoint_a.pk)
    response = getattr(api_a_read, method)(url, body, format="json")

    # then
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert snapshot() == before


@pytest.mark.parametrize("path", ["", "/{id}", "/{id}/deliveries"])
def test_a_read_only_key_may_read(api_a_read, endpoint_a, path):
    response = api_a_read.get(LIST + path.format(id=endpoint_a.pk))

    assert response.status_code == 200


def test_no_key_answers_401(client, endpoint_a):
    response = client.get(LIST)

    assert response.status_code == 401
    assert WebhookEndpoint.unscoped.count() == 1


def test_the_routes_are_named_in_the_api_namespace(endpoint_a):
    assert reverse("api:webhook-endpoint-list") == LIST
    assert reverse("api:webhook-endpoint-detail", kwargs={"pk": 5}) == f"{LIST}/5"
