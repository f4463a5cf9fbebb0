"""Recording events and handing them to their consumers, exactly once per consumer.

``event_record`` writes the event in the caller's transaction and enqueues the dispatch task after
commit; ``event_record_many`` does the same for a batch, in one statement and one task.
``events_pending`` claims the events waiting for a task and hands them to
``postpurchase.events.dispatch.events_dispatch``, which runs each subscribed consumer on the
batch once, a failing event retried alone (``event_dispatch`` is a batch of one).
``event_sweep`` re-dispatches every event whose ``next_dispatch_at`` has passed: a due retry, or
a dispatch task whose lease ran out (lost by the broker, or waiting behind a backlog longer than
its lease).

A queued dispatch task holds a lease on its event (``next_dispatch_at``), so the sweep does not
enqueue it again while it waits: ``EVENT_DISPATCH_LEASE_SECONDS`` for the first task, doubled for
each one the sweep enqueues while none has run, so even a backlog of hours costs a few duplicate
tasks per event, not one per sweep. Events recorded inside ``events_recorded_as_history()`` are
history: stored as dispatched, never enqueued, never handed to a consumer. Nothing is dispatched
for an inactive merchant; its events wait for the sweep after reactivation.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from postpurchase.events.catalogue import event_record_check, event_records_check
from postpurchase.events.dispatch import events_dispatch
from postpurchase.events.models import Event, EventConsumerRun
from postpurchase.events.registry import ConsumerRegistry
from postpurchase.lanes import BULK_MIN, lane
from postpurchase.outbox import Backoff, Row, sweep
from postpurchase.pending import enqueue_once, started
from postpurchase.pgbulk import unnest_rows
from postpurchase.tenancy.models import Merchant

logger = logging.getLogger(__name__)

# However often the sweep re-enqueues an event whose task has not run, its lease stays below this.
DISPATCH_LEASE_CAP = timedelta(hours=6)
SWEEP_BATCH = 500
SWEEP_TASK_EVENTS = 100  # events per dispatch task the sweep enqueues
PENDING_BATCH = 100  # events a pending dispatch claims at most

_recording_history: ContextVar[bool] = ContextVar("events_recorded_as_history", default=False)


@contextmanager
def events_recorded_as_history() -> Iterator[None]:
    """Record every event of the block as history (the demo seed, an import of past orders):
    stored as already dispatched and marked ``is_history``, never enqueued, never handed to a
    consumer, so no journey enters and no webhook fires on it. Reads (analytics, the API's
    event list) see it like any other event."""
    token = _recording_history.set(True)
    try:
        yield
    finally:
        _recording_history.reset(token)


def dispatch_lease(enqueues: int) -> timedelta:
    """How long the ``enqueues``-th dispatch task enqueued in a row (with no dispatch pass run in
    between) may wait before the sweep counts it lost: ``EVENT_DISPATCH_LEASE_SECONDS``, doubled
    for each earlier one, at most ``DISPATCH_LEASE_CAP``: a backoff without jitter."""
    return _lease_backoff(settings.EVENT_DISPATCH_LEASE_SECONDS).ceiling(enqueues)


@functools.cache
def _lease_backoff(seconds: float) -> Backoff:
    base = min(timedelta(seconds=seconds), DISPATCH_LEASE_CAP)
    return Backoff(base=base, factor=2, cap=DISPATCH_LEASE_CAP, jitter=0)


def _dispatch_state(now: datetime) -> dict[str, Any]:
    """The dispatch columns of an event recorded at ``now``: leased to the task about to be
    enqueued, or, inside ``events_recorded_as_history()``, dispatched already."""
    if _recording_history.get():
        return {
            "is_history": True,
            "dispatched_at": now,
            "next_dispatch_at": None,
            "dispatch_enqueued_at": None,
            "dispatch_enqueues": 0,
        }
    return {
        "is_history": False,
        "dispatched_at": None,
        "next_dispatch_at": now + dispatch_lease(1),
        "dispatch_enqueued_at": now,
        "dispatch_enqueues": 1,
    }


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
    # The catalogue refuses a platform type no app declared and holds the payload to its model.
    event_record_check(type, payload)
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
        **_dispatch_state(now),
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

    if not event.is_history:
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
    "is_history",
    "dispatched_at",
    "next_dispatch_at",
    "dispatch_enqueued_at",
    "dispatch_enqueues",
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
    event_records_check((spec.type, spec.payload) for spec in events)
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
    if created and not _recording_history.get():
        if len(created) >= BULK_MIN:
            transaction.on_commit(lambda: _enqueue_dispatch_many(created, merchant.pk))
        else:  # a webhook's or a request's few events join whatever the merchant has waiting
            transaction.on_commit(lambda: _enqueue_pending(merchant.pk, created))
    return ids


def _insert_events(
    merchant: Merchant, events: list[EventSpec], now: datetime
) -> list[tuple[int, str | None]]:
    """Insert the events that do not repeat a dedupe key; their ``(id, dedupe_key)`` by id."""
    fields = [Event._meta.get_field(name) for name in _EVENT_FIELDS]
    dispatch = _dispatch_state(now)
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
            dispatch["is_history"],
            dispatch["dispatched_at"],
            dispatch["next_dispatch_at"],
            dispatch["dispatch_enqueued_at"],
            dispatch["dispatch_enqueues"],
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


def _enqueue_dispatch_many(event_ids: list[int], merchant_id: int, *, bulk: bool = False) -> None:
    """One dispatch task for ``event_ids``, in the bulk lane when they are many or ``bulk``
    (the sweep's catch-up), so they never hold up an order posted alone (``postpurchase.lanes``)."""
    from postpurchase.events.tasks import event_dispatch_many_task

    size = max(len(event_ids), BULK_MIN) if bulk else len(event_ids)
    try:
        event_dispatch_many_task.apply_async(
            kwargs={"event_ids": event_ids, "merchant_id": merchant_id},
            queue=lane("events", size),
        )
    except Exception:
        logger.warning(
            "Could not enqueue dispatch of %s events; the sweep will retry",
            len(event_ids),
            exc_info=True,
        )
        _lease_release(event_ids)


def _enqueue_dispatch(event_id: int, merchant_id: int) -> None:
    """After an event recorded alone: a pending dispatch of its merchant (``events_pending``)."""
    _enqueue_pending(merchant_id, [event_id])


def _enqueue_pending(merchant_id: int, event_ids: list[int], *, bulk: bool = False) -> None:
    """A task that claims and dispatches whatever its merchant has waiting, ``event_ids`` among
    it, unless one is queued already (``postpurchase.pending``); if the broker refuses it, the
    leases of ``event_ids`` are released for the next sweep."""
    from postpurchase.events.tasks import events_pending_task

    def send(flag: str) -> None:
        events_pending_task.apply_async(
            kwargs={"merchant_id": merchant_id, "flag": flag},
            queue=lane("events", BULK_MIN if bulk else len(event_ids)),
        )

    try:
        enqueue_once("events", merchant_id, send)
    except Exception:
        logger.warning(
            "Could not enqueue dispatch of events %s; the sweep will retry",
            event_ids,
            exc_info=True,
        )
        if event_ids:
            _lease_release(event_ids)


def _lease_release(event_ids: list[int]) -> None:
    """No task holds these events after all (the broker refused it): make them due since they
    were leased, so the next sweep enqueues them instead of waiting out the lease."""
    try:
        Event.unscoped.filter(
            pk__in=event_ids, next_dispatch_at__isnull=False, dispatch_enqueued_at__isnull=False
        ).update(
            next_dispatch_at=F("dispatch_enqueued_at"),
            dispatch_enqueued_at=None,
            dispatch_enqueues=0,
        )
    except Exception:
        # The database is gone too: the lease runs out on its own and the sweep finds them then.
        logger.warning("Could not release the dispatch lease of %s events", len(event_ids))


def events_pending(
    *,
    merchant: Merchant,
    event_ids: list[int] | None = None,
    now: datetime | None = None,
    limit: int = PENDING_BATCH,
    consumers: ConsumerRegistry | None = None,
    flag: str = "",
) -> list[int]:
    """Claim the merchant's events waiting for a dispatch task, the oldest first, and dispatch
    them as one batch (``events_dispatch``); returns their ids. With ``event_ids`` (a bulk
    task's, the sweep's), those of them still waiting; without, any of the merchant's, at most
    ``limit``, and a full batch enqueues another task (in the bulk lane).

    An event recorded alone enqueues a task for its merchant rather than for itself, so under
    load the first task to run takes every event that arrived since the last one, and the tasks
    behind it find little or nothing: single orders batch themselves. Waiting means leased to a
    task that has not run (``dispatch_enqueued_at`` set); the claim ends that (the column
    cleared, as after a pass) and leases the events to this pass, under ``SKIP LOCKED``, so two
    tasks never take the same event, a duplicate task takes nothing, and a worker lost
    mid-pass leaves its events to the sweep when the lease runs out. ``flag``: the task's
    ``postpurchase.pending`` flag, cleared before the claim."""
    now = now or timezone.now()
    if not merchant.is_active:
        return []
    started(flag)
    waiting = Event.unscoped.select_for_update(skip_locked=True).filter(
        merchant=merchant, dispatch_enqueued_at__isnull=False, next_dispatch_at__isnull=False
    )
    if event_ids is not None:
        waiting = waiting.filter(pk__in=event_ids)
    with transaction.atomic():
        events = list(waiting.order_by("pk")[: None if event_ids is not None else limit])
        lease_end = now + dispatch_lease(1)
        Event.unscoped.filter(pk__in=[event.pk for event in events]).update(
            dispatch_enqueued_at=None, dispatch_enqueues=0, next_dispatch_at=lease_end
        )
    for event in events:
        event.merchant = merchant
        event.dispatch_enqueued_at, event.dispatch_enqueues = None, 0
        event.next_dispatch_at = lease_end
    if event_ids is None and len(events) >= limit:
        _enqueue_pending(merchant.pk, [], bulk=True)
    events_dispatch(events=events, now=now, consumers=consumers)
    return [event.pk for event in events]


def event_dispatch(
    *, event: Event, now: datetime | None = None, consumers: ConsumerRegistry | None = None
) -> dict[str, str]:
    """Hand ``event`` to every consumer of its type that has not finished: ``events_dispatch``
    of a batch of one. Returns each consumer's status after this pass; nothing (``{}``) for
    history, or while the merchant is inactive (the event keeps its due time, and the sweep
    takes it up after reactivation). An event loaded with no ``next_dispatch_at`` was
    dispatched already (this is a duplicate task): its consumers' statuses, with nothing run or
    written."""
    if event.is_history or not event.merchant.is_active:
        return {}
    if event.next_dispatch_at is None:
        return dict(EventConsumerRun.objects.filter(event=event).values_list("consumer", "status"))
    return events_dispatch(events=[event], now=now, consumers=consumers).get(event.pk, {})


def event_sweep(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH) -> list[int]:
    """Enqueue a dispatch for every due event of an active merchant: a retry that is due, or a
    task whose lease ran out (``postpurchase.outbox.sweep``). Each one's lease is renewed first,
    doubled for each task already enqueued with none run since, so a task still waiting behind a
    backlog is not enqueued again and again. One task per merchant and ``SWEEP_TASK_EVENTS``
    events. Returns the ids enqueued."""
    now = now or timezone.now()
    return sweep(
        Event.unscoped.all(),
        now=now,
        batch=batch_size,
        due_field="next_dispatch_at",
        fields=("dispatch_enqueues",),
        lease=lambda row: dispatch_lease(_enqueues_next(row)),
        mark=lambda row: {"dispatch_enqueued_at": now, "dispatch_enqueues": _enqueues_next(row)},
        enqueue=_enqueue_swept,
    )


def _enqueues_next(row: Row) -> int:
    """The count of tasks enqueued with none run, once the sweep has enqueued this one."""
    _, _, enqueues = row
    return min(enqueues + 1, 1000)


def _enqueue_swept(merchant_id: int, event_ids: list[int]) -> None:
    for chunk in _chunks(sorted(event_ids), SWEEP_TASK_EVENTS):
        _enqueue_dispatch_many(chunk, merchant_id, bulk=True)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
