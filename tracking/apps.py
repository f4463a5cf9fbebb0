from django.apps import AppConfig


class TrackingConfig(AppConfig):
    """The tracking pillar: delay detection (``tracking/delays.py``), the shopper's tracking
    page, and package protection with its claims (``tracking/claims/``). The shipment events it
    raises are declared by orders, which owns the ``shipment`` and ``order`` namespaces
    (``orders/events.py``); the ``claim`` namespace is its own (``tracking/claims/events.py``)."""

    name = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tracking.retention import logs_register

        logs_register()  # delay incidents, in the retention run (docs/retention.md)

        from tracking.claims.registration import claims_register

        claims_register()  # claim events, the claims' part of an erasure
