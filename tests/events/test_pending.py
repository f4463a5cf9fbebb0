"""Events recorded alone batch themselves: each enqueues a dispatch of its merchant's waiting
events (``events_pending``), so the first task to run takes every event that arrived since the
last, and the tasks behind it take nothing. A claim is the merchant's own, skips what another
task holds, and leaves the rest of the guarantees as they were (a failing event retried alone,
history and inactive merchants left alone)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from postpurchase import pending
from postpurchase.events import services, tasks
from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.events.registry import ConsumerRegistry
from postpurchase.events.services import (
    event_record,
    events_pending,
    events_recorded_as_history,
)
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import event_payload

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)  # EVENT_DISPATCH_LEASE_SECONDS
WAIT = 10  # seconds; only reached when something is broken


@pytest.fixture
def enqueued(monkeypatch):
    """What would have gone to the broker: (merchant id, the events named, bulk)."""
    sent = []
    monkeypatch.setattr(
        services,
        "_enqueue_pending",
        lambda merchant_id, event_ids, *, bulk=False: sent.append((merchant_id, event_ids, bulk)),
    )
    return sent


def record(merchant, n=1, at=T0):
    return [
        event_record(
            merchant=merchant,
            type="order.placed",
            payload=event_payload("order.placed", merchant=merchant),
            now=at,
        )[0]
        for _ in range(n)
    ]


def consumer_calls():
    """A registry with one batch consumer of ``order.placed``, and the batches it was given."""
    batches: list[list[int]] = []
    consumers = ConsumerRegistry()
    consumers.subscribe(
        "order.placed",
        "counting",
        lambda event: batches.append([event.pk]),
        batch_handler=lambda events: batches.append([event.pk for event in events]),
    )
    return consumers, batches


def state(event):
    return (
        Event.unscoped.filter(pk=event.pk)
        .values_list("dispatched_at", "next_dispatch_at", "dispatch_enqueued_at")
        .get()
    )


def test_the_first_task_takes_every_waiting_event_and_the_rest_take_nothing(
    merchant_a, merchant_b, enqueued, django_capture_on_commit_callbacks
):
    # given: five events recorded one at a time for A (five tasks enqueued) and one for B
    with django_capture_on_commit_callbacks(execute=True):
        waiting = record(merchant_a, 5)
        other = record(merchant_b)[0]
    consumers, batches = consumer_calls()

    # when: A's tasks run one after another
    first = events_pending(merchant=merchant_a, now=T0 + timedelta(seconds=1), consumers=consumers)
    rest = [
        events_pending(merchant=merchant_a, now=T0 + timedelta(seconds=2), consumers=consumers)
        for _ in range(4)
    ]

    # then: the first took A's five as one batch, in order, and dispatched them; B's waits for its
    # own task
    assert first == [event.pk for event in waiting]
    assert rest == [[], [], [], []]
    assert batches == [[event.pk for event in waiting]]
    done_at = T0 + timedelta(seconds=1)
    assert {state(event) for event in waiting} == {(done_at, None, None)}
    assert state(other) == (None, T0 + LEASE, T0)
    assert enqueued == [(merchant_a.pk, [event.pk], False) for event in waiting] + [
        (merchant_b.pk, [other.pk], False)
    ]


def test_a_full_batch_enqueues_another_task_in_the_bulk_lane(merchant_a, enqueued):
    waiting = record(merchant_a, 5)
    consumers, batches = consumer_calls()
    enqueued.clear()

    taken = events_pending(merchant=merchant_a, now=T0, limit=3, consumers=consumers)

    assert taken == [event.pk for event in waiting[:3]]
    assert enqueued == [(merchant_a.pk, [], True)]
    assert events_pending(merchant=merchant_a, now=T0, limit=3, consumers=consumers) == [
        event.pk for event in waiting[3:]
    ]
    assert enqueued == [(merchant_a.pk, [], True)]  # two of three: nothing more waits
    assert batches == [[e.pk for e in waiting[:3]], [e.pk for e in waiting[3:]]]


def test_history_retries_not_due_and_dispatched_events_are_not_claimed(merchant_a, enqueued):
    # given: history, an event whose consumer failed (its retry not due: no task holds it), and
    # an event dispatched already
    with events_recorded_as_history():
        history = record(merchant_a)[0]
    failing_consumers = ConsumerRegistry()

    def fail(event):
        raise RuntimeError("provider down")

    failing_consumers.subscribe("order.placed", "failing", fail)
    retry = record(merchant_a)[0]
    assert events_pending(merchant=merchant_a, now=T0, consumers=failing_consumers) == [retry.pk]
    consumers, batches = consumer_calls()
    done = record(merchant_a)[0]
    assert events_pending(merchant=merchant_a, now=T0, consumers=consumers) == [done.pk]

    # when: another task runs
    taken = events_pending(merchant=merchant_a, now=T0 + timedelta(seconds=5), consumers=consumers)

    # then: nothing was waiting for it
    assert taken == []
    assert batches == [[done.pk]]
    assert state(history)[1:] == (None, None)
    run = EventConsumerRun.objects.get(event=retry, consumer="failing")
    assert (run.status, run.attempts) == (ConsumerRunStatus.FAILED, 1)
    assert state(retry) == (None, run.next_attempt_at, None)


def test_a_bulk_task_takes_only_its_own_events_still_waiting(merchant_a, enqueued):
    mine = record(merchant_a, 3)
    consumers, batches = consumer_calls()
    # one of them taken by a pending task already
    events_pending(merchant=merchant_a, now=T0, limit=1, consumers=consumers)
    later = record(merchant_a)[0]

    taken = events_pending(
        merchant=merchant_a, event_ids=[e.pk for e in mine], now=T0, consumers=consumers
    )

    assert taken == [mine[1].pk, mine[2].pk]
    assert batches == [[mine[0].pk], [mine[1].pk, mine[2].pk]]
    assert state(later) == (None, T0 + LEASE, T0)


def test_a_claim_leases_the_events_to_its_pass_for_the_sweep(merchant_a, enqueued):
    # given: a pass that dies inside its consumer (the worker is lost)
    event = record(merchant_a)[0]
    consumers = ConsumerRegistry()

    def lost(events):
        raise SystemExit("worker lost")

    consumers.subscribe("order.placed", "lost", lambda e: None, batch_handler=lost)
    with pytest.raises(SystemExit):
        events_pending(merchant=merchant_a, now=T0 + timedelta(minutes=1), consumers=consumers)

    # then: no task takes it again; the sweep does once the claim's lease is over
    assert state(event) == (None, T0 + timedelta(minutes=1) + LEASE, None)
    assert events_pending(merchant=merchant_a, now=T0 + timedelta(minutes=2)) == []
    swept = services.event_sweep(now=T0 + timedelta(minutes=1) + LEASE)
    assert swept == [event.pk]


def test_nothing_is_claimed_for_an_inactive_merchant(merchant_a, enqueued):
    event = record(merchant_a)[0]
    merchant_a.is_active = False
    merchant_a.save()

    assert events_pending(merchant=merchant_a, now=T0) == []
    assert state(event) == (None, T0 + LEASE, T0)
    assert tasks.events_pending_task.run(merchant_id=merchant_a.pk) is None


@pytest.mark.django_db(transaction=True)
def test_two_tasks_at_once_never_take_the_same_event(merchant_a, enqueued):
    # given: four waiting events, and a consumer that holds the first task inside its batch
    waiting = record(merchant_a, 4)
    inside, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def slow(events):
        batches.append([event.pk for event in events])
        if len(batches) == 1:
            inside.set()
            assert release.wait(WAIT), "the test never released the first task"

    consumers = ConsumerRegistry()
    consumers.subscribe("order.placed", "slow", lambda e: None, batch_handler=slow)

    def task(limit):
        try:
            with merchant_scope(merchant_a):
                return events_pending(merchant=merchant_a, now=T0, limit=limit, consumers=consumers)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(task, 2)
        assert inside.wait(WAIT)
        # when: a second task runs while the first is inside its pass
        second = pool.submit(task, 10).result(timeout=WAIT)
        release.set()
        first_taken = first.result(timeout=WAIT)

    # then: each took its own; every event ran once
    assert first_taken == [e.pk for e in waiting[:2]]
    assert second == [e.pk for e in waiting[2:]]
    assert sorted(batches) == [[e.pk for e in waiting[:2]], [e.pk for e in waiting[2:]]]
    assert Event.unscoped.filter(dispatched_at=T0).count() == 4


def test_one_task_waits_per_merchant_until_it_starts(
    merchant_a, merchant_b, monkeypatch, django_capture_on_commit_callbacks
):
    # given: the broker as a list
    sent = []
    monkeypatch.setattr(
        tasks.events_pending_task,
        "apply_async",
        lambda kwargs, queue: sent.append((kwargs["merchant_id"], queue)),
    )
    flags = []
    real = services.events_pending

    # when: three events recorded for A, each in its own transaction, and one for B
    with django_capture_on_commit_callbacks(execute=True):
        record(merchant_a)
    with django_capture_on_commit_callbacks(execute=True):
        record(merchant_a)
        record(merchant_b)
    # then: one task each, the second event of A joining the first's
    assert sent == [(merchant_a.pk, "events"), (merchant_b.pk, "events")]

    # when: A's task starts (its flag cleared) and a new event of A comes after
    monkeypatch.setattr(
        tasks.events_pending_task, "apply_async", lambda kwargs, queue: flags.append(kwargs["flag"])
    )
    with django_capture_on_commit_callbacks(execute=True):
        record(merchant_a)
    assert flags == []  # A's first task has not started: still flagged
    with merchant_scope(merchant_a):
        taken = real(merchant=merchant_a, flag=f"{pending.KEY_PREFIX}:events:{merchant_a.pk}")
    with django_capture_on_commit_callbacks(execute=True):
        record(merchant_a)

    # then: the task took all three of A's, and the event after it enqueued a task of its own
    assert len(taken) == 3
    assert flags == [f"{pending.KEY_PREFIX}:events:{merchant_a.pk}"]


def test_a_refused_send_leaves_no_flag_behind(merchant_a, monkeypatch):
    def refuse(flag):
        raise ConnectionRefusedError("broker down")

    with pytest.raises(ConnectionRefusedError):
        pending.enqueue_once("events", merchant_a.pk, refuse)

    sent = []
    assert pending.enqueue_once("events", merchant_a.pk, sent.append) is True
    assert pending.enqueue_once("events", merchant_a.pk, sent.append) is False
    assert sent == [f"{pending.KEY_PREFIX}:events:{merchant_a.pk}"]
