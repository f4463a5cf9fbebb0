"""The orders app's shopper pages, on the shopper shell under ``/s/<merchant-slug>/``."""

from django.urls import path

from orders import shopper_views

app_name = "shopper_orders"

urlpatterns = [
    path("order/<str:token>/", shopper_views.OrderStatusView.as_view(), name="order"),
]
