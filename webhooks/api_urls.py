from django.urls import path

from webhooks import api

urlpatterns = [
    path(
        "webhook-endpoints",
        api.WebhookEndpointListView.as_view(),
        name="webhook-endpoint-list",
    ),
    path(
        "webhook-endpoints/<int:pk>",
        api.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<int:pk>/rotate-secret",
        api.WebhookEndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<int:pk>/send-test",
        api.WebhookEndpointSendTestView.as_view(),
        name="webhook-endpoint-send-test",
    ),
    path(
        "webhook-endpoints/<int:pk>/deliveries",
        api.WebhookDeliveryListView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
]
