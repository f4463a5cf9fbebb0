"""The integrations settings pages, included at /app/settings/integrations/ in the dashboard's
namespace."""

from django.urls import path

from connectors import dashboard_views
from connectors.dashboard_views import PASTED_FEEDS

urlpatterns = [
    path("", dashboard_views.IntegrationsView.as_view(), name="settings_integrations"),
    path(
        "shopify-secret/",
        dashboard_views.ShopifySecretView.as_view(),
        name="settings_integrations_shopify_secret",
    ),
    path(
        "tracking-secret/",
        dashboard_views.TrackingSecretView.as_view(),
        name="settings_integrations_tracking_secret",
    ),
    # The tracking services' webhooks: EasyPost's and AfterShip's secrets, Shippo's token.
    *(
        path(
            f"{vendor}-secret/",
            dashboard_views.FeedSecretView.as_view(),
            {"vendor": vendor},
            name=f"settings_integrations_{vendor}_secret",
        )
        for vendor in PASTED_FEEDS
    ),
    path(
        "shippo-token/",
        dashboard_views.ShippoTokenView.as_view(),
        name="settings_integrations_shippo_token",
    ),
    path(
        "privacy-requests/<int:pk>/export/",
        dashboard_views.PrivacyExportView.as_view(),
        name="settings_integrations_privacy_export",
    ),
]
