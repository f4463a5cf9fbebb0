"""Fixtures of the shopper shell's tests: an order of merchant A (and one of B) a shopper can
look up and open, with a parcel."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from orders.models import Shipment, ShipmentStatus
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory


def make_order(merchant, *, number, email, first_name="Ada", postal_code=""):
    customer = CustomerFactory(merchant=merchant, email=email, first_name=first_name)
    address = {"name": f"{first_name} Lovelace", "city": "London", "postal_code": postal_code}
    order = OrderFactory(
        merchant=merchant,
        customer=customer,
        number=number,
        shipping_address=address if postal_code else {},
        currency="USD",
        subtotal=Decimal("80.00"),
        shipping=Decimal("5.00"),
        total=Decimal("85.00"),
        fulfillment_status="fulfilled",
    )
    OrderLineFactory(
        order=order, title="Trail shoe", quantity=2, unit_price=Decimal("40.00"), position=0
    )
    Shipment.unscoped.create(
        merchant=merchant,
        order=order,
        external_id=f"shp-{number}",
        carrier="UPS",
        tracking_number="1Z999AA10123456784",
        tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
        status=ShipmentStatus.IN_TRANSIT,
        estimated_delivery=date(2026, 3, 5),
        shipped_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    )
    return order


@pytest.fixture
def order_a(merchant_a):
    return make_order(
        merchant_a, number="#1001", email="Ada.Lovelace@example.net", postal_code="SW1A 1AA"
    )


@pytest.fixture
def order_b(merchant_b):
    return make_order(merchant_b, number="#2001", email="bo@example.org", first_name="Bo")


def without_csrf(content: bytes) -> bytes:
    """A page's bytes less its CSRF token, which is masked anew on every response."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)
