"""Handing a batch of events to their consumers, exactly once per consumer (the event log's
second half; ``postpurchase.events.services`` records events, claims them for a pass and sweeps).

``events_dispatch`` takes a batch: per merchant and consumer, one transaction holds the
consumer's work on the whole batch and its ``DONE`` markers. A consumer that gives a batch
handler takes the batch in one call; if that raises, its work is rolled back and each event is
handed to it alone, so a failing event fails alone: it is recorded with the time of its next
attempt (``RETRY_BACKOFF``) and retried alone, never in a batch. After the pass each event is
settled: dispatched, or due again at its first consumer's retry. docs/spine.md has the whole.
"""

from __future__ import annotations

import logging
import traceback
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.events.registry import Consumer, ConsumerRegistry, registry
from postpurchase.outbox import Backoff
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

logger = logging.getLogger(__name__)

# A consumer that another worker is running right now is looked at again this much later.
DISPATCH_GRACE = timedelta(minutes=2)
# A failed consumer is retried after 30 s, 1 m, 2 m, 4 m, … up to 6 h (each less up to a quarter).
RETRY_BACKOFF = Backoff(base=timedelta(seconds=30), factor=2, cap=timedelta(hours=6))
MAX_ATTEMPTS = 12  # the last retry comes some 11 to 15 hours after the first failure


def events_dispatch(
    *,
    events: Iterable[Event],
    now: datetime | None = None,
    consumers: ConsumerRegistry | None = None,
) -> dict[int, dict[str, str]]:
    """Hand a batch of events to their consumers: per merchant, each consumer takes all of its
    events in one transaction with their markers (its ``batch_handler``, or ``handler`` for each
    event in turn), so a batch costs a few statements per consumer rather than a few per event.
    History, events dispatched already (no ``next_dispatch_at``: a duplicate task) and the
    events of an inactive merchant are left alone. Returns, per event handed over, each
    consumer's status after this pass (``busy``: another worker holds its marker right now;
    ``waiting``: its retry is not due)."""
    now = now or timezone.now()
    consumers = consumers or registry
    by_merchant: dict[int, list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: e.pk):
        if not event.is_history and event.next_dispatch_at is not None:
            by_merchant[event.merchant_id].append(event)
    outcomes: dict[int, dict[str, str]] = {}
    for _, batch in sorted(by_merchant.items()):
        merchant = batch[0].merchant
        if merchant.is_active:
            outcomes.update(_merchant_dispatch(merchant, batch, now, consumers))
    return outcomes


def _merchant_dispatch(
    merchant: Merchant, events: list[Event], now: datetime, consumers: ConsumerRegistry
) -> dict[int, dict[str, str]]:
    wanted = {event.pk: consumers.consumers_for(event.type) for event in events}
    outcome: dict[int, dict[str, str]] = {event.pk: {} for event in events}
    retries: dict[int, list[datetime]] = defaultdict(list)
    with merchant_scope(merchant):
        _markers_create([(e.pk, c.name, e.recorded_at) for e in events for c in wanted[e.pk]], now)
        # Consumers in the order they subscribed, each with the events it wants.
        order = {c.name: c for event in events for c in wanted[event.pk]}
        for consumer in order.values():
            its = [event for event in events if consumer in wanted[event.pk]]
            for pk, (status, retry_at) in _consumer_run(consumer, its, now).items():
                outcome[pk][consumer.name] = status
                if retry_at is not None:
                    retries[pk].append(retry_at)
                elif status == "busy":
                    # Another worker holds it; look again after the grace period.
                    retries[pk].append(now + DISPATCH_GRACE)
    _events_settle(outcome, retries, now)
    return outcome


MARKERS_PER_STATEMENT = 1000


def _markers_create(pairs: list[tuple[int, str, datetime]], now: datetime) -> None:
    """Every missing marker of ``(event id, consumer name, event's recorded_at)``, committed at
    once so that concurrent dispatchers agree on them, in a plain multi-row ``INSERT … ON
    CONFLICT DO NOTHING`` (PostgreSQL and SQLite; a model per row costs more than the insert).
    The event's ``recorded_at`` is the table's partition key (docs/retention.md)."""
    table = EventConsumerRun._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    stamp = adapt(now)
    for start in range(0, len(pairs), MARKERS_PER_STATEMENT):
        chunk = pairs[start : start + MARKERS_PER_STATEMENT]
        values = ", ".join(["(%s, %s, %s, 0, '', %s, %s)"] * len(chunk))
        params = [
            value
            for event_id, name, recorded_at in chunk
            for value in (event_id, name, ConsumerRunStatus.FAILED.value, stamp, adapt(recorded_at))
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (event_id, consumer, status, attempts, last_error, "  # noqa: S608
                f"updated_at, event_recorded_at) VALUES {values} "
                "ON CONFLICT (event_id, consumer, event_recorded_at) DO NOTHING",
                params,
            )


def _consumer_run(
    consumer: Consumer, events: list[Event], now: datetime
) -> dict[int, tuple[str, datetime | None]]:
    """One consumer on a batch of events, in one transaction with their markers. Per event, its
    status and, when it failed, the time of its next attempt."""
    result: dict[int, tuple[str, datetime | None]] = {}
    recorded = sorted({event.recorded_at for event in events})
    with transaction.atomic():
        # The markers as plain rows (a model per row costs more than the query); locked.
        runs = {
            row[1]: row
            for row in EventConsumerRun.objects.select_for_update(skip_locked=True)
            .filter(
                event_id__in=[event.pk for event in events],
                consumer=consumer.name,
                # the partitions of the batch's months only (runs are dated by their event)
                event_recorded_at__in=recorded,
            )
            .values_list("pk", "event_id", "status", "attempts", "next_attempt_at")
        }
        fresh, alone = [], []
        for event in events:
            if event.pk not in runs:
                result[event.pk] = ("busy", None)
                continue
            _, _, status, attempts, next_attempt_at = runs[event.pk]
            if status != ConsumerRunStatus.FAILED:
                result[event.pk] = (status, None)
            elif next_attempt_at is not None and next_attempt_at > now:
                result[event.pk] = ("waiting", next_attempt_at)
            elif attempts == 0 and consumer.batch_handler is not None:
                fresh.append(event)
            else:  # a retry, or a consumer that takes one event at a time
                alone.append(event)
        done = _batch_run(consumer, fresh)
        if len(done) < len(fresh):
            alone = sorted([*fresh, *alone], key=lambda e: e.pk)
        for event in alone:
            try:
                with transaction.atomic():
                    consumer.handler(event)
            except Exception as exc:
                run = EventConsumerRun.objects.get(pk=runs[event.pk][0])
                _run_failed(run, consumer, exc, now)
                result[event.pk] = (run.status, run.next_attempt_at)
            else:
                done.append(event)
        EventConsumerRun.objects.filter(
            pk__in=[runs[event.pk][0] for event in done], event_recorded_at__in=recorded
        ).update(
            status=ConsumerRunStatus.DONE,
            attempts=F("attempts") + 1,
            finished_at=now,
            next_attempt_at=None,
            last_error="",
            updated_at=now,
        )
        for event in done:
            result[event.pk] = (ConsumerRunStatus.DONE, None)
    return result


def _batch_run(consumer: Consumer, events: list[Event]) -> list[Event]:
    """The consumer's batch handler on ``events``: all of them done, or (it raised, its work
    rolled back) none, each to be run alone."""
    if not events:
        return []
    try:
        with transaction.atomic():
            consumer.batch_handler(events)
    except Exception:
        logger.warning(
            "Consumer %s failed on a batch of %s events; each is run alone",
            consumer.name,
            len(events),
            exc_info=True,
        )
        return []
    return list(events)


def _run_failed(run: EventConsumerRun, consumer: Consumer, exc: Exception, now: datetime) -> None:
    """Record a failed attempt on its marker: the next one after ``RETRY_BACKOFF``, or given up
    after ``MAX_ATTEMPTS``."""
    run.attempts += 1
    run.updated_at = now
    run.last_error = "".join(traceback.format_exception(exc))[-4000:]
    if run.attempts >= MAX_ATTEMPTS:
        run.status = ConsumerRunStatus.GAVE_UP
        run.finished_at = now
        run.next_attempt_at = None
        logger.error(
            "Consumer %s gave up on event %s after %s attempts",
            consumer.name,
            run.event_id,
            run.attempts,
        )
    else:
        run.next_attempt_at = now + RETRY_BACKOFF.delay(run.attempts)
        logger.warning(
            "Consumer %s failed on event %s (attempt %s); retry at %s",
            consumer.name,
            run.event_id,
            run.attempts,
            run.next_attempt_at,
        )
    run.save()


def _events_settle(
    outcome: dict[int, dict[str, str]], retries: dict[int, list[datetime]], now: datetime
) -> None:
    """A pass ran, so no task of these events is lost: their lease and count of enqueues end
    here. An event all of whose consumers finished is dispatched; any other is due again at its
    first consumer's retry (or after the grace period)."""
    passed = {"dispatch_enqueued_at": None, "dispatch_enqueues": 0}
    finished = (ConsumerRunStatus.DONE, ConsumerRunStatus.GAVE_UP)
    settled, again = [], defaultdict(list)
    for pk, statuses in outcome.items():
        if all(status in finished for status in statuses.values()):
            settled.append(pk)
        else:
            again[min(retries[pk]) if retries[pk] else now + DISPATCH_GRACE].append(pk)
    if settled:
        Event.unscoped.filter(pk__in=settled).update(
            dispatched_at=Coalesce("dispatched_at", Value(now)), next_dispatch_at=None, **passed
        )
    for due, pks in sorted(again.items()):
        Event.unscoped.filter(pk__in=pks).update(next_dispatch_at=due, **passed)
