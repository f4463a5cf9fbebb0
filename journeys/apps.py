from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from journeys.events import events_register

        events_register()  # its event types in the catalogue (docs/events.md)

        from journeys.retention import logs_register

        # step logs, and a hold on the messages running enrollments read (docs/retention.md)
        logs_register()

        from journeys.builtins import builtins_register

        # its own facts (customer, order), actions (tags, webhook) and tracking link, in the
        # sockets a pillar plugs into (journeys/facts.py, actions.py, links.py)
        builtins_register()

        from journeys.consumer import journeys_on_events
        from journeys.services import CONSUMER_NAME, journeys_on_event
        from postpurchase.events.registry import registry

        # Every event type: any may trigger, exit, convert or wake a journey; which ones do is
        # read from the live versions inside the consumer's transaction. A batch of events is
        # taken at once (journeys/consumer.py); a retry, one event alone.
        registry.subscribe("*", CONSUMER_NAME, journeys_on_event, batch_handler=journeys_on_events)

        from journeys.deactivation import merchant_journeys_pause
        from postpurchase.tenancy.lifecycle import deactivation_handlers

        deactivation_handlers.register("journeys paused", merchant_journeys_pause)

        from journeys.privacy import enrollments_erase, enrollments_export
        from orders.privacy import privacy_parts

        privacy_parts.register("journeys", eraser=enrollments_erase, exporter=enrollments_export)
