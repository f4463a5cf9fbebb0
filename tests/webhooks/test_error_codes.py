"""Webhook endpoints are refused with webhooks' own codes (issue 12, part 9): what a program can
act on (no types, too many, a field that cannot change, a disabled endpoint) has its own code;
a malformed type list stays ``invalid``. Statuses are what they were: 400, and 409 for the
disabled endpoint (it was ``conflict``)."""

from __future__ import annotations

import pytest

from postpurchase.errors import DomainError
from tests.webhooks.conftest import T0
from webhooks.event_types import MAX_TYPES, event_types_clean
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_endpoint_update

pytestmark = pytest.mark.usefixtures("dns")

LIST = "/api/v1/webhook-endpoints"
MANY = [f"app.event_{n}" for n in range(MAX_TYPES + 1)]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "no_event_types"),
        ([], "no_event_types"),
        ("order.placed", "invalid"),  # a text, not a list
        ({"order.placed": True}, "invalid"),
        (["Order Placed"], "invalid"),
        (["*", "order.placed"], "invalid"),
        (MANY, "too_many_event_types"),
    ],
    ids=["null", "empty", "text", "object", "malformed", "all-and-more", "too-many"],
)
def test_a_subscription_list_is_refused_with_its_code_on_event_types(value, code):
    with pytest.raises(DomainError) as refused:
        event_types_clean(value)

    assert (refused.value.code, list(refused.value.fields)) == (code, ["event_types"])


def test_a_field_that_cannot_change_is_not_updatable_and_nothing_changes(merchant_a, in_a):
    # given
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url="https://a.example/hook", event_types=["*"], now=T0
    )

    # when
    with pytest.raises(DomainError) as refused:
        webhook_endpoint_update(endpoint=endpoint, data={"secret": "mine", "description": "x"})

    # then
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "not_updatable",
        "secret",
        "'secret' cannot be changed.",
    )
    assert WebhookEndpoint.unscoped.get().description == ""


def test_the_api_answers_too_many_event_types_on_the_field(api_a):
    # when
    response = api_a.post(
        LIST, {"url": "https://hooks.example/in", "event_types": MANY}, format="json"
    )

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_event_types"
    assert response.json()["errors"] == {
        "event_types": [
            {
                "code": "too_many_event_types",
                "message": f'Subscribe to at most {MAX_TYPES} event types, or to all with "*".',
            }
        ]
    }
    assert WebhookEndpoint.unscoped.count() == 0


def test_a_test_event_to_a_disabled_endpoint_is_endpoint_disabled(api_a, merchant_a):
    # given
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url="https://a.example/hook", event_types=["*"], now=T0
    )
    api_a.patch(f"{LIST}/{endpoint.pk}", {"enabled": False}, format="json")

    # when
    response = api_a.post(f"{LIST}/{endpoint.pk}/send-test")

    # then
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["title"]) == (
        "endpoint_disabled",
        "Endpoint disabled",
    )
    assert response.json()["detail"] == "Enable the endpoint to send it a test event."
    assert WebhookDelivery.unscoped.count() == 0
