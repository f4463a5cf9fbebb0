from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outbound webhooks: merchants' endpoints, signed deliveries fed by the event log."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"
