from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications.events import events_register

        events_register()  # its event types in the catalogue (docs/events.md)

        from notifications.retention import logs_register

        logs_register()  # messages, in the retention run (docs/retention.md)

        # anymail hands over delivery reports and inbound mail only by signal: these receivers
        # are thin adapters onto notifications.reports, the one place they are acted on.
        from anymail.signals import inbound, tracking

        from notifications.webhook_views import email_inbound_received, email_tracking_received

        tracking.connect(email_tracking_received, dispatch_uid="notifications.email_tracking")
        inbound.connect(email_inbound_received, dispatch_uid="notifications.email_inbound")

        from notifications.deactivation import merchant_messages_cancel
        from postpurchase.tenancy.lifecycle import deactivation_handlers

        deactivation_handlers.register("messages cancelled", merchant_messages_cancel)

        from notifications.demo import demo_templates_install
        from postpurchase.tenancy.lifecycle import demo_seed_handlers

        demo_seed_handlers.register("message templates", demo_templates_install)

        from notifications.privacy import messages_erase, messages_export
        from orders.privacy import privacy_parts

        privacy_parts.register("notifications", eraser=messages_erase, exporter=messages_export)
