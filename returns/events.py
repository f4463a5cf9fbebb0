"""The ``return`` namespace, kept for the returns pillar before it records anything, so that no
integrator's custom event takes the names it will use."""

from __future__ import annotations

from postpurchase.events.catalogue import event_namespace_reserve

OWNER = "returns"


def events_register() -> None:
    """Reserve the namespace (the app's ``ready()``)."""
    event_namespace_reserve(
        name="return",
        owner=OWNER,
        description="Returns (return.requested, return.approved…), the returns pillar to come.",
    )
