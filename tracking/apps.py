from django.apps import AppConfig


class TrackingConfig(AppConfig):
    """The tracking pillar: delay detection and resolution (``tracking/delays.py``,
    ``tracking/resolution.py``), the shipment's ``delay`` in the API, the dashboard's Tracking
    page (``tracking/dashboard_views.py``) and the home page's card (``tracking/home.py``), the
    shopper's tracking page (``tracking/shopper_views.py``) with its updates and suggestions,
    and package protection with its claims (``tracking/claims/``; their notices are journey
    blueprints with a ``claim`` template variable). The shipment and order events it raises
    are declared by orders, which owns those namespaces (``orders/events.py``); the ``claim``
    namespace is its own (``tracking/claims/events.py``)."""

    name = "tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tracking.retention import logs_register

        logs_register()  # delay incidents, in the retention run (docs/retention.md)

        from journeys.links import links
        from tracking.links import tracking_url_make

        # Messages' tracking_url is this app's page from now on (the carrier's link is on it).
        links.register("tracking_url", tracking_url_make)

        from postpurchase.shopper.lookup import LookupDestination, lookup_destination_register
        from tracking.links import tracking_page_path

        # The shell's order lookup sends a found order here (above the plain order page).
        lookup_destination_register(
            LookupDestination(name="tracking", path_for=tracking_page_path, priority=10)
        )

        from postpurchase.events.registry import registry
        from tracking.updates import CONSUMER, TEMPLATES, updates_handle_event

        # The updates a shopper asked for on the page.
        registry.subscribe(sorted(TEMPLATES), CONSUMER, updates_handle_event)

        from orders.privacy import privacy_parts
        from tracking.privacy import tracking_erase, tracking_export

        privacy_parts.register("tracking", eraser=tracking_erase, exporter=tracking_export)

        from postpurchase.tenancy.lifecycle import demo_loaded_handlers
        from tracking.pairings import demo_pairings

        demo_loaded_handlers.register("bought-together pairs", demo_pairings)

        from orders.shipment_extras import shipment_extras
        from tracking.serializers import DELAY_EXTRA

        shipment_extras.register(DELAY_EXTRA)  # the API's shipment shows its open delay

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

        from tracking.claims.registration import claims_register

        claims_register()  # claim events, the claims' part of an erasure

        from postpurchase.dashboard.cards import home_cards
        from tracking.home import TRACKING_CARD

        home_cards.register(TRACKING_CARD)  # the home page's delayed shipments, after orders
