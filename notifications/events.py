"""The ``message`` namespace: kept for the events messages will record of themselves (sent,
delivered, opened, clicked), so an integrator's custom event cannot take those names first.
None is recorded yet."""

from __future__ import annotations

from postpurchase.events.catalogue import event_namespace_reserve

OWNER = "notifications"


def events_register() -> None:
    """Reserve the namespace (``NotificationsConfig.ready()``)."""
    event_namespace_reserve(
        name="message", owner=OWNER, description="Messages' own events (none recorded yet)."
    )
