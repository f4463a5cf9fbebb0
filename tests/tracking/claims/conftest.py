"""A protected order of a merchant in Los Angeles (its calendar counts the days), with one
parcel, built through the orders engine as a store's feed would build it; and tiny valid
images for the photo checks."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime

import pytest

from orders.models import Order, Shipment
from orders.services import order_ingest, shipment_ingest
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import MerchantFactory
from tracking.claims.services import protection_settings_update

PLACED = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
SHIPPED = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 10:00 in Los Angeles (PST)
# 23:30 on 4 March in Los Angeles (PST, UTC-8): already 5 March in UTC.
DELIVERED = datetime(2026, 3, 5, 7, 30, tzinfo=UTC)
PROTECTION_SKU = "SHIP-PROTECT"


def png_bytes() -> bytes:
    """A valid 1x1 PNG, made by hand (the test needs no image library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 10, 10)).save(out, format="JPEG")
    return out.getvalue()


def order_payload(external_id="ord-1", *, protected=True, customer="cust-1", **overrides) -> dict:
    lines = [
        {
            "external_id": "shoe",
            "quantity": 2,
            "unit_price": "40.00",
            "discount": "5.00",
            "product": {"external_id": "prod-shoe", "title": "Trail shoe", "sku": "TS-1"},
        },
        {"external_id": "cap", "title": "Cap", "quantity": 1, "unit_price": "20.00"},
    ]
    if protected:
        lines.append(
            {
                "external_id": "protect",
                "title": "Shipping protection",
                "sku": PROTECTION_SKU,
                "quantity": 1,
                "unit_price": "2.50",
            }
        )
    payload = {
        "external_id": external_id,
        "number": f"#{external_id}",
        "placed_at": PLACED.isoformat(),
        "currency": "USD",
        "subtotal": "77.50",
        "total": "77.50",
        "customer": {
            "external_id": customer,
            "email": f"{customer}@example.net",
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
        "shipping_address": {
            "name": "Ada Lovelace",
            "address1": "1 Main St",
            "city": "LA",
            "postal_code": "90001",
            "country_code": "US",
        },
        "lines": lines,
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def merchant(db):
    merchant = MerchantFactory(
        slug="lima", name="Lima Lamps", timezone="America/Los_Angeles", currency="USD"
    )
    protection_settings_update(
        merchant=merchant, values={"offered": True, "protection_products": [PROTECTION_SKU]}
    )
    return merchant


@pytest.fixture
def in_merchant(merchant):
    with merchant_scope(merchant):
        yield merchant


@pytest.fixture
def parcel(merchant):
    """``parcel(order_external_id, delivered=True, checkpoints=…)`` → (order, shipment): the
    shoes (one of the two) and the cap shipped; delivered at ``DELIVERED`` by default."""

    def make(external_id="ord-1", *, delivered=True, checkpoints=None, **order_overrides):
        order_ingest(
            merchant=merchant, payload=order_payload(external_id, **order_overrides), now=PLACED
        )
        if checkpoints is None:
            checkpoints = [{"status": "in_transit", "occurred_at": SHIPPED.isoformat()}]
            if delivered:
                checkpoints.append({"status": "delivered", "occurred_at": DELIVERED.isoformat()})
        shipment_ingest(
            merchant=merchant,
            payload={
                "external_id": f"ful-{external_id}",
                "order_external_id": external_id,
                "carrier": "UPS",
                "tracking_number": f"1Z-{external_id}",
                "lines": [
                    {"line_external_id": "shoe", "quantity": 1},
                    {"line_external_id": "cap", "quantity": 1},
                ],
                "checkpoints": checkpoints,
            },
            now=PLACED,
        )
        with merchant_scope(merchant):
            order = Order.objects.get(external_id=external_id)
            return order, Shipment.objects.get(order=order)

    return make
