from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    """Inbound connections to a merchant's store and carriers: Shopify-format webhooks, carrier
    tracking webhooks, and the privacy requests that come with them."""

    name = "connectors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from connectors.events import events_register

        events_register()  # its event types in the catalogue (docs/events.md)

        from connectors.privacy import inbound_erase, inbound_prepare
        from orders.privacy import privacy_parts

        privacy_parts.register("connectors", eraser=inbound_erase, prepare=inbound_prepare)
