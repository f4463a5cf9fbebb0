"""Each Shopify topic, from a body in Shopify's documented shape to our orders, shipments and
events, through the orders services."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from orders.models import Customer, Order, OrderLine, Shipment, ShipmentLine
from postpurchase.events.models import Event
from tests.connectors import payloads
from tests.connectors.conftest import deliveries

ORDER_ID = str(payloads.ORDER_ID)


def order_row() -> dict:
    return Order.unscoped.values(
        "external_id",
        "number",
        "placed_at",
        "currency",
        "subtotal",
        "discount",
        "shipping",
        "tax",
        "total",
        "financial_status",
        "fulfillment_status",
        "cancelled_at",
        "cancel_reason",
        "source",
        "source_updated_at",
    ).get()


def event_types() -> list[str]:
    return list(Event.unscoped.order_by("id").values_list("type", flat=True))


def test_orders_create_maps_the_order_its_customer_and_lines(shopify, connected_a):
    # when
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # then
    assert order_row() == {
        "external_id": ORDER_ID,
        "number": "#1001",
        "placed_at": datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        "currency": "USD",
        "subtotal": Decimal("70.000"),
        "discount": Decimal("10.000"),
        "shipping": Decimal("5.000"),
        "tax": Decimal("6.000"),
        "total": Decimal("81.000"),
        "financial_status": "paid",
        "fulfillment_status": "unfulfilled",
        "cancelled_at": None,
        "cancel_reason": "",
        "source": "shopify",
        "source_updated_at": datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC),
    }
    assert Customer.unscoped.values(
        "external_id",
        "email",
        "phone",
        "first_name",
        "last_name",
        "email_marketing_consent",
        "email_consent_updated_at",
        "email_consent_source",
        "sms_marketing_consent",
    ).get() == {
        "external_id": str(payloads.CUSTOMER_ID),
        "email": "jon@example.com",
        "phone": "+16135550123",
        "first_name": "Jon",
        "last_name": "Snow",
        "email_marketing_consent": True,
        "email_consent_updated_at": datetime(2026, 2, 20, 15, 0, tzinfo=UTC),
        "email_consent_source": "shopify",
        "sms_marketing_consent": False,
    }
    assert list(
        OrderLine.unscoped.values_list(
            "external_id",
            "product__external_id",
            "title",
            "sku",
            "quantity",
            "unit_price",
            "discount",
        )
    ) == [
        (
            str(payloads.LINE_ID),
            str(payloads.PRODUCT_ID),
            "Trail shoe",
            "TS-42",
            2,
            Decimal("40.000"),
            Decimal("10.000"),
        )
    ]
    assert event_types() == ["order.placed"]


def test_a_guest_order_without_a_customer_is_known_by_its_email(shopify, connected_a):
    # when
    shopify(connected_a, "orders/create", payloads.order(customer=None), "wh-1")
    # then
    assert list(Customer.unscoped.values_list("external_id", "email")) == [
        (None, "jon@example.com")
    ]


def test_a_newer_orders_updated_applies_and_a_stale_one_is_ignored(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    newer = payloads.order(
        updated_at="2026-03-01T09:00:00-05:00", financial_status="partially_paid"
    )
    shopify(connected_a, "orders/updated", newer, "wh-2")
    # when: an update older than the one applied arrives late
    stale = payloads.order(updated_at="2026-03-01T08:00:00-05:00", total_price="1.00")
    shopify(connected_a, "orders/updated", stale, "wh-3")
    # then
    row = order_row()
    assert (row["financial_status"], row["total"], row["source_updated_at"]) == (
        "partially_paid",
        Decimal("81.000"),
        datetime(2026, 3, 1, 14, 0, tzinfo=UTC),
    )
    assert [d[2:5] for d in deliveries()] == [
        ("wh-1", "orders/create", "processed"),
        ("wh-2", "orders/updated", "processed"),
        ("wh-3", "orders/updated", "ignored"),
    ]
    assert deliveries()[2][6] == (
        "Older than what we hold for order #1001 (updated_at 2026-03-01T08:00:00-05:00)."
    )
    assert event_types() == ["order.placed", "order.updated"]


def test_orders_cancelled_cancels_the_order_once(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    cancelled = payloads.order(
        updated_at="2026-03-01T08:00:01-05:00",
        cancelled_at="2026-03-01T08:00:00-05:00",
        cancel_reason="customer",
        financial_status="voided",
    )
    # when
    shopify(connected_a, "orders/cancelled", cancelled, "wh-2")
    shopify(connected_a, "orders/updated", cancelled, "wh-3")
    # then
    row = order_row()
    assert (row["cancelled_at"], row["cancel_reason"], row["financial_status"]) == (
        datetime(2026, 3, 1, 13, 0, tzinfo=UTC),
        "customer",
        "voided",
    )
    assert event_types() == ["order.placed", "order.updated", "order.cancelled"]
    assert Customer.unscoped.get().orders_count == 0


def test_fulfillments_create_makes_a_shipment_with_its_tracking(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # when
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    # then
    assert Shipment.unscoped.values(
        "external_id",
        "order__external_id",
        "carrier",
        "tracking_number",
        "tracking_url",
        "status",
        "status_changed_at",
        "shipped_at",
    ).get() == {
        "external_id": str(payloads.FULFILLMENT_ID),
        "order__external_id": ORDER_ID,
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": "https://www.ups.com/WebTracking?trackNums=1Z999AA10123456784",
        "status": "in_transit",
        "status_changed_at": datetime(2026, 3, 2, 14, 30, tzinfo=UTC),
        "shipped_at": datetime(2026, 3, 2, 14, 30, tzinfo=UTC),
    }
    assert list(ShipmentLine.unscoped.values_list("order_line__external_id", "quantity")) == [
        (str(payloads.LINE_ID), 2)
    ]
    assert order_row()["fulfillment_status"] == "fulfilled"
    assert event_types() == [
        "order.placed",
        "shipment.created",
        "shipment.in_transit",
        "order.fulfilled",
    ]


def test_fulfillments_update_moves_the_shipment_and_an_older_one_does_not(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    delivered = payloads.fulfillment(
        shipment_status="delivered", updated_at="2026-03-04T15:00:00-05:00"
    )
    older = payloads.fulfillment(
        shipment_status="out_for_delivery", updated_at="2026-03-04T09:00:00-05:00"
    )
    # when
    shopify(connected_a, "fulfillments/update", delivered, "wh-3")
    shopify(connected_a, "fulfillments/update", older, "wh-4")
    # then
    shipment = Shipment.unscoped.get()
    assert (shipment.status, shipment.delivered_at) == (
        "delivered",
        datetime(2026, 3, 4, 20, 0, tzinfo=UTC),
    )
    assert event_types()[-1] == "shipment.delivered"


def test_orders_fulfilled_also_ingests_the_fulfillments_it_carries(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    fulfilled = payloads.order(
        updated_at="2026-03-02T09:30:00-05:00",
        fulfillment_status="fulfilled",
        fulfillments=[{k: v for k, v in payloads.fulfillment().items() if k != "order_id"}],
    )
    # when
    shopify(connected_a, "orders/fulfilled", fulfilled, "wh-2")
    # then
    assert order_row()["fulfillment_status"] == "fulfilled"
    assert list(Shipment.unscoped.values_list("external_id", "status", "tracking_number")) == [
        (str(payloads.FULFILLMENT_ID), "in_transit", "1Z999AA10123456784")
    ]
    assert event_types() == [
        "order.placed",
        "order.updated",
        "order.fulfilled",
        "shipment.created",
        "shipment.in_transit",
    ]


def test_a_cancelled_fulfillment_is_ignored(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # when
    shopify(connected_a, "fulfillments/update", payloads.fulfillment(status="cancelled"), "wh-2")
    # then
    assert Shipment.unscoped.count() == 0
    assert deliveries()[1][4:] == ("ignored", 1, "Fulfillment is cancelled.")


def test_refunds_create_records_the_refund_and_follows_with_the_financial_status(
    shopify, connected_a
):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # when: 38.00 of 81.00, then the rest
    shopify(connected_a, "refunds/create", payloads.refund(), "wh-2")
    partially = order_row()["financial_status"]
    rest = payloads.refund(id=509562970, refund_line_items=[])
    rest["transactions"][0]["amount"] = "43.00"
    shopify(connected_a, "refunds/create", rest, "wh-3")
    # then
    assert (partially, order_row()["financial_status"]) == ("partially_refunded", "refunded")
    refunds = Event.unscoped.filter(type="order.refunded").order_by("id")
    first = refunds[0]
    assert (first.dedupe_key, first.occurred_at, first.customer.external_id) == (
        f"order.refunded:{payloads.REFUND_ID}",
        datetime(2026, 3, 5, 15, 0, tzinfo=UTC),
        str(payloads.CUSTOMER_ID),
    )
    assert first.payload == {
        "order_id": Order.unscoped.get().pk,
        "external_id": ORDER_ID,
        "number": "#1001",
        "currency": "USD",
        "refund_id": str(payloads.REFUND_ID),
        "amount": "38.00",
        "lines": [{"line_external_id": str(payloads.LINE_ID), "quantity": 1, "subtotal": "35.0"}],
    }
    assert [e.payload["amount"] for e in refunds] == ["38.00", "43.00"]
    assert event_types() == [
        "order.placed",
        "order.refunded",
        "order.updated",
        "order.refunded",
        "order.updated",
    ]


def test_the_same_refund_in_another_delivery_is_recorded_once(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "refunds/create", payloads.refund(), "wh-2")
    # when: the refund comes again under a new webhook id, in another body (a subscription on
    # a newer API version, which adds a field); the very same body would be a duplicate delivery
    shopify(connected_a, "refunds/create", payloads.refund(**{"return": None}), "wh-3")
    # then
    assert Event.unscoped.filter(type="order.refunded").count() == 1
    assert deliveries()[2][4:] == (
        "ignored",
        1,
        f"Refund {payloads.REFUND_ID} is already recorded.",
    )


def test_a_payload_the_services_refuse_fails_the_delivery_and_writes_nothing(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    before = (order_row(), list(Customer.unscoped.values()), Event.unscoped.count())
    # when: an update renames the customer and drops the line that has shipped
    changed = payloads.order(
        updated_at="2026-03-03T09:00:00-05:00",
        customer=payloads.customer(first_name="Aegon"),
        line_items=[{**payloads.order()["line_items"][0], "id": 1}],
    )
    shopify(connected_a, "orders/updated", changed, "wh-3")
    # then
    assert deliveries()[2][4:] == (
        "failed",
        1,
        f"Line '{payloads.LINE_ID}' has been shipped, so it cannot be removed from the order.",
    )
    assert (order_row(), list(Customer.unscoped.values()), Event.unscoped.count()) == before
    assert Customer.unscoped.get().first_name == "Jon"


def test_an_invalid_amount_fails_the_delivery_with_the_field_named(shopify, connected_a):
    # when
    shopify(connected_a, "orders/create", payloads.order(total_price="-5.00"), "wh-1")
    # then
    assert deliveries()[0][4:] == ("failed", 1, "total: Input should be greater than or equal to 0")
    assert Order.unscoped.count() == 0


def test_an_order_without_protected_customer_fields_keeps_the_contact_details_we_hold(
    shopify, connected_a
):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # when: a later update from an app without protected customer data access
    customer = payloads.customer(phone=None)
    del customer["email"], customer["first_name"], customer["last_name"]
    later = payloads.order(
        updated_at="2026-03-02T07:00:00-05:00", customer=customer, email=None, contact_email=None
    )
    shopify(connected_a, "orders/updated", later, "wh-2")
    # then
    assert deliveries()[1][4:] == ("processed", 1, "")
    assert Customer.unscoped.values_list("email", "phone", "first_name", "last_name").get() == (
        "jon@example.com",
        "+16135550123",
        "Jon",
        "Snow",
    )
