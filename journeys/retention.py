"""Journey step logs' retention (docs/retention.md): kept ``JOURNEY_STEP_LOGS_RETENTION_DAYS``,
by whole months (the table is partitioned by month on PostgreSQL), never while their enrollment
is open; and the messages an open enrollment's steps point at are held, since the engine reads
their status to branch (``journeys.engine._step_statuses``)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from journeys.models import OPEN_STATES, JourneyStepLog
from postpurchase.retention.registry import LogPolicy, logs


def _step_log_settled() -> Q:
    return ~Q(enrollment__state__in=OPEN_STATES)


def _message_read_by_open_enrollment() -> Q:
    return Q(
        Exists(
            JourneyStepLog.unscoped.filter(
                message_id=OuterRef("pk"), enrollment__state__in=OPEN_STATES
            )
        )
    )


def logs_register() -> None:
    logs.register(
        LogPolicy(
            name="journey_step_logs",
            model=JourneyStepLog,
            dated_by="occurred_at",
            setting="JOURNEY_STEP_LOGS_RETENTION_DAYS",
            removable=_step_log_settled,
            monthly=True,
        )
    )
    logs.hold("messages", _message_read_by_open_enrollment)
