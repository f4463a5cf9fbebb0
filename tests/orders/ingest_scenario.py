"""One ingestion scenario through every door of the engine, and the rows it leaves, with ids
replaced by natural keys so two databases can be compared.

``tests/orders/test_sqlite_engine.py`` runs it on the test's PostgreSQL database in its own
process, and on a fresh SQLite file (the embedded mode) in a subprocess: ``python
tests/orders/ingest_scenario.py`` with ``DATABASE_URL=sqlite:///…`` migrates the file, runs the
scenario and prints its outcome as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
HOME = {
    "name": "Guest",
    "address1": "1 Wall Street",
    "postal_code": "K1A 0B1",
    "country_code": "ca",
}


def _order(external_id, number, **overrides):
    from tests.factories import order_payload

    return order_payload(external_id=external_id, number=number, **overrides)


def run_scenario(merchant) -> dict:
    """Every door, in turn: order_ingest (a batch of one), order_bulk_ingest (a batch), the
    shipment service raising the order's fulfillment, and a stale and a refused delivery."""
    from orders.services.orders import order_bulk_ingest, order_ingest
    from orders.services.shipments import shipment_ingest
    from postpurchase.errors import DomainError

    outcomes = []

    def single(payload, now):
        try:
            result = order_ingest(merchant=merchant, payload=payload, now=now)
        except DomainError as error:
            outcomes.append(["single", "failed", error.code, error.fields])
            return
        status = "stale" if result.stale else "created" if result.created else "changed"
        outcomes.append(["single", status if result.changed or result.stale else "unchanged"])
        outcomes[-1].append(result.events)

    guest = {"email": "Guest@Example.net", "phone": "", "accepts_email_marketing": True}
    single(_order("o1", "#1"), NOW)
    single(_order("o1", "#1"), NOW)
    results = order_bulk_ingest(
        merchant=merchant,
        now=LATER,
        payloads=[
            _order("o1", "#1", cancelled_at="2026-03-02T09:00:00Z", updated_at="2026-03-02T09:00Z"),
            _order("o2", "#2", placed_at="2026-02-01T10:00:00Z"),
            _order(
                "o3", "#3", customer=guest, total="20.00", subtotal="15.00", shipping_address=HOME
            ),
            _order("o4", "#4", customer=None, customer_external_id="nobody"),
            _order("o2", "#2"),
        ],
    )
    for r in results:
        outcomes.append(["bulk", r.status, r.events, r.error.code if r.error else None])
    single(_order("o1", "#1", updated_at="2026-03-01T09:00:00Z"), LATER)  # stale
    shipped = shipment_ingest(
        merchant=merchant,
        now=LATER,
        payload={
            "external_id": "s2",
            "order_external_id": "o2",
            "carrier": "ups",
            "tracking_number": "1Z",
            "lines": [{"line_external_id": "line-1", "quantity": 2}],
        },
    )
    outcomes.append(["shipment", shipped.created, shipped.events])
    single(_order("o2", "#2", placed_at="2026-02-01T10:00:00Z", tax="1.00"), LATER)
    # the address: unsaid keeps it; a new one is a change; null removes it
    o3 = {"customer": guest, "total": "20.00", "subtotal": "15.00"}
    single(_order("o3", "#3", **o3), LATER)
    single(_order("o3", "#3", **o3, shipping_address={**HOME, "postal_code": "K1A 0B2"}), LATER)
    single(_order("o3", "#3", **o3, shipping_address=None), LATER)
    return {"outcomes": outcomes, "rows": rows(merchant)}


def rows(merchant) -> dict:
    """The merchant's ingested rows in id order, ids replaced by natural keys."""
    from orders.models import Customer, Order, OrderLine, Product
    from postpurchase.events.models import Event

    customers = {
        c.pk: c.external_id or c.email for c in Customer.unscoped.filter(merchant=merchant)
    }
    orders = {o.pk: o.external_id for o in Order.unscoped.filter(merchant=merchant)}
    products = {p.pk: p.external_id for p in Product.unscoped.filter(merchant=merchant)}

    def text(value):
        if isinstance(value, dict):  # a JSON column: its keys in one order on either database
            return json.dumps(value, sort_keys=True)
        return value.isoformat() if isinstance(value, datetime) else str(value)

    def dump(model, fields, **keys):
        out = []
        for row in model.unscoped.filter(merchant=merchant).order_by("id").values(*fields):
            for name, key in keys.items():
                row[name] = key.get(row[name])
            out.append({name: text(value) for name, value in row.items()})
        return out

    events = []
    for event in Event.unscoped.filter(merchant=merchant).order_by("id"):
        payload = dict(event.payload)
        for name, key in (("order_id", orders), ("shipment_id", None)):
            if name in payload:
                payload[name] = key.get(payload[name]) if key else "shipment"
        events.append(
            [event.type, customers.get(event.customer_id), text(event.occurred_at), payload]
        )
    return {
        "customers": dump(
            Customer,
            [
                "id",
                "external_id",
                "email",
                "first_name",
                "orders_count",
                "first_order_at",
                "last_order_at",
                "total_spent",
                "email_marketing_consent",
            ],
            id=customers,
        ),
        "products": dump(Product, ["external_id", "title", "sku", "category"]),
        "orders": dump(
            Order,
            [
                "external_id",
                "customer_id",
                "total",
                "cancelled_at",
                "fulfillment_status",
                "source_updated_at",
                "updated_at",
                "shipping_address",
            ],
            customer_id=customers,
        ),
        "lines": dump(
            OrderLine,
            ["order_id", "product_id", "external_id", "quantity"],
            order_id=orders,
            product_id=products,
        ),
        "events": events,
    }


def main() -> None:
    """Migrate the database ``DATABASE_URL`` names, run the scenario, print it as JSON."""
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from postpurchase.tenancy.services import merchant_create

    assert connection.vendor == "sqlite", connection.vendor
    call_command("migrate", verbosity=0)
    merchant = merchant_create(
        slug="twin", name="Twin", currency="EUR", country="FR", timezone="Europe/Paris"
    )
    print(json.dumps(run_scenario(merchant)))


if __name__ == "__main__":
    main()
