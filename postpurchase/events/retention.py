"""The event log's retention (docs/retention.md): events kept ``EVENTS_RETENTION_DAYS``,
consumer runs ``EVENT_CONSUMER_RUNS_RETENTION_DAYS``; neither while its event is in flight."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.retention.registry import LogPolicy, logs


def _event_settled() -> Q:
    # In flight: not yet dispatched, or a consumer still to retry (the sweep's due time is set).
    return Q(next_dispatch_at__isnull=True)


def _run_settled() -> Q:
    # A finished marker of a settled event only: while its event is in flight, a marker that
    # went would let the dispatch hand the event to that consumer a second time.
    return Q(
        status__in=[ConsumerRunStatus.DONE, ConsumerRunStatus.GAVE_UP],
        event__next_dispatch_at__isnull=True,
    )


def _month_of_events_in_flight(start: datetime, end: datetime) -> bool:
    # A run is dated by its event: an event of that month still in flight may add runs to it.
    return Event.unscoped.filter(
        recorded_at__gte=start, recorded_at__lt=end, next_dispatch_at__isnull=False
    ).exists()


def logs_register() -> None:
    logs.register(
        LogPolicy(
            name="events",
            model=Event,
            dated_by="recorded_at",
            setting="EVENTS_RETENTION_DAYS",
            removable=_event_settled,
        )
    )
    logs.register(
        LogPolicy(
            name="event_consumer_runs",
            model=EventConsumerRun,
            dated_by="event_recorded_at",
            setting="EVENT_CONSUMER_RUNS_RETENTION_DAYS",
            removable=_run_settled,
            monthly=True,
            month_held=_month_of_events_in_flight,
        )
    )
