"""What an erasure reaches beyond the customer row: the carrier scans of their parcels and the
tracking webhook bodies about them; and, for shop/redact, only the customers that came from
Shopify."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.models import InboundDelivery, PrivacyRequest
from connectors.processing import inbound_delivery_process
from orders.models import Customer, Order, TrackingEvent
from orders.services import order_ingest
from postpurchase.events.models import Event
from tests.connectors import payloads
from tests.connectors.conftest import SHOPIFY_SECRET_A, shopify_post, tracking_post

SIGNED = {
    "occurred_at": "2026-03-04T12:00:00Z",
    "status": "Delivered",
    "description": "Delivered, signed by JON SNOW",
    "location": "1 Wall Street, Ottawa K1A 0B1",
    "signed_by": "Jon Snow",
    "email": "jon@example.com",
}


@pytest.fixture
def delivered(shopify, client, eager, connected_a):
    """Jon's parcel, delivered: the carrier's scans name him and his address."""
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    body = payloads.tracking(status="Delivered", checkpoints=[SIGNED], recipient="Jon Snow")
    with eager():
        response = tracking_post(client, "alpha", body, secret=connected_a.tracking_secret)
    assert response.status_code == 200
    return connected_a


def scans() -> list[tuple]:
    return list(
        TrackingEvent.unscoped.values_list(
            "status", "occurred_at", "description", "location", "raw"
        )
    )


def test_customer_redact_empties_the_scans_of_their_parcels_and_the_tracking_bodies(
    shopify, delivered
):
    # when
    shopify(delivered, "customers/redact", payloads.customer_redact(), "wh-rd")
    # then: the status history stays, with nothing personal in it
    assert scans() == [("delivered", datetime(2026, 3, 4, 12, 0, tzinfo=UTC), "", "", {})]
    assert InboundDelivery.unscoped.get(source="tracking").body == {"redacted": True}
    assert PrivacyRequest.unscoped.get().summary == {
        "customers": 1,
        "events": 0,
        "shipping_addresses": 1,
        "tracking_events": 1,
        "deliveries": 3,
        "api_responses": 0,
        "messages": 0,
        "preferences": 0,
        "enrollments": 0,
        "webhook_deliveries": 0,
        "tracking_subscriptions": 0,
        "claims": 0,
        "claim_photos": 0,
    }


def test_scans_that_differ_only_by_their_description_become_one(shopify, client, delivered):
    # given: the carrier sent two scans at one time with one status
    twin = {**SIGNED, "description": "Left with JON at the front door"}
    body = payloads.tracking(id="trk-evt-2", status="Delivered", checkpoints=[twin])
    tracking_post(client, "alpha", body, secret=delivered.tracking_secret)
    inbound_delivery_process(
        merchant=delivered, delivery_id=InboundDelivery.unscoped.get(delivery_id="trk-evt-2").pk
    )
    assert TrackingEvent.unscoped.count() == 2
    # when
    shopify(delivered, "customers/redact", payloads.customer_redact(), "wh-rd")
    # then
    assert scans() == [("delivered", datetime(2026, 3, 4, 12, 0, tzinfo=UTC), "", "", {})]


def test_another_customers_scans_are_left_alone(shopify, delivered):
    # when: the request is about someone else
    other = payloads.customer_redact(
        customer={"id": 1, "email": "arya@example.com", "phone": None}, orders_to_redact=[]
    )
    shopify(delivered, "customers/redact", other, "wh-rd")
    # then
    assert scans()[0][2:4] == ("Delivered, signed by JON SNOW", "1 Wall Street, Ottawa K1A 0B1")
    assert InboundDelivery.unscoped.get(source="tracking").body["recipient"] == "Jon Snow"


def test_shop_redact_erases_customers_from_shopify_and_keeps_those_of_other_channels(
    shopify, delivered
):
    # given: Arya ordered through the API; Sansa's order came through the API, then Shopify
    # sent an update of it naming her as its customer
    def api_order(external_id: str, customer: dict) -> None:
        order_ingest(
            merchant=delivered,
            payload={
                "external_id": external_id,
                "number": f"#{external_id}",
                "placed_at": "2026-03-01T12:00:00Z",
                "currency": "USD",
                "subtotal": "10.00",
                "total": "10.00",
                "customer": customer,
                "lines": [
                    {"external_id": "l-1", "title": "Sock", "quantity": 1, "unit_price": "10"}
                ],
            },
            source="api",
        )

    api_order("900", {"email": "arya@example.com", "first_name": "Arya"})
    api_order("901", {"external_id": "77", "email": "sansa@example.com", "first_name": "Sansa"})
    sansa = payloads.order(
        id=901,
        name="#901",
        updated_at="2026-03-02T07:00:00-05:00",
        customer=payloads.customer(id=77, email="sansa@example.com", first_name="Sansa"),
        email="sansa@example.com",
    )
    shopify(delivered, "orders/updated", sansa, "wh-sansa")
    # when
    shopify(delivered, "shop/redact", payloads.shop_redact(), "wh-sr")
    # then
    assert list(Customer.unscoped.order_by("id").values_list("email", "first_name")) == [
        ("", ""),
        ("arya@example.com", "Arya"),
        ("", ""),
    ]
    assert scans() == [("delivered", datetime(2026, 3, 4, 12, 0, tzinfo=UTC), "", "", {})]
    bodies = InboundDelivery.unscoped.exclude(delivery_id="wh-sr").values_list("body", flat=True)
    assert list(bodies) == [{"redacted": True}] * 4


def test_a_refund_waiting_when_the_customer_is_erased_is_recorded_first(
    shopify, client, connected_a, django_capture_on_commit_callbacks
):
    # given: the refund is received, its task not run yet
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    with django_capture_on_commit_callbacks(execute=False):
        shopify_post(
            client,
            "alpha",
            "refunds/create",
            payloads.refund(),
            webhook_id="wh-2",
            secret=SHOPIFY_SECRET_A,
        )
    # when
    shopify(connected_a, "customers/redact", payloads.customer_redact(), "wh-rd")
    # then: the refund's figures are kept, its body is not
    refund = InboundDelivery.unscoped.get(delivery_id="wh-2")
    assert (refund.status, refund.attempts, refund.last_error, refund.body) == (
        "processed",
        1,
        "",
        {"redacted": True},
    )
    assert list(Event.unscoped.filter(type="order.refunded").values_list("payload__amount")) == [
        ("38.00",)
    ]
    assert Order.unscoped.get().financial_status == "partially_refunded"
