"""The orders pages, included by the dashboard at orders/, in its namespace."""

from django.urls import path

from orders import dashboard_views as views

urlpatterns = [
    path("", views.OrderListView.as_view(), name="order_list"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="order_detail"),
]
