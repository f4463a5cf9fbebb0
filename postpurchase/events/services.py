"""Recording events and handing them to their consumers, exactly once per consumer.

``event_record`` writes the event in the caller's transaction and enqueues the dispatch task after
commit; ``event_record_many`` does the same for a batch, in one statement and one task.
``event_dispatch`` runs each subscribed consumer that has not finished, each in its own
transaction together with its ``DONE`` marker; a failure is recorded with the time of its next
attempt (exponential backoff with jitter). ``event_sweep`` re-dispatches every event whose
``next_dispatch_at`` has passed: a lost task, a dead worker or a due retry.
"""

from __future__ import annotations

import logging
import random
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.events.registry import Consumer, ConsumerRegistry, registry
from postpurchase.pgbulk import unnest_rows
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

logger = logging.getLogger(__name__)

# An event not fully dispatched this long after it was recorded is assumed lost and swept.
DISPATCH_GRACE = timedelta(minutes=2)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=6)
MAX_ATTEMPTS = 12  # the last retry comes some 7 to 15 hours after the first failure
SWEEP_BATCH = 500


def retry_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter in the upper half: 30s, 1m, 2m, ... capped at 6h."""
    ceiling = min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_CAP)
    fraction = 0.5 + (rng or random).random() / 2
    return ceiling * fraction


def _validate_type(event_type: str) -> None:
    parts = event_type.split(".")
    if (
        len(event_type) > 100
        or len(parts) < 2
        or not all(p and p.replace("_", "").isalnum() and p == p.lower() for p in parts)
    ):
        raise DomainError(
            ErrorCode.INVALID,
            "An event type is lowercase words separated by dots, such as 'order.placed'.",
            field="type",
        )


def event_record(
    *,
    merchant: Merchant,
    type: str,
    customer=None,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    dedupe_key: str | None = None,
    source: str = "",
    now: datetime | None = None,
) -> tuple[Event, bool]:
    """Record an event in the caller's transaction. Returns ``(event, created)``; with a
    ``dedupe_key`` already used by this merchant, the first event and ``False``."""
    _validate_type(type)
    now = now or timezone.now()
    event = Event(
        merchant=merchant,
        customer=customer,
        type=type,
        occurred_at=occurred_at or now,
        recorded_at=now,
        payload=payload or {},
        dedupe_key=dedupe_key,
        source=source,
        next_dispatch_at=now + DISPATCH_GRACE,
    )
    try:
        # Insert first: a repeated dedupe key is the exception, and the unique constraint is the
        # only check that holds under concurrency anyway.
        with transaction.atomic():
            event.save()
    except IntegrityError:
        existing = (
            Event.unscoped.filter(merchant=merchant, dedupe_key=dedupe_key).first()
            if dedupe_key is not None
            else None
        )
        if existing is None:
            raise
        return existing, False

    transaction.on_commit(lambda: _enqueue_dispatch(event.pk, merchant.pk))
    return event, True


@dataclass(frozen=True)
class EventSpec:
    """One event for ``event_record_many``: the arguments ``event_record`` takes."""

    type: str
    customer_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None
    dedupe_key: str | None = None
    source: str = ""


_EVENT_FIELDS = (
    "merchant",
    "customer",
    "type",
    "occurred_at",
    "recorded_at",
    "payload",
    "dedupe_key",
    "source",
    "next_dispatch_at",
)
_EVENT_COLUMNS = ", ".join(Event._meta.get_field(name).column for name in _EVENT_FIELDS)


def event_record_many(
    *, merchant: Merchant, events: list[EventSpec], now: datetime | None = None
) -> list[int | None]:
    """Record many events in the caller's transaction with one ``INSERT … ON CONFLICT DO
    NOTHING`` (PostgreSQL), and enqueue one dispatch task for all of them after commit.

    Returns, for each spec in order, the new event's id, or ``None`` when its ``dedupe_key`` was
    already used by this merchant (earlier, or by an earlier spec of the same call): the same
    outcome as calling ``event_record`` for each in turn."""
    if not events:
        return []
    for spec in events:
        _validate_type(spec.type)
    inserted = _insert_events(merchant, events, now or timezone.now())
    # Ids follow the order of the rows; a skipped row has none, so walk both lists together.
    ids: list[int | None] = []
    pending = iter(inserted)
    row = next(pending, None)
    for spec in events:
        if row is not None and row[1] == spec.dedupe_key:
            ids.append(row[0])
            row = next(pending, None)
        else:
            ids.append(None)
    created = [pk for pk in ids if pk is not None]
    if created:
        transaction.on_commit(lambda: _enqueue_dispatch_many(created, merchant.pk))
    return ids


def _insert_events(
    merchant: Merchant, events: list[EventSpec], now: datetime
) -> list[tuple[int, str | None]]:
    """Insert the events that do not repeat a dedupe key; their ``(id, dedupe_key)`` by id."""
    fields = [Event._meta.get_field(name) for name in _EVENT_FIELDS]
    due = now + DISPATCH_GRACE
    rows = [
        (
            merchant.pk,
            spec.customer_id,
            spec.type,
            spec.occurred_at or now,
            now,
            spec.payload or {},  # as event_record stores a missing payload
            spec.dedupe_key,
            spec.source,
            due,
        )
        for spec in events
    ]
    source, params = unnest_rows(fields, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} ({_EVENT_COLUMNS}) SELECT * FROM {source} "  # noqa: S608
            "ON CONFLICT (merchant_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING "
            "RETURNING id, dedupe_key",
            params,
        )
        return sorted(cursor.fetchall())


def _enqueue_dispatch_many(event_ids: list[int], merchant_id: int) -> None:
    from postpurchase.events.tasks import event_dispatch_many_task

    try:
        event_dispatch_many_task.delay(event_ids=event_ids, merchant_id=merchant_id)
    except Exception:
        logger.warning(
            "Could not enqueue dispatch of %s events; the sweep will retry",
            len(event_ids),
            exc_info=True,
        )


def _enqueue_dispatch(event_id: int, merchant_id: int) -> None:
    from postpurchase.events.tasks import event_dispatch_task

    try:
        event_dispatch_task.delay(event_id=event_id, merchant_id=merchant_id)
    except Exception:
        # The broker is down: the sweep will find the event once its grace period is over.
        logger.warning(
            "Could not enqueue dispatch of event %s; the sweep will retry", event_id, exc_info=True
        )


def _run_consumer(event: Event, consumer: Consumer, now: datetime) -> tuple[str, datetime | None]:
    """Run one consumer on one event unless it has already finished. Returns its status and, when
    it failed, the time of its next attempt; ``"busy"`` when another worker holds this consumer's
    marker right now, ``"waiting"`` when its next attempt is not due yet."""
    with transaction.atomic():
        run = (
            EventConsumerRun.objects.select_for_update(skip_locked=True)
            .filter(event=event, consumer=consumer.name)
            .first()
        )
        if run is None:
            return "busy", None
        if run.status != ConsumerRunStatus.FAILED:
            return run.status, None
        if run.next_attempt_at is not None and run.next_attempt_at > now:
            return "waiting", run.next_attempt_at
        run.attempts += 1
        run.updated_at = now
        try:
            with transaction.atomic():
                consumer.handler(event)
        except Exception as exc:
            run.last_error = "".join(traceback.format_exception(exc))[-4000:]
            if run.attempts >= MAX_ATTEMPTS:
                run.status = ConsumerRunStatus.GAVE_UP
                run.finished_at = now
                run.next_attempt_at = None
                logger.error(
                    "Consumer %s gave up on event %s after %s attempts",
                    consumer.name,
                    event.pk,
                    run.attempts,
                )
            else:
                run.next_attempt_at = now + retry_delay(run.attempts)
                logger.warning(
                    "Consumer %s failed on event %s (attempt %s); retry at %s",
                    consumer.name,
                    event.pk,
                    run.attempts,
                    run.next_attempt_at,
                )
        else:
            run.status = ConsumerRunStatus.DONE
            run.finished_at = now
            run.next_attempt_at = None
            run.last_error = ""
        run.save()
        return run.status, run.next_attempt_at


def event_dispatch(
    *, event: Event, now: datetime | None = None, consumers: ConsumerRegistry | None = None
) -> dict[str, str]:
    """Hand ``event`` to every consumer of its type that has not finished. Returns each
    consumer's status after this pass."""
    now = now or timezone.now()
    wanted = (consumers or registry).consumers_for(event.type)
    outcome: dict[str, str] = {}
    retries: list[datetime] = []
    with merchant_scope(event.merchant):
        if wanted:
            # One statement creates every missing marker; concurrent dispatchers agree on them.
            EventConsumerRun.objects.bulk_create(
                [
                    EventConsumerRun(event=event, consumer=c.name, status=ConsumerRunStatus.FAILED)
                    for c in wanted
                ],
                ignore_conflicts=True,
            )
        for consumer in wanted:
            status, retry_at = _run_consumer(event, consumer, now)
            outcome[consumer.name] = status
            if retry_at is not None:
                retries.append(retry_at)
            elif status == "busy":
                # Another worker holds it; look again after the grace period.
                retries.append(now + DISPATCH_GRACE)

    finished = (ConsumerRunStatus.DONE, ConsumerRunStatus.GAVE_UP)
    if all(status in finished for status in outcome.values()):
        Event.unscoped.filter(pk=event.pk).update(
            dispatched_at=Coalesce("dispatched_at", Value(now)), next_dispatch_at=None
        )
    else:
        Event.unscoped.filter(pk=event.pk).update(
            next_dispatch_at=min(retries) if retries else now + DISPATCH_GRACE
        )
    return outcome


def event_sweep(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH) -> list[int]:
    """Enqueue a dispatch for every event due one (lost dispatch, due retry). Each swept event's
    ``next_dispatch_at`` moves one grace period on, so an event is not enqueued again while its
    task waits in the queue. Returns the ids enqueued."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Event.unscoped.select_for_update(skip_locked=True)
            .filter(next_dispatch_at__lte=now)
            .order_by("next_dispatch_at")
            .values_list("pk", "merchant_id")[:batch_size]
        )
        if due:
            Event.unscoped.filter(pk__in=[pk for pk, _ in due]).update(
                next_dispatch_at=now + DISPATCH_GRACE
            )
    for pk, merchant_id in due:
        _enqueue_dispatch(pk, merchant_id)
    return [pk for pk, _ in due]
