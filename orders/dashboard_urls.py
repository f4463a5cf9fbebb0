"""The orders pages, included by the dashboard at orders/, in its namespace."""

from django.urls import path

from orders import dashboard_views as views
from orders import privacy_views

urlpatterns = [
    path("", views.OrderListView.as_view(), name="order_list"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="order_detail"),
    path(
        "customers/<int:pk>/erase/",
        privacy_views.CustomerEraseView.as_view(),
        name="customer_erase",
    ),
    path(
        "customers/<int:pk>/export/",
        privacy_views.CustomerExportView.as_view(),
        name="customer_export",
    ),
]
