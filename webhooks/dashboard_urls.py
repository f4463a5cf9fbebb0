from django.urls import path

from webhooks import views

# Included by the dashboard at settings/webhooks/, in its namespace.
urlpatterns = [
    path("", views.WebhooksView.as_view(), name="settings_webhooks"),
    path("<int:pk>/", views.WebhookDetailView.as_view(), name="settings_webhook_detail"),
    path("<int:pk>/enable/", views.WebhookEnableView.as_view(), name="settings_webhook_enable"),
    path("<int:pk>/disable/", views.WebhookDisableView.as_view(), name="settings_webhook_disable"),
    path(
        "<int:pk>/rotate-secret/",
        views.WebhookRotateSecretView.as_view(),
        name="settings_webhook_rotate_secret",
    ),
    path("<int:pk>/test/", views.WebhookSendTestView.as_view(), name="settings_webhook_test"),
    path("<int:pk>/delete/", views.WebhookDeleteView.as_view(), name="settings_webhook_delete"),
]
