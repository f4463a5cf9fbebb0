"""The ``loyalty`` namespace, kept for the loyalty pillar before it records anything, so that no
integrator's custom event takes the names it will use."""

from __future__ import annotations

from postpurchase.events.catalogue import event_namespace_reserve

OWNER = "loyalty"


def events_register() -> None:
    """Reserve the namespace (the app's ``ready()``)."""
    event_namespace_reserve(
        name="loyalty",
        owner=OWNER,
        description="Loyalty points, tiers and rewards, the loyalty pillar to come.",
    )
