"""The tracking pillar's card on the dashboard's home page: the delayed shipments and the orders
late to ship, counted from the open delay incidents the Tracking page lists (``incidents_open``),
so the home page and that page never disagree; and a section leading to the page. Registered in
``TrackingConfig.ready()``, just after the orders card."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from postpurchase.dashboard.cards import Figure, HomeCard
from postpurchase.tenancy.models import Merchant
from tracking.models import DelayReason
from tracking.selectors import incidents_open


def home_counts(*, today: date) -> dict[str, int]:
    """Of the current merchant's open incidents: the shipments among them, each once however
    many reasons it is late for, and the orders not fulfilled within the promise. One query.
    ``today`` is not read: an incident is open until the scan resolves it."""
    return incidents_open(now=timezone.now()).aggregate(
        shipments_delayed=Count("shipment", distinct=True),
        orders_late_to_ship=Count(
            "order", distinct=True, filter=Q(reason=DelayReason.FULFILLMENT_LATE)
        ),
    )


def home_context(*, merchant: Merchant, today: date) -> dict[str, Any]:
    # the scan is PostgreSQL's (tracking/delays.py): an embedded install never counts a delay
    return {"tracking_scan_runs": connection.vendor == "postgresql"}


TRACKING_CARD = HomeCard(
    name="tracking",
    position=20,  # just after the orders card (10)
    figures=(
        Figure("shipments_delayed", "Delayed shipments", warn=True),
        Figure("orders_late_to_ship", "Orders late to ship", warn=True),
    ),
    counts=home_counts,
    template="tracking/_home_card.html",
    context=home_context,
)
