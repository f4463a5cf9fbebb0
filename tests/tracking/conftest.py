"""A merchant in Los Angeles (daylight saving starts on 2026-03-08 there) and shipments in any
state, written as the shipments' services would leave them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from orders.models import Shipment
from tests.factories import MerchantFactory, OrderFactory
from tracking.models import DelayIncident, ShipmentPageViews


@pytest.fixture
def merchant_la(db):
    return MerchantFactory(
        slug="lima", name="Lima Lamps", timezone="America/Los_Angeles", currency="USD"
    )


@pytest.fixture
def shipment_of():
    """``shipment_of(merchant, status=…, created_at=…, status_changed_at=…, …)`` → a shipment of
    a new order of ``merchant``."""
    counter = iter(range(1, 10_000))

    def make(merchant, *, status: str, created_at: datetime, **fields) -> Shipment:
        n = next(counter)
        order = OrderFactory(
            merchant=merchant, placed_at=created_at, fulfillment_status="fulfilled"
        )
        fields.setdefault("carrier", "UPS")
        return Shipment.unscoped.create(
            merchant=merchant,
            order=order,
            external_id=f"ful-{merchant.slug}-{n}",
            tracking_number=f"1Z{n:08d}",
            status=status,
            created_at=created_at,
            updated_at=created_at,
            **fields,
        )

    return make


@pytest.fixture
def incident_of():
    """``incident_of(shipment_or_order, reason, delayed_at=…, since=…, resolved=False)`` → an
    incident as the scan would have raised it (an order's when given an order)."""

    def make(of, reason: str, *, delayed_at: datetime, since: datetime | None = None, **fields):
        shipment = of if isinstance(of, Shipment) else None
        order = shipment.order if shipment is not None else of
        return DelayIncident.unscoped.create(
            merchant=order.merchant,
            order=order,
            shipment=shipment,
            reason=reason,
            since=since or delayed_at,
            delayed_at=delayed_at,
            detected_at=delayed_at,
            **fields,
        )

    return make


@pytest.fixture
def page_views():
    """``page_views(shipment, day, views)``: the shopper's page views of ``shipment`` on ``day``."""

    def make(shipment: Shipment, day: date, views: int) -> ShipmentPageViews:
        return ShipmentPageViews.unscoped.create(
            merchant=shipment.merchant,
            shipment=shipment,
            day=day,
            views=views,
            last_viewed_at=datetime.combine(day, time(12), tzinfo=UTC),
        )

    return make
