from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "postpurchase.events"
    label = "events"
    verbose_name = "Event log"
