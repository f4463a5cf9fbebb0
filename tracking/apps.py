from django.apps import AppConfig


class TrackingConfig(AppConfig):
    """The tracking pillar: delay detection and resolution (``tracking/delays.py``,
    ``tracking/resolution.py``), the shipment's ``delay`` in the API, the dashboard's Tracking
    page (``tracking/dashboard_views.py``) and the shopper's tracking page. The events it raises
    are declared by orders, which owns the ``shipment`` and ``order`` namespaces
    (``orders/events.py``)."""

    name = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tracking.retention import logs_register

        logs_register()  # delay incidents, in the retention run (docs/retention.md)

        from orders.shipment_extras import shipment_extras
        from tracking.serializers import DELAY_EXTRA

        shipment_extras.register(DELAY_EXTRA)  # the API's shipment shows its open delay

        from postpurchase.events.registry import registry
        from tracking.resolution import (
            RESOLVE_CONSUMER,
            RESOLVING_EVENTS,
            incidents_resolve_on_event,
            incidents_resolve_on_events,
        )

        # An incident ends as soon as its parcel arrives or moves on, or its order is cancelled.
        registry.subscribe(
            list(RESOLVING_EVENTS),
            RESOLVE_CONSUMER,
            incidents_resolve_on_event,
            batch_handler=incidents_resolve_on_events,
        )
