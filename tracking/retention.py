"""Delay incidents' retention (docs/retention.md): kept ``DELAY_INCIDENTS_RETENTION_DAYS`` from
when they were found. Removing an old incident cannot raise it again: a shipment silent for the
expiry threshold (30 days by default) is expired and no rule looks at it any more, and an order
older than it never counts as late (tracking/delays.py)."""

from __future__ import annotations

from django.db.models import Q

from postpurchase.retention.registry import LogPolicy, logs
from tracking.models import DelayIncident


def logs_register() -> None:
    logs.register(
        LogPolicy(
            name="delay_incidents",
            model=DelayIncident,
            dated_by="detected_at",
            setting="DELAY_INCIDENTS_RETENTION_DAYS",
            removable=Q,  # nothing of an incident is in flight
        )
    )
