"""A merchant in Los Angeles (daylight saving starts on 2026-03-08 there) and shipments in any
state, written as the shipments' services would leave them."""

from __future__ import annotations

from datetime import datetime

import pytest

from orders.models import Shipment
from tests.factories import MerchantFactory, OrderFactory


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
        return Shipment.unscoped.create(
            merchant=merchant,
            order=order,
            external_id=f"ful-{merchant.slug}-{n}",
            carrier="UPS",
            tracking_number=f"1Z{n:08d}",
            status=status,
            created_at=created_at,
            updated_at=created_at,
            **fields,
        )

    return make
