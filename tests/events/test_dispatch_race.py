"""Dispatchers racing on one event on PostgreSQL: each consumer still runs exactly once.

Each dispatcher runs in a thread of its own, so on a connection and in transactions of its own,
as two Celery workers would. Threads are synchronised with events and a barrier, each wait with
a timeout, so a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from postpurchase.events import services
from postpurchase.events.dispatch import DISPATCH_GRACE
from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.events.registry import ConsumerRegistry
from postpurchase.events.services import event_dispatch, event_record
from tests.factories import event_payload

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
WAIT = 10  # seconds; only reached when something is broken


def placed(merchant):
    """A real order's ``order.placed`` payload: the suite records events strictly."""
    return event_payload("order.placed", merchant=merchant)


@pytest.fixture
def event(merchant_a, monkeypatch):
    # The dispatch task is what these tests call by hand; nothing goes to the broker.
    monkeypatch.setattr(services, "_enqueue_dispatch", lambda event_id, merchant_id: None)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )
    return event


def dispatch_in_own_connection(event_id: int, now: datetime, consumers: ConsumerRegistry):
    """``event_dispatch`` as a worker runs it: the event loaded afresh, its own connection."""
    try:
        return event_dispatch(event=Event.unscoped.get(pk=event_id), now=now, consumers=consumers)
    finally:
        connection.close()


def event_state(event_id: int) -> tuple[datetime | None, datetime | None]:
    return Event.unscoped.filter(pk=event_id).values_list("dispatched_at", "next_dispatch_at").get()


def test_second_dispatcher_finds_the_consumer_busy_and_it_runs_once(event):
    # given: a consumer that stays inside its transaction, holding its marker's row lock, until
    # the test lets it go
    entered, release = threading.Event(), threading.Event()
    calls = []

    def slow(received):
        entered.set()
        if not release.wait(WAIT):
            raise TimeoutError("the test never released the consumer")
        calls.append(received.pk)

    consumers = ConsumerRegistry()
    consumers.subscribe("order.placed", "slow", slow)
    later = T0 + timedelta(seconds=5)

    with ThreadPoolExecutor(max_workers=2) as pool:
        try:
            # when: the first dispatcher is inside the consumer
            first = pool.submit(dispatch_in_own_connection, event.pk, T0, consumers)
            assert entered.wait(WAIT), "the first dispatcher never reached the consumer"

            # and a second dispatcher of the same event runs meanwhile
            second = pool.submit(dispatch_in_own_connection, event.pk, later, consumers)
            second_outcome = second.result(timeout=WAIT)

            # then: it skipped the locked marker and asked to be looked at again after the grace
            assert second_outcome == {"slow": "busy"}
            assert event_state(event.pk) == (None, later + DISPATCH_GRACE)
            assert calls == []

            # when: the first dispatcher's consumer finishes
            release.set()
            first_outcome = first.result(timeout=WAIT)
        finally:
            release.set()  # whatever failed above, the first dispatcher is not left waiting

    # then: the consumer ran once and the event is dispatched
    assert first_outcome == {"slow": "done"}
    assert calls == [event.pk]
    run = EventConsumerRun.objects.get(event_id=event.pk)
    assert (run.consumer, run.status, run.attempts) == ("slow", ConsumerRunStatus.DONE, 1)
    assert event_state(event.pk) == (T0, None)

    # and a dispatch after that (the sweep's, say) does not run it again
    assert dispatch_in_own_connection(event.pk, later, consumers) == {"slow": "done"}
    assert calls == [event.pk]
    assert event_state(event.pk) == (T0, None)


def run_together(count: int, target) -> list:
    """``target()`` in ``count`` threads released at the same moment; their results in order."""
    start = threading.Barrier(count, timeout=WAIT)

    def at_the_barrier():
        start.wait()
        return target()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(at_the_barrier) for _ in range(count)]
        return [future.result(timeout=2 * WAIT) for future in futures]


def test_dispatchers_starting_together_run_the_consumer_once(event):
    # given: four dispatchers released together; whichever wins the consumer's marker holds it
    # until the three others have returned, so each of them meets it locked
    count = 4
    returned_lock = threading.Lock()
    returned = []
    all_others_returned = threading.Event()
    calls = []

    def hold_until_others_returned(received):
        calls.append(received.pk)
        if not all_others_returned.wait(WAIT):
            raise TimeoutError("the other dispatchers never returned")

    consumers = ConsumerRegistry()
    consumers.subscribe("order.placed", "holder", hold_until_others_returned)

    def dispatcher():
        outcome = dispatch_in_own_connection(event.pk, T0, consumers)
        with returned_lock:
            returned.append(outcome)
            if len(returned) == count - 1:
                all_others_returned.set()
        return outcome

    # when
    outcomes = run_together(count, dispatcher)

    # then
    assert calls == [event.pk]
    assert sorted(o["holder"] for o in outcomes) == ["busy", "busy", "busy", "done"]
    run = EventConsumerRun.objects.get(event_id=event.pk)
    assert (run.status, run.attempts) == (ConsumerRunStatus.DONE, 1)
    assert event_state(event.pk)[0] == T0


@pytest.mark.parametrize("attempt", range(5))
def test_free_running_dispatchers_never_run_a_consumer_twice(event, attempt):
    # given: two consumers that return at once, so the dispatchers interleave freely
    calls = []
    consumers = ConsumerRegistry()
    consumers.subscribe("order.placed", "first", lambda e: calls.append(("first", e.pk)))
    consumers.subscribe("order.placed", "second", lambda e: calls.append(("second", e.pk)))

    # when
    outcomes = run_together(4, lambda: dispatch_in_own_connection(event.pk, T0, consumers))

    # then: each ran once; every dispatcher saw each consumer done or busy, nothing else
    assert sorted(calls) == [("first", event.pk), ("second", event.pk)]
    assert {status for outcome in outcomes for status in outcome.values()} <= {"done", "busy"}
    runs = EventConsumerRun.objects.filter(event_id=event.pk).order_by("consumer")
    assert [(r.consumer, r.status, r.attempts) for r in runs] == [
        ("first", ConsumerRunStatus.DONE, 1),
        ("second", ConsumerRunStatus.DONE, 1),
    ]

    # and the next dispatch (a busy dispatcher asked for one) finishes the event, running nothing
    later = T0 + DISPATCH_GRACE
    assert dispatch_in_own_connection(event.pk, later, consumers) == {
        "first": "done",
        "second": "done",
    }
    assert len(calls) == 2
    assert event_state(event.pk)[1] is None


@pytest.mark.parametrize("attempt", range(3))
def test_dispatchers_of_overlapping_batches_hand_each_event_over_once(
    merchant_a, monkeypatch, attempt
):
    # given: six events, and four dispatchers of overlapping batches (a task and the sweep's
    # duplicates), each with its own connection, released together
    monkeypatch.setattr(services, "_enqueue_dispatch", lambda event_id, merchant_id: None)
    events = [
        event_record(merchant=merchant_a, type="a.b", payload={"n": n}, now=T0)[0] for n in range(6)
    ]
    ids = [e.pk for e in events]
    lock = threading.Lock()
    handed = []

    def many(batch):
        with lock:
            handed.extend(("batch", e.pk) for e in batch)

    def one(event):
        with lock:
            handed.append(("alone", event.pk))

    consumers = ConsumerRegistry()
    consumers.subscribe("*", "c", one, batch_handler=many)
    slices = [ids[0:4], ids[2:6], ids[1:5], ids]

    def dispatcher(chosen):
        def run():
            try:
                found = Event.unscoped.filter(pk__in=chosen).select_related("merchant")
                return services.events_dispatch(events=list(found), now=T0, consumers=consumers)
            finally:
                connection.close()

        return run

    order = iter(slices)
    outcomes = run_together(len(slices), lambda: dispatcher(next(order))())

    # then: each event went to the consumer once, in a batch; others saw it done or busy
    assert sorted(pk for _, pk in handed) == ids
    assert {how for how, _ in handed} == {"batch"}
    statuses = {s["c"] for outcome in outcomes for s in outcome.values()}
    assert statuses <= {"done", "busy"}
    runs = EventConsumerRun.objects.filter(event_id__in=ids, consumer="c")
    assert sorted((r.event_id, r.status, r.attempts) for r in runs) == [
        (pk, ConsumerRunStatus.DONE, 1) for pk in ids
    ]
