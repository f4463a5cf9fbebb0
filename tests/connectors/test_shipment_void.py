"""``orders.voids.shipment_void``: the shipment goes with its lines and scans, the order's
fulfillment follows what is left, and ``shipment.cancelled`` is recorded once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orders.models import Order, Shipment, ShipmentLine, TrackingEvent
from orders.services import order_ingest, shipment_ingest
from orders.voids import shipment_void, shipment_voided
from postpurchase.events.models import Event

NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def order(merchant) -> Order:
    payload = {
        "external_id": "o-1",
        "number": "#1",
        "placed_at": "2026-03-01T12:00:00Z",
        "currency": "USD",
        "subtotal": "30.00",
        "total": "30.00",
        "customer": {"email": "jon@example.com"},
        "lines": [
            {"external_id": "l-1", "title": "Shoe", "quantity": 2, "unit_price": "10.00"},
            {"external_id": "l-2", "title": "Sock", "quantity": 1, "unit_price": "10.00"},
        ],
    }
    return order_ingest(merchant=merchant, payload=payload, now=NOW).instance


def ship(merchant, external_id: str, lines: list[tuple[str, int]], **extra) -> Shipment:
    payload = {
        "external_id": external_id,
        "order_external_id": "o-1",
        "tracking_number": f"T-{external_id}",
        "lines": [{"line_external_id": line, "quantity": q} for line, q in lines],
        **extra,
    }
    return shipment_ingest(merchant=merchant, payload=payload, now=NOW).instance


@pytest.fixture
def two_parcels(merchant_a):
    """Order o-1 fully shipped in two parcels; the first has a carrier scan."""
    order(merchant_a)
    scan = {"status": "in_transit", "occurred_at": "2026-03-02T09:00:00Z", "description": "Hub"}
    ship(merchant_a, "s-1", [("l-1", 2)], checkpoints=[scan])
    ship(merchant_a, "s-2", [("l-2", 1)])
    return merchant_a


def test_void_deletes_the_shipment_its_lines_and_scans_and_lowers_the_order(two_parcels):
    # given
    before = Order.unscoped.get().fulfillment_status
    # when
    voided = shipment_void(merchant=two_parcels, shipment_external_id="s-1", now=NOW)
    # then
    assert voided.external_id == "s-1"
    assert list(Shipment.unscoped.values_list("external_id", flat=True)) == ["s-2"]
    assert list(ShipmentLine.unscoped.values_list("order_line__external_id", "quantity")) == [
        ("l-2", 1)
    ]
    assert TrackingEvent.unscoped.count() == 0
    assert (before, Order.unscoped.get().fulfillment_status) == (
        "fulfilled",
        "partially_fulfilled",
    )
    event = Event.unscoped.get(type="shipment.cancelled")
    assert (event.dedupe_key, event.occurred_at, event.customer_id) == (
        "shipment.cancelled:s-1",
        NOW,
        Order.unscoped.get().customer_id,
    )
    assert shipment_voided(merchant=two_parcels, shipment_external_id="s-1") is True


def test_the_items_of_a_voided_shipment_can_ship_again(two_parcels):
    # given
    shipment_void(merchant=two_parcels, shipment_external_id="s-1", now=NOW)
    # when
    ship(two_parcels, "s-3", [("l-1", 2)])
    # then
    assert sorted(Shipment.unscoped.values_list("external_id", flat=True)) == ["s-2", "s-3"]
    assert Order.unscoped.get().fulfillment_status == "fulfilled"


def test_a_shipment_we_do_not_hold_changes_nothing(two_parcels, merchant_b):
    # when: an unknown id, and merchant B naming merchant A's shipment
    unknown = shipment_void(merchant=two_parcels, shipment_external_id="s-9", now=NOW)
    other = shipment_void(merchant=merchant_b, shipment_external_id="s-1", now=NOW)
    # then
    assert (unknown, other) == (None, None)
    assert sorted(Shipment.unscoped.values_list("external_id", flat=True)) == ["s-1", "s-2"]
    assert Event.unscoped.filter(type="shipment.cancelled").count() == 0
    assert shipment_voided(merchant=merchant_b, shipment_external_id="s-1") is False
