from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outbound webhooks: merchants' endpoints, signed deliveries fed by the event log."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webhooks.events import events_register

        events_register()  # its event types in the catalogue (docs/events.md)

        from postpurchase.events.registry import registry
        from webhooks.services import CONSUMER_NAME, webhooks_fan_out, webhooks_fan_out_many

        # Every event type: which endpoints want it is the endpoints' business, decided per
        # event inside the consumer's transaction (a batch of events at once).
        registry.subscribe(
            "*", CONSUMER_NAME, webhooks_fan_out, batch_handler=webhooks_fan_out_many
        )

        from postpurchase.tenancy.lifecycle import deactivation_handlers
        from webhooks.deactivation import merchant_webhook_deliveries_cancel

        deactivation_handlers.register(
            "webhook deliveries cancelled", merchant_webhook_deliveries_cancel
        )

        from orders.privacy import privacy_parts
        from webhooks.privacy import webhook_deliveries_erase

        privacy_parts.register("webhooks", eraser=webhook_deliveries_erase)
