"""Routes of the commerce resources under /api/v1/."""

from django.urls import path

from orders import api, privacy_api

urlpatterns = [
    path("customers", api.CustomerListView.as_view(), name="customer-list"),
    path("customers/<int:pk>", api.CustomerDetailView.as_view(), name="customer-detail"),
    path(
        "customers/by-external-id/<path:external_id>",
        api.CustomerByExternalIdView.as_view(),
        name="customer-by-external-id",
    ),
    path(
        "customers/<int:pk>/erase",
        privacy_api.CustomerEraseView.as_view(),
        name="customer-erase",
    ),
    path(
        "customers/<int:pk>/export",
        privacy_api.CustomerExportView.as_view(),
        name="customer-export",
    ),
    path("products", api.ProductListView.as_view(), name="product-list"),
    path("products/<int:pk>", api.ProductDetailView.as_view(), name="product-detail"),
    path(
        "products/by-external-id/<path:external_id>",
        api.ProductByExternalIdView.as_view(),
        name="product-by-external-id",
    ),
    path("orders", api.OrderListView.as_view(), name="order-list"),
    path("orders/bulk", api.OrderBulkView.as_view(), name="order-bulk"),
    path("orders/<int:pk>", api.OrderDetailView.as_view(), name="order-detail"),
    path(
        "orders/by-external-id/<path:external_id>",
        api.OrderByExternalIdView.as_view(),
        name="order-by-external-id",
    ),
    path("shipments", api.ShipmentListView.as_view(), name="shipment-list"),
    path("shipments/<int:pk>", api.ShipmentDetailView.as_view(), name="shipment-detail"),
    path(
        "shipments/<int:pk>/tracking-events",
        api.TrackingEventListView.as_view(),
        name="shipment-tracking-events",
    ),
    path(
        "shipments/by-external-id/<path:external_id>",
        api.ShipmentByExternalIdView.as_view(),
        name="shipment-by-external-id",
    ),
]
