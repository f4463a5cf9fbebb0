"""Webhooks from stores and carriers, at /webhooks/ (signed by the sender: no session, no CSRF)."""

from django.urls import path

from connectors import views

app_name = "connectors"

urlpatterns = [
    path("shopify/<slug:merchant_slug>/", views.shopify_webhook, name="shopify_webhook"),
    path("tracking/<slug:merchant_slug>/", views.tracking_webhook, name="tracking_webhook"),
]
