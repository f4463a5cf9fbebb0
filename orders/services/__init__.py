"""Writes to the commerce model, by noun: ``customers``, ``products``, ``orders`` (every door into
the one ingestion engine, ``orders.ingest``) and ``shipments``.

Each upsert is keyed by the merchant's own external ids, validates the whole payload before it
writes anything, runs in one transaction together with the events it records, and is idempotent:
the same payload twice gives one row and one event.

New code imports from the module of its noun; the names below stay importable from
``orders.services`` for the callers written before the split.
"""

from orders.ingest.results import IngestResult
from orders.services.customers import customer_upsert
from orders.services.orders import order_ingest
from orders.services.products import product_upsert
from orders.services.shipments import shipment_ingest, shipment_tracking_update

__all__ = [
    "IngestResult",
    "customer_upsert",
    "order_ingest",
    "product_upsert",
    "shipment_ingest",
    "shipment_tracking_update",
]
