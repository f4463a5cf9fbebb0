"""Shopify's privacy topics: the data request's export, a customer's erasure that keeps the
anonymous figures, and the shop's erasure that also switches the connection off."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.models import InboundConfig, InboundDelivery, PrivacyRequest
from orders.models import Customer, Order, OrderLine
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from tests.connectors import payloads
from tests.connectors.conftest import SHOPIFY_SECRET_A, deliveries, shopify_post, tracking_post
from tests.factories import CustomerFactory

ORDER_ID = str(payloads.ORDER_ID)
CUSTOMER_ID = str(payloads.CUSTOMER_ID)


@pytest.fixture
def jon(shopify, client, eager, connected_a):
    """Jon's order, its parcel with one carrier checkpoint, and an integrator's custom event
    about him holding personal data."""
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    tracking = payloads.tracking(status="InTransit", estimated_delivery="2026-03-05")
    tracking["checkpoints"] = tracking["checkpoints"][:1]
    with eager():
        tracking_post(client, "alpha", tracking, secret=connected_a.tracking_secret)
    customer = Customer.unscoped.get(external_id=CUSTOMER_ID)
    event_record(
        merchant=connected_a,
        type="product.setup_completed",
        customer=customer,
        payload={
            "email": "jon@example.com",
            "note": "Call Jon Snow at +16135550123",
            "plan": "gold",
            "contact": {"name": "Jon", "city": "Ottawa"},
        },
        occurred_at=datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
        source="api",
    )
    return customer


def order_update_received(client) -> None:
    """A Shopify update of Jon's order, received (its task is the caller's to hold back)."""
    shopify_post(
        client,
        "alpha",
        "orders/updated",
        payloads.order(updated_at="2026-03-01T09:00:00-05:00"),
        webhook_id="wh-wait",
        secret=SHOPIFY_SECRET_A,
    )


def test_data_request_builds_the_export_of_everything_we_hold(shopify, connected_a, jon):
    # when
    shopify(connected_a, "customers/data_request", payloads.data_request(), "wh-dr")
    # then
    request = PrivacyRequest.unscoped.get()
    assert (request.kind, request.external_id, request.customer_external_id) == (
        "customers/data_request",
        "9999",
        CUSTOMER_ID,
    )
    assert request.summary == {
        "customers": 1,
        "orders": 1,
        "events": 5,
        "journeys": 0,
        "messages": 0,
        "muted_topics": 0,
        "suppressions": 0,
        "tracking_subscriptions": 0,
        "claims": 0,
    }
    jon.refresh_from_db()
    events = Event.unscoped.filter(customer=jon).order_by("occurred_at", "id")
    assert request.export == {
        "merchant": {"name": "Alpha Apparel", "slug": "alpha"},
        "customers": [
            {
                "external_id": CUSTOMER_ID,
                "email": "jon@example.com",
                "phone": "+16135550123",
                "first_name": "Jon",
                "last_name": "Snow",
                "timezone": "",
                "locale": "",
                "birthday": None,
                "tags": [],
                "email_marketing_consent": True,
                "email_consent_updated_at": "2026-02-20T15:00:00+00:00",
                "email_consent_source": "shopify",
                "sms_marketing_consent": False,
                "sms_consent_updated_at": "2026-02-20T15:00:00+00:00",
                "sms_consent_source": "shopify",
                "orders_count": 1,
                "total_spent": "81.00",
                "first_order_at": "2026-03-01T12:00:00+00:00",
                "last_order_at": "2026-03-01T12:00:00+00:00",
                "created_at": jon.created_at.isoformat(),
            }
        ],
        "orders": [
            {
                "external_id": ORDER_ID,
                "number": "#1001",
                "placed_at": "2026-03-01T12:00:00+00:00",
                "currency": "USD",
                "subtotal": "70.00",
                "discount": "10.00",
                "shipping": "5.00",
                "tax": "6.00",
                "total": "81.00",
                "financial_status": "paid",
                "fulfillment_status": "fulfilled",
                "cancelled_at": None,
                "shipping_address": {
                    "name": "Jon Snow",
                    "company": "",
                    "address1": "1 Wall Street",
                    "address2": "",
                    "city": "Ottawa",
                    "province_code": "ON",
                    "postal_code": "K1A 0B1",
                    "country_code": "CA",
                    "phone": "",
                },
                "lines": [
                    {
                        "external_id": str(payloads.LINE_ID),
                        "title": "Trail shoe",
                        "sku": "TS-42",
                        "quantity": 2,
                        "unit_price": "40.00",
                        "discount": "10.00",
                    }
                ],
                "shipments": [
                    {
                        "external_id": str(payloads.FULFILLMENT_ID),
                        "carrier": "UPS",
                        "tracking_number": "1Z999AA10123456784",
                        "tracking_url": "https://www.ups.com/WebTracking?trackNums=1Z999AA10123456784",
                        "status": "in_transit",
                        "estimated_delivery": "2026-03-05",
                        "shipped_at": "2026-03-02T14:30:00+00:00",
                        "delivered_at": None,
                        "tracking_events": [
                            {
                                "status": "in_transit",
                                "description": "Arrived at facility",
                                "location": "Ottawa, ON",
                                "occurred_at": "2026-03-03T06:10:00+00:00",
                            }
                        ],
                    }
                ],
            }
        ],
        "events": [
            {
                "type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "source": event.source,
                "payload": event.payload,
            }
            for event in events
        ],
        "journeys": [],
        "messages": [],
        "muted_topics": [],
        "suppressions": [],
        "tracking_subscriptions": [],
        "claims": [],
    }
    assert [(e["type"], e["source"]) for e in request.export["events"]] == [
        ("order.placed", "shopify"),
        ("shipment.created", "tracking"),
        ("shipment.in_transit", "tracking"),
        ("product.setup_completed", "api"),
        ("order.fulfilled", "tracking"),  # dated when we learnt of it, today
    ]
    assert request.export["events"][3]["payload"] == {
        "email": "jon@example.com",
        "note": "Call Jon Snow at +16135550123",
        "plan": "gold",
        "contact": {"name": "Jon", "city": "Ottawa"},
    }
    assert deliveries()[-1][2:6] == ("wh-dr", "customers/data_request", "processed", 1)


def test_data_request_for_a_customer_we_do_not_hold_gives_an_empty_export(shopify, connected_a):
    # when
    shopify(connected_a, "customers/data_request", payloads.data_request(), "wh-dr")
    # then
    request = PrivacyRequest.unscoped.get()
    assert request.export == {
        "merchant": {"name": "Alpha Apparel", "slug": "alpha"},
        "customers": [],
        "orders": [],
        "events": [],
        "journeys": [],
        "messages": [],
        "muted_topics": [],
        "suppressions": [],
        "tracking_subscriptions": [],
        "claims": [],
    }
    assert deliveries()[0][4:] == ("processed", 1, "Export ready: 0 customer(s), 0 order(s).")


def test_customer_redact_erases_personal_data_and_keeps_the_order_figures(
    shopify, connected_a, jon
):
    # given: an earlier data request whose export holds Jon's data
    shopify(connected_a, "customers/data_request", payloads.data_request(), "wh-dr")
    other = CustomerFactory(merchant=connected_a, email="arya@example.com", first_name="Arya")
    order_before = Order.unscoped.values("subtotal", "discount", "shipping", "tax", "total").get()
    # when
    shopify(connected_a, "customers/redact", payloads.customer_redact(), "wh-rd")
    # then: the person is gone
    assert Customer.unscoped.values(
        "external_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "birthday",
        "email_marketing_consent",
        "email_consent_source",
        "email_consent_updated_at",
        "sms_consent_source",
        "orders_count",
        "total_spent",
    ).get(pk=jon.pk) == {
        "external_id": CUSTOMER_ID,
        "email": "",
        "phone": "",
        "first_name": "",
        "last_name": "",
        "birthday": None,
        "email_marketing_consent": False,
        "email_consent_source": "",
        "email_consent_updated_at": None,
        "sms_consent_source": "",
        "orders_count": 1,
        "total_spent": Decimal("81.000"),
    }
    custom = Event.unscoped.get(type="product.setup_completed")
    assert custom.payload == {
        "email": "[redacted]",
        "note": "[redacted]",
        "plan": "gold",
        "contact": {"name": "[redacted]", "city": "Ottawa"},
    }
    # the anonymous figures stay
    order = Order.unscoped.get()
    assert order.customer_id == jon.pk
    assert Order.unscoped.values("subtotal", "discount", "shipping", "tax", "total").get() == (
        order_before
    )
    assert list(OrderLine.unscoped.values_list("quantity", "unit_price")) == [
        (2, Decimal("40.000"))
    ]
    # what the webhooks brought is erased too, and the earlier export with it
    bodies = dict(InboundDelivery.unscoped.values_list("delivery_id", "body"))
    assert bodies["wh-1"] == bodies["wh-2"] == bodies["wh-dr"] == {"redacted": True}
    assert bodies["wh-rd"] == {
        "shop_id": 954889,
        "customer": {"id": CUSTOMER_ID},
        "orders_to_redact": [payloads.ORDER_ID],
    }
    assert PrivacyRequest.unscoped.get(kind="customers/data_request").export is None
    redact = PrivacyRequest.unscoped.get(kind="customers/redact")
    assert (redact.customer_external_id, redact.summary) == (
        CUSTOMER_ID,
        {
            "customers": 1,
            "events": 1,
            "shipping_addresses": 1,
            "tracking_events": 1,
            "deliveries": 4,
            "api_responses": 0,
            "messages": 0,
            "preferences": 0,
            "enrollments": 0,
            "webhook_deliveries": 0,
            "tracking_subscriptions": 0,
            "claims": 0,
            "claim_photos": 0,
        },
    )
    assert list(
        Event.unscoped.filter(type="customer.redacted").values_list("customer", "payload")
    ) == [(jon.pk, {"customer_id": jon.pk})]
    # and nobody else is touched
    other.refresh_from_db()
    assert (other.email, other.first_name) == ("arya@example.com", "Arya")


def test_shop_redact_erases_every_shopify_customer_and_switches_the_connection_off(
    shopify, client, connected_a, jon
):
    # given: Arya came through the API, not from Shopify
    other = CustomerFactory(merchant=connected_a, email="arya@example.com", first_name="Arya")
    # when
    shopify(connected_a, "shop/redact", payloads.shop_redact(), "wh-sr")
    # then
    assert list(
        Customer.unscoped.order_by("id").values_list("email", "first_name", "last_name")
    ) == [("", "", ""), ("arya@example.com", "Arya", other.last_name)]
    assert Order.unscoped.get().total == Decimal("81.000")
    config = InboundConfig.unscoped.get(merchant=connected_a)
    assert (config.shopify_secret, config.shopify_secret_hint) == ("", "")
    assert config.shopify_disconnected_at is not None
    assert PrivacyRequest.unscoped.get().summary == {
        "customers": 1,
        "events": 1,
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
    assert list(InboundDelivery.unscoped.order_by("id").values_list("delivery_id", "body")) == [
        ("wh-1", {"redacted": True}),
        ("wh-2", {"redacted": True}),
        ("trk-evt-1", {"redacted": True}),
        ("wh-sr", payloads.shop_redact()),
    ]
    assert list(Event.unscoped.filter(type="shop.redacted").values_list("payload", flat=True)) == [
        {"customers": 1}
    ]
    # the old secret no longer opens the door
    response = shopify_post(
        client,
        "alpha",
        "orders/create",
        payloads.order(),
        webhook_id="wh-9",
        secret=SHOPIFY_SECRET_A,
    )
    assert response.status_code == 401
    other.refresh_from_db()
    assert other.email == "arya@example.com"


def test_redact_processes_waiting_deliveries_first_then_drops_every_body_about_the_customer(
    shopify, client, connected_a, jon, django_capture_on_commit_callbacks
):
    # given: a delivery about Jon that failed for good, and one still waiting for its task
    bad = payloads.order(id=5, name="#1002", total_price="-1")
    shopify(connected_a, "orders/create", bad, "wh-bad")
    with django_capture_on_commit_callbacks(execute=False):
        order_update_received(client)
    # when
    shopify(connected_a, "customers/redact", payloads.customer_redact(), "wh-rd")
    # then
    rows = {
        delivery_id: (status, next_attempt_at, last_error, body)
        for delivery_id, status, next_attempt_at, last_error, body in (
            InboundDelivery.unscoped.values_list(
                "delivery_id", "status", "next_attempt_at", "last_error", "body"
            )
        )
    }
    assert rows["wh-bad"] == (
        "failed",
        None,
        "total: Input should be greater than or equal to 0",
        {"redacted": True},
    )
    assert rows["wh-wait"] == ("processed", None, "", {"redacted": True})
    assert Order.unscoped.get(external_id=ORDER_ID).source_updated_at == datetime(
        2026, 3, 1, 14, 0, tzinfo=UTC
    )


def test_redact_erases_the_export_made_for_that_store_customer_even_if_we_held_nobody(
    shopify, connected_a
):
    # given
    shopify(connected_a, "customers/data_request", payloads.data_request(), "wh-dr")
    # when
    shopify(connected_a, "customers/redact", payloads.customer_redact(), "wh-rd")
    # then
    assert list(PrivacyRequest.unscoped.order_by("id").values_list("kind", "export")) == [
        ("customers/data_request", None),
        ("customers/redact", None),
    ]
    assert PrivacyRequest.unscoped.get(kind="customers/redact").summary == {
        "customers": 0,
        "events": 0,
        "shipping_addresses": 0,
        "tracking_events": 0,
        "deliveries": 1,
        "api_responses": 0,
        "messages": 0,
        "preferences": 0,
        "enrollments": 0,
        "webhook_deliveries": 0,
        "tracking_subscriptions": 0,
        "claims": 0,
        "claim_photos": 0,
    }


def test_an_erasure_through_the_api_applies_the_store_webhooks_still_waiting_first(
    client, api_a, connected_a, jon, django_capture_on_commit_callbacks
):
    # given: an order update about Jon, received and not processed yet
    with django_capture_on_commit_callbacks(execute=False):
        order_update_received(client)

    # when: the merchant erases him through the API, not through Shopify
    response = api_a.post(f"/api/v1/customers/{jon.pk}/erase")

    # then: the update is applied, then its body dropped with the others
    assert response.status_code == 200
    assert response.json()["erased"]["deliveries"] == 4
    wait = InboundDelivery.unscoped.get(delivery_id="wh-wait")
    assert (wait.status, wait.body) == ("processed", {"redacted": True})
    assert Order.unscoped.get(external_id=ORDER_ID).source_updated_at == datetime(
        2026, 3, 1, 14, 0, tzinfo=UTC
    )
    assert Customer.unscoped.get(pk=jon.pk).email == ""
