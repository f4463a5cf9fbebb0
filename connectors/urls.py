"""Webhooks from stores and carriers, at /webhooks/ (signed by the sender: no session, no CSRF)."""

from django.urls import path

from connectors import views
from connectors.tracking_feeds import FEEDS

app_name = "connectors"

urlpatterns = [
    path("shopify/<slug:merchant_slug>/", views.shopify_webhook, name="shopify_webhook"),
    path("tracking/<slug:merchant_slug>/", views.tracking_webhook, name="tracking_webhook"),
    # The tracking services' own webhooks (connectors/tracking_feeds.py), beside ours.
    *(
        path(
            f"tracking/<slug:merchant_slug>/{vendor}/",
            views.tracking_feed_webhook,
            {"vendor": vendor},
            name=f"tracking_{vendor}_webhook",
        )
        for vendor in FEEDS
    ),
]
