from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "postpurchase.events"
    label = "events"
    verbose_name = "Event log"

    def ready(self) -> None:
        from postpurchase.events.retention import logs_register

        logs_register()  # events and consumer runs, in the retention run (docs/retention.md)
