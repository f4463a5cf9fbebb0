"""The event log: recording, dispatch once per consumer, retries with backoff, and the sweep."""

from datetime import UTC, datetime, timedelta

import pytest

from postpurchase.errors import DomainError
from postpurchase.events import dispatch, services
from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.events.registry import ConsumerRegistry, registry
from postpurchase.events.services import event_dispatch, event_record, event_sweep
from postpurchase.outbox import Backoff
from tests.factories import CustomerFactory, event_payload

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def placed(merchant):
    """A real order's ``order.placed`` payload: the suite records events strictly."""
    return event_payload("order.placed", merchant=merchant)


@pytest.fixture
def consumers():
    """A registry of its own, so tests never see the apps' real consumers."""
    return ConsumerRegistry()


@pytest.fixture
def calls():
    return []


def test_record_is_idempotent_on_the_dedupe_key(merchant_a):
    # when
    first, created_1 = event_record(
        merchant=merchant_a,
        type="order.placed",
        payload=placed(merchant_a),
        dedupe_key="order.placed:1",
        now=T0,
    )
    again, created_2 = event_record(
        merchant=merchant_a,
        type="order.placed",
        payload=placed(merchant_a),
        dedupe_key="order.placed:1",
        now=T0,
    )

    # then
    assert (created_1, created_2) == (True, False)
    assert again.pk == first.pk
    assert Event.unscoped.count() == 1
    # leased to the dispatch task enqueued after commit, for EVENT_DISPATCH_LEASE_SECONDS
    assert (first.next_dispatch_at, first.dispatch_enqueued_at, first.dispatch_enqueues) == (
        T0 + timedelta(minutes=10),
        T0,
        1,
    )


def test_same_dedupe_key_is_independent_per_merchant(merchant_a, merchant_b):
    event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), dedupe_key="k", now=T0
    )
    event_record(
        merchant=merchant_b, type="order.placed", payload=placed(merchant_b), dedupe_key="k", now=T0
    )

    assert Event.unscoped.count() == 2


@pytest.mark.parametrize("bad", ["placed", "Order.Placed", "order..placed", "order placed", ""])
def test_bad_event_types_are_refused(merchant_a, bad):
    with pytest.raises(DomainError) as excinfo:
        event_record(merchant=merchant_a, type=bad)
    assert excinfo.value.field == "type"
    assert Event.unscoped.count() == 0


def test_dispatch_is_enqueued_after_commit_only(
    merchant_a, django_capture_on_commit_callbacks, monkeypatch
):
    # given
    enqueued = []
    monkeypatch.setattr(services, "_enqueue_dispatch", lambda e, m: enqueued.append((e, m)))

    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event, _ = event_record(
            merchant=merchant_a, type="order.placed", payload=placed(merchant_a)
        )
        assert enqueued == []

    # then
    assert len(callbacks) == 1
    assert enqueued == [(event.pk, merchant_a.pk)]


def test_each_consumer_runs_once_per_event(merchant_a, consumers, calls):
    # given
    customer = CustomerFactory(merchant=merchant_a)
    consumers.subscribe("order.placed", "a", lambda e: calls.append(("a", e.pk)))
    consumers.subscribe(["order.placed", "order.updated"], "b", lambda e: calls.append(("b", e.pk)))
    consumers.subscribe("shipment.delivered", "c", lambda e: calls.append(("c", e.pk)))
    event, _ = event_record(
        merchant=merchant_a,
        type="order.placed",
        payload=placed(merchant_a),
        customer=customer,
        now=T0,
    )

    # when
    first = event_dispatch(event=event, now=T0, consumers=consumers)
    second = event_dispatch(event=event, now=T0 + timedelta(minutes=5), consumers=consumers)

    # then
    assert first == {"a": "done", "b": "done"}
    assert second == {"a": "done", "b": "done"}
    assert sorted(calls) == [("a", event.pk), ("b", event.pk)]
    event.refresh_from_db()
    assert event.dispatched_at == T0
    assert event.next_dispatch_at is None


def test_consumer_runs_inside_the_merchant_scope(merchant_a, consumers, calls):
    # given
    from orders.models import Customer

    CustomerFactory(merchant=merchant_a, email="seen@example.net")
    consumers.subscribe(
        "*", "reader", lambda e: calls.extend(Customer.objects.values_list("email", flat=True))
    )
    event, _ = event_record(merchant=merchant_a, type="custom.thing", now=T0)

    # when
    event_dispatch(event=event, now=T0, consumers=consumers)

    # then
    assert calls == ["seen@example.net"]


def test_a_failing_consumer_is_retried_with_backoff_and_its_writes_rolled_back(
    merchant_a, consumers, calls, monkeypatch
):
    # given
    # waits of 1 and 2 minutes, without jitter
    one_minute = Backoff(base=timedelta(minutes=1), factor=2, cap=timedelta(hours=1), jitter=0)
    monkeypatch.setattr(dispatch, "RETRY_BACKOFF", one_minute)
    outcomes = iter([RuntimeError("ESP down"), RuntimeError("still down"), None])

    def flaky(event):
        CustomerFactory(merchant=merchant_a, email=f"attempt{len(calls)}@example.net")
        calls.append(event.pk)
        outcome = next(outcomes)
        if outcome:
            raise outcome

    consumers.subscribe("order.placed", "flaky", flaky)
    consumers.subscribe("order.placed", "steady", lambda e: None)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )

    # when: the first attempt fails
    first = event_dispatch(event=event, now=T0, consumers=consumers)
    run = EventConsumerRun.objects.get(event=event, consumer="flaky")
    event.refresh_from_db()

    # then
    assert first == {"flaky": "failed", "steady": "done"}
    assert (run.attempts, run.next_attempt_at) == (1, T0 + timedelta(minutes=1))
    assert "ESP down" in run.last_error
    assert event.next_dispatch_at == T0 + timedelta(minutes=1)
    assert event.dispatched_at is None
    from orders.models import Customer

    assert Customer.unscoped.count() == 0  # the failed attempt's write was rolled back

    # when: dispatched again before the retry is due, nothing runs
    early = event_dispatch(event=event, now=T0 + timedelta(seconds=30), consumers=consumers)
    assert early == {"flaky": "waiting", "steady": "done"}
    assert len(calls) == 1

    # when: retried twice more at the due times
    event_dispatch(event=event, now=T0 + timedelta(minutes=1), consumers=consumers)
    run.refresh_from_db()
    assert (run.attempts, run.next_attempt_at) == (2, T0 + timedelta(minutes=3))
    last = event_dispatch(event=event, now=T0 + timedelta(minutes=3), consumers=consumers)

    # then
    run.refresh_from_db()
    event.refresh_from_db()
    assert last == {"flaky": "done", "steady": "done"}
    assert (run.status, run.attempts, run.last_error) == ("done", 3, "")
    assert len(calls) == 3
    assert Customer.unscoped.count() == 1
    assert event.dispatched_at == T0 + timedelta(minutes=3)


def test_a_consumer_gives_up_after_the_last_attempt(merchant_a, consumers, monkeypatch):
    # given
    monkeypatch.setattr(dispatch, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(dispatch, "RETRY_BACKOFF", Backoff(base=timedelta(0), cap=timedelta(0)))

    def broken(event):
        raise ValueError("bad template")

    consumers.subscribe("order.placed", "broken", broken)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )

    # when
    event_dispatch(event=event, now=T0, consumers=consumers)
    outcome = event_dispatch(event=event, now=T0, consumers=consumers)

    # then
    run = EventConsumerRun.objects.get()
    event.refresh_from_db()
    assert outcome == {"broken": ConsumerRunStatus.GAVE_UP}
    assert run.attempts == 2
    assert event.next_dispatch_at is None
    assert event.dispatched_at == T0


def test_a_failed_consumer_waits_30_seconds_doubled_each_time_up_to_6_hours():
    import random

    # when
    ceilings = [dispatch.RETRY_BACKOFF.ceiling(n) for n in (1, 2, 3, 4, 11, 12, 20)]
    delays = [dispatch.RETRY_BACKOFF.delay(n, rng=random.Random(7)) for n in (1, 2, 20)]

    # then: each wait is its ceiling less up to a quarter (random.Random(7) draws 0.3238...)
    seconds = [30, 60, 120, 240, 6 * 3600, 6 * 3600, 6 * 3600]
    assert ceilings == [timedelta(seconds=s) for s in seconds]
    fraction = 0.75 + 0.25 * random.Random(7).random()
    assert delays == [
        timedelta(seconds=30) * fraction,
        timedelta(minutes=1) * fraction,
        timedelta(hours=6) * fraction,
    ]


def test_sweep_redispatches_events_whose_dispatch_was_lost(merchant_a, monkeypatch):
    # given: two events whose dispatch task never ran, one still inside its lease
    enqueued = []
    monkeypatch.setattr(
        services, "_enqueue_dispatch_many", lambda e, m, bulk=False: enqueued.append((e, m))
    )
    lost, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )
    event_record(
        merchant=merchant_a,
        type="order.placed",
        payload=placed(merchant_a),
        now=T0 + timedelta(minutes=2),
    )

    # when
    swept = event_sweep(now=T0 + timedelta(minutes=10))
    swept_again = event_sweep(now=T0 + timedelta(minutes=10))

    # then
    assert swept == [lost.pk]
    assert enqueued == [([lost.pk], merchant_a.pk)]
    assert swept_again == []  # not re-enqueued while its new task waits in the queue
    lost.refresh_from_db()
    assert lost.next_dispatch_at == T0 + timedelta(minutes=10 + 20)


def test_sweep_then_dispatch_delivers_a_lost_event_to_the_real_registry(merchant_a, monkeypatch):
    # given: a consumer registered the way apps do it, and an event whose task was lost
    calls = []
    monkeypatch.setattr(services, "_enqueue_dispatch", lambda e, m: None)
    with registry.temporarily("order.placed", "tests.sweep", lambda e: calls.append(e.pk)):
        event, _ = event_record(
            merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
        )

        # when: the sweep finds it and the dispatch task runs
        from postpurchase.events.tasks import event_dispatch_many_task

        monkeypatch.setattr(
            services,
            "_enqueue_dispatch_many",
            lambda e, m, bulk=False: event_dispatch_many_task.run(event_ids=e, merchant_id=m),
        )
        event_sweep(now=T0 + timedelta(minutes=10))
        event_sweep(now=T0 + timedelta(minutes=20))

    # then
    assert calls == [event.pk]
    event.refresh_from_db()
    assert event.next_dispatch_at is None
