"""The integrations settings pages, included at /app/settings/integrations/ in the dashboard's
namespace."""

from django.urls import path

from connectors import dashboard_views

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
    path(
        "privacy-requests/<int:pk>/export/",
        dashboard_views.PrivacyExportView.as_view(),
        name="settings_integrations_privacy_export",
    ),
]
