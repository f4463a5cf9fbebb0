"""A fulfillment the store cancelled: its shipment is voided, so the items can ship again and
later order updates still apply; a fulfillment the order cannot take yet never holds the order
change back, and is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.models import InboundDelivery
from connectors.processing import inbound_delivery_sweep
from orders.models import Order, Shipment, ShipmentLine
from postpurchase.events.models import Event
from tests.connectors import payloads
from tests.connectors.conftest import deliveries

ORDER_ID = str(payloads.ORDER_ID)
FIRST = str(payloads.FULFILLMENT_ID)
SECOND_ID = 255858047
SECOND = str(SECOND_ID)


def second_fulfillment(**changes) -> dict:
    return payloads.fulfillment(
        id=SECOND_ID,
        tracking_number="1ZNEW",
        tracking_numbers=["1ZNEW"],
        created_at="2026-03-02T11:00:00-05:00",
        updated_at="2026-03-02T11:00:00-05:00",
        **changes,
    )


def shipments() -> list[tuple]:
    return list(
        Shipment.unscoped.order_by("id").values_list("external_id", "status", "tracking_number")
    )


def statuses() -> list[tuple]:
    return [(row[2], row[4], row[6]) for row in deliveries()]


def test_a_cancelled_fulfillment_frees_its_items_for_a_new_one_and_later_updates_apply(
    shopify, connected_a
):
    # given: a fulfillment the merchant cancels (a wrong label) and fulfils again
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    cancelled = payloads.fulfillment(status="cancelled", updated_at="2026-03-02T10:00:00-05:00")
    shopify(connected_a, "fulfillments/update", cancelled, "wh-3")
    shopify(connected_a, "fulfillments/create", second_fulfillment(), "wh-4")
    # when: Shopify's orders/updated carries both fulfillments and the order's cancellation
    later = payloads.order(
        updated_at="2026-03-03T07:00:00-05:00",
        cancelled_at="2026-03-03T07:00:00-05:00",
        cancel_reason="customer",
        fulfillment_status="fulfilled",
        fulfillments=[payloads.fulfillment(status="cancelled"), second_fulfillment()],
    )
    shopify(connected_a, "orders/updated", later, "wh-5")
    # then
    assert statuses() == [
        ("wh-1", "processed", ""),
        ("wh-2", "processed", ""),
        ("wh-3", "processed", "Fulfillment is cancelled: its shipment is voided."),
        ("wh-4", "processed", ""),
        ("wh-5", "processed", ""),
    ]
    assert shipments() == [(SECOND, "in_transit", "1ZNEW")]
    assert list(ShipmentLine.unscoped.values_list("shipment__external_id", "quantity")) == [
        (SECOND, 2)
    ]
    order = Order.unscoped.get()
    assert (order.cancelled_at, order.cancel_reason, order.fulfillment_status) == (
        datetime(2026, 3, 3, 12, 0, tzinfo=UTC),
        "customer",
        "fulfilled",
    )
    voids = Event.unscoped.filter(type="shipment.cancelled")
    assert list(voids.values_list("dedupe_key", "payload__external_id", "source")) == [
        (f"shipment.cancelled:{FIRST}", FIRST, "tracking")
    ]


def test_voiding_lowers_the_order_to_what_its_other_shipments_carry(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    fulfilled = Order.unscoped.get().fulfillment_status
    # when
    shopify(connected_a, "fulfillments/update", payloads.fulfillment(status="error"), "wh-3")
    # then
    assert (fulfilled, Order.unscoped.get().fulfillment_status) == ("fulfilled", "unfulfilled")
    assert Shipment.unscoped.count() == 0
    assert Event.unscoped.get(type="shipment.cancelled").payload == {
        "shipment_id": Event.unscoped.get(type="shipment.created").payload["shipment_id"],
        "external_id": FIRST,
        "order_id": Order.unscoped.get().pk,
        "order_external_id": ORDER_ID,
        "order_number": "#1001",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": "https://www.ups.com/WebTracking?trackNums=1Z999AA10123456784",
        "status": "in_transit",
        "substatus": "",
        "estimated_delivery": None,
        "order_fulfillment_status": "unfulfilled",
    }


def test_a_late_re_delivery_of_a_cancelled_fulfillment_does_not_bring_it_back(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    shopify(connected_a, "fulfillments/update", payloads.fulfillment(status="cancelled"), "wh-3")
    # when: an update of the first fulfillment sent before its cancellation arrives late
    late = payloads.fulfillment(shipment_status="confirmed", updated_at="2026-03-02T09:10:00-05:00")
    shopify(connected_a, "fulfillments/update", late, "wh-2-again")
    # then
    assert Shipment.unscoped.count() == 0
    assert statuses()[-1] == ("wh-2-again", "ignored", f"Fulfillment {FIRST} was cancelled.")


def test_a_new_fulfillment_before_the_cancellation_of_the_old_one_is_retried_until_it_fits(
    shopify, connected_a
):
    # given: the new fulfillment of the same items arrives before the old one's cancellation
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    shopify(connected_a, "fulfillments/create", second_fulfillment(), "wh-3")
    early = InboundDelivery.unscoped.get(delivery_id="wh-3")
    # when: the cancellation arrives, then the sweep runs the retry once it is due
    shopify(connected_a, "fulfillments/update", payloads.fulfillment(status="cancelled"), "wh-4")
    swept = inbound_delivery_sweep(now=early.next_attempt_at + timedelta(seconds=1))
    # then
    assert (early.status, early.attempts, early.last_error) == (
        "failed",
        1,
        f"Line '{payloads.LINE_ID}' has only 0 left to ship.",
    )
    assert swept == [early.pk]
    assert statuses()[2] == ("wh-3", "processed", "")
    assert shipments() == [(SECOND, "in_transit", "1ZNEW")]


def test_a_fulfillment_the_order_cannot_take_yet_does_not_hold_the_order_change_back(
    shopify, connected_a
):
    # given
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # when: the order is cancelled, and carries a fulfillment of a line it does not list yet
    stray = second_fulfillment(line_items=[{"id": 999, "quantity": 1}])
    later = payloads.order(
        updated_at="2026-03-03T07:00:00-05:00",
        cancelled_at="2026-03-03T07:00:00-05:00",
        cancel_reason="customer",
        fulfillments=[stray],
    )
    shopify(connected_a, "orders/updated", later, "wh-2")
    # then: the order change is kept, the fulfillment's error is recorded and will be retried
    assert Order.unscoped.get().cancelled_at == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    assert Shipment.unscoped.count() == 0
    assert statuses()[1] == (
        "wh-2",
        "failed",
        f"Order #1001 applied; Fulfillment {SECOND}: Order #1001 has no line '999'.",
    )
    delivery = InboundDelivery.unscoped.get(delivery_id="wh-2")
    assert (delivery.attempts, delivery.next_attempt_at is not None) == (1, True)


def test_an_order_edit_removing_the_lines_of_a_cancelled_fulfillment_applies(shopify, connected_a):
    # given: a fulfillment of the shoe, cancelled
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    # when: one orders/updated says the fulfillment is cancelled and the shoe is swapped
    sock = {**payloads.order()["line_items"][0], "id": 1, "title": "Sock", "sku": "SK-1"}
    edited = payloads.order(
        updated_at="2026-03-03T07:00:00-05:00",
        line_items=[sock],
        fulfillments=[payloads.fulfillment(status="cancelled")],
    )
    shopify(connected_a, "orders/updated", edited, "wh-3")
    # then
    assert statuses()[2] == ("wh-3", "processed", "")
    assert list(Order.unscoped.get().lines.values_list("external_id", "title")) == [("1", "Sock")]
    assert Shipment.unscoped.count() == 0
