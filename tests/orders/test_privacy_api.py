"""The integrator API's doors to a customer's erasure and export: a write key erases (200 with
what changed, zeros the second time), a read key may not, the export is everything every app
holds, and an Idempotency-Key replays the first answer."""

from __future__ import annotations

import pytest

from orders.models import Customer
from postpurchase.events.models import Event
from tests.factories import order_payload

pytestmark = pytest.mark.django_db

NOTHING = {
    "customers": 0,
    "events": 0,
    "shipping_addresses": 0,
    "tracking_events": 0,
    "api_responses": 0,
    "enrollments": 0,
    "messages": 0,
    "preferences": 0,
    "deliveries": 0,
    "webhook_deliveries": 0,
    "tracking_subscriptions": 0,
    "claims": 0,
    "claim_photos": 0,
}


@pytest.fixture
def ada(api_a):
    response = api_a.post("/api/v1/orders", order_payload(), format="json")
    assert response.status_code == 201, response.content
    return Customer.unscoped.get(external_id="cust-1")


def test_erase_answers_what_changed_and_a_second_call_answers_zeros(api_a, ada):
    # when
    first = api_a.post(f"/api/v1/customers/{ada.pk}/erase")
    second = api_a.post(f"/api/v1/customers/{ada.pk}/erase")

    # then
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"customer_id": ada.pk, "erased": {**NOTHING, "customers": 1}}
    assert second.json() == {"customer_id": ada.pk, "erased": NOTHING}
    assert Customer.unscoped.values_list("email", "first_name", "last_name", "external_id").get(
        pk=ada.pk
    ) == ("", "", "", "cust-1")
    assert list(
        Event.unscoped.filter(type="customer.redacted").values_list("source", "payload")
    ) == [("api", {"customer_id": ada.pk})]
    listed = api_a.get(f"/api/v1/customers/{ada.pk}").json()
    assert (listed["email"], listed["first_name"]) == ("", "")


def test_a_read_key_may_export_but_not_erase(api_a_read, ada):
    # when
    erase = api_a_read.post(f"/api/v1/customers/{ada.pk}/erase")
    export = api_a_read.get(f"/api/v1/customers/{ada.pk}/export")

    # then
    assert erase.status_code == 403
    assert erase.json()["code"] == "insufficient_scope"
    assert Customer.unscoped.get(pk=ada.pk).email == "ada@example.net"
    assert Event.unscoped.filter(type="customer.redacted").count() == 0
    assert export.status_code == 200


def test_export_is_everything_every_app_holds(api_a, merchant_a, ada):
    # when
    response = api_a.get(f"/api/v1/customers/{ada.pk}/export")

    # then
    assert response.status_code == 200
    export = response.json()
    assert export["merchant"] == {"name": merchant_a.name, "slug": merchant_a.slug}
    assert [(c["external_id"], c["email"]) for c in export["customers"]] == [
        ("cust-1", "ada@example.net")
    ]
    assert [(o["external_id"], o["total"]) for o in export["orders"]] == [("ord-1001", "85.00")]
    assert [e["type"] for e in export["events"]] == ["order.placed"]
    assert (export["messages"], export["journeys"], export["suppressions"]) == ([], [], [])


def test_an_idempotency_key_replays_the_first_erasure(api_a, ada):
    # given
    headers = {"Idempotency-Key": "erase-ada"}
    first = api_a.post(f"/api/v1/customers/{ada.pk}/erase", headers=headers)

    # when
    replay = api_a.post(f"/api/v1/customers/{ada.pk}/erase", headers=headers)

    # then
    assert replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert replay.json()["erased"]["customers"] == 1


def test_an_unknown_customer_answers_404(api_a):
    for response in (
        api_a.post("/api/v1/customers/999999/erase"),
        api_a.get("/api/v1/customers/999999/export"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
