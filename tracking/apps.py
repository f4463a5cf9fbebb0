from django.apps import AppConfig


class TrackingConfig(AppConfig):
    """The tracking pillar: delay detection today (``tracking/delays.py``); the shopper's tracking
    page and the dashboard's Tracking page to come. The events it raises are declared by orders,
    which owns the ``shipment`` and ``order`` namespaces (``orders/events.py``)."""

    name = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tracking.retention import logs_register

        logs_register()  # delay incidents, in the retention run (docs/retention.md)
