"""The commerce model in the integrator API: customers, products, orders (one at a time or in
bulk), shipments and their tracking events, one module per resource.

Each resource is addressed by our id (``/orders/{id}``) and by the merchant's own id
(``/orders/by-external-id/{external_id}``). ``POST`` to a collection and ``PUT`` by external id
are upserts; ``PATCH`` changes only the fields sent. Every write goes through the same services
as every other ingestion path, so validation, events and idempotency are the same."""

from orders.api.bulk import OrderBulkView
from orders.api.customers import CustomerByExternalIdView, CustomerDetailView, CustomerListView
from orders.api.orders import OrderByExternalIdView, OrderDetailView, OrderListView
from orders.api.products import ProductByExternalIdView, ProductDetailView, ProductListView
from orders.api.shipments import (
    ShipmentByExternalIdView,
    ShipmentDetailView,
    ShipmentListView,
    TrackingEventListView,
)

__all__ = [
    "CustomerByExternalIdView",
    "CustomerDetailView",
    "CustomerListView",
    "OrderBulkView",
    "OrderByExternalIdView",
    "OrderDetailView",
    "OrderListView",
    "ProductByExternalIdView",
    "ProductDetailView",
    "ProductListView",
    "ShipmentByExternalIdView",
    "ShipmentDetailView",
    "ShipmentListView",
    "TrackingEventListView",
]
