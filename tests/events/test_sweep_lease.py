"""The sweep under a backlog: a queued dispatch task holds a lease on its event, so the sweep
does not enqueue it again while it waits, finds it once the lease has run out (a lost message),
and doubles the lease each time it has to. History is never dispatched, and nothing is for an
inactive merchant until it is reactivated."""

from datetime import UTC, datetime, timedelta

import pytest

from postpurchase.events import dispatch, services, tasks
from postpurchase.events.models import Event, EventConsumerRun
from postpurchase.events.registry import ConsumerRegistry, registry
from postpurchase.events.services import (
    EventSpec,
    event_dispatch,
    event_record,
    event_record_many,
    event_sweep,
    events_recorded_as_history,
)
from postpurchase.outbox import Backoff
from postpurchase.tenancy.models import Merchant
from tests.factories import CustomerFactory, event_payload

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def placed(merchant):
    """A real order's ``order.placed`` payload: the suite records events strictly."""
    return event_payload("order.placed", merchant=merchant)


MINUTE = timedelta(minutes=1)


@pytest.fixture
def enqueued(monkeypatch):
    """What the event log hands to the broker, in order: ``(event ids, merchant id)``."""
    sent: list[tuple[list[int], int]] = []
    monkeypatch.setattr(services, "_enqueue_dispatch", lambda e, m: sent.append(([e], m)))
    monkeypatch.setattr(
        services,
        "_enqueue_dispatch_many",
        lambda e, m, bulk=False: sent.append((e, m)),
    )
    return sent


def lease_of(event: Event) -> tuple[datetime | None, datetime | None, int]:
    event.refresh_from_db()
    return event.next_dispatch_at, event.dispatch_enqueued_at, event.dispatch_enqueues


def test_sweep_leaves_a_queued_dispatch_alone_until_its_lease_runs_out(merchant_a, enqueued):
    # given: an event whose dispatch task was enqueued at T0 and waits in the queue
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )

    # when: the sweep runs every 30 s for just under the lease
    swept = [event_sweep(now=T0 + n * timedelta(seconds=30)) for n in range(1, 20)]

    # then: nothing is enqueued again
    assert swept == [[]] * 19
    assert enqueued == []
    assert lease_of(event) == (T0 + 10 * MINUTE, T0, 1)


def test_sweep_reenqueues_a_dispatch_whose_lease_ran_out_and_doubles_the_next_lease(
    merchant_a, enqueued
):
    # given: an event whose dispatch task was lost by the broker
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )

    # when: the lease runs out
    first = event_sweep(now=T0 + 10 * MINUTE)

    # then: the sweep enqueues it again, leased for twice as long
    assert first == [event.pk]
    assert enqueued == [([event.pk], merchant_a.pk)]
    assert lease_of(event) == (T0 + 30 * MINUTE, T0 + 10 * MINUTE, 2)

    # when: that one is lost too
    early = event_sweep(now=T0 + 30 * MINUTE - timedelta(seconds=1))
    second = event_sweep(now=T0 + 30 * MINUTE)

    # then
    assert (early, second) == ([], [event.pk])
    assert lease_of(event) == (T0 + 70 * MINUTE, T0 + 30 * MINUTE, 3)


def test_the_lease_is_capped_at_six_hours(settings):
    settings.EVENT_DISPATCH_LEASE_SECONDS = 600

    assert [services.dispatch_lease(n) for n in (1, 2, 3, 6, 7, 500)] == [
        10 * MINUTE,
        20 * MINUTE,
        40 * MINUTE,
        320 * MINUTE,
        timedelta(hours=6),
        timedelta(hours=6),
    ]


def test_a_33_minute_backlog_costs_two_duplicate_tasks_which_find_nothing_to_do(
    merchant_a, enqueued
):
    # given: the order of a new order.placed's dispatch task in a queue that takes 33 minutes to
    # drain, with the sweep running every 30 s meanwhile (before the lease: one more every 30 s)
    calls = []
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )
    enqueued.append(([event.pk], merchant_a.pk))  # the task enqueued after commit
    for n in range(1, 66):
        event_sweep(now=T0 + n * timedelta(seconds=30))

    # when: the queued tasks run, the first one at 33 minutes
    with registry.temporarily("order.placed", "tests.backlog", lambda e: calls.append(e.pk)):
        outcomes = [
            tasks.event_dispatch_many_task.run(event_ids=ids, merchant_id=merchant_id)
            for ids, merchant_id in enqueued
        ]

    # then: two duplicates in all (at 10 and 30 minutes), the consumer ran once, and the
    # duplicates found the event dispatched
    assert enqueued == [([event.pk], merchant_a.pk)] * 3
    assert outcomes == [1, 0, 0]
    assert calls == [event.pk]
    event.refresh_from_db()
    assert (event.next_dispatch_at, event.dispatch_enqueued_at, event.dispatch_enqueues) == (
        None,
        None,
        0,
    )


def test_a_dispatch_pass_ends_the_lease_and_a_due_retry_starts_with_the_first_lease(
    merchant_a, enqueued, monkeypatch
):
    # given: an event enqueued twice (the first task lost), whose consumer then fails
    monkeypatch.setattr(
        dispatch, "RETRY_BACKOFF", Backoff(base=3 * MINUTE, cap=3 * MINUTE, jitter=0)
    )
    consumers = ConsumerRegistry()

    def failing(event):
        raise RuntimeError("ESP down")

    consumers.subscribe("order.placed", "failing", failing)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )
    event_sweep(now=T0 + 10 * MINUTE)

    # when: the second task runs
    outcome = event_dispatch(event=event, now=T0 + 12 * MINUTE, consumers=consumers)

    # then: its retry is due in 3 minutes and no task is counted as queued
    assert outcome == {"failing": "failed"}
    assert lease_of(event) == (T0 + 15 * MINUTE, None, 0)

    # when: the retry is due
    swept = event_sweep(now=T0 + 15 * MINUTE)

    # then: enqueued with the first lease again
    assert swept == [event.pk]
    assert lease_of(event) == (T0 + 25 * MINUTE, T0 + 15 * MINUTE, 1)


def test_an_enqueue_the_broker_refuses_makes_the_event_due_at_once(merchant_a, monkeypatch):
    # given: a broker that refuses every message
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks.events_pending_task, "apply_async", refuse)
    monkeypatch.setattr(tasks.event_dispatch_many_task, "apply_async", refuse)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )

    # when: the enqueue after commit fails
    services._enqueue_dispatch(event.pk, merchant_a.pk)

    # then: the event is due since it was to be enqueued, for the next sweep
    assert lease_of(event) == (T0, None, 0)

    # when: the sweep's enqueue fails too
    swept = event_sweep(now=T0 + MINUTE)

    # then: due since that sweep, for the one after it
    assert swept == [event.pk]
    assert lease_of(event) == (T0 + MINUTE, None, 0)


def test_sweep_enqueues_one_task_per_merchant_and_chunk(
    merchant_a, merchant_b, enqueued, monkeypatch
):
    # given
    monkeypatch.setattr(services, "SWEEP_TASK_EVENTS", 2)
    a = [
        event_record(merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0)[
            0
        ].pk
        for _ in range(3)
    ]
    b = [
        event_record(merchant=merchant_b, type="order.placed", payload=placed(merchant_b), now=T0)[
            0
        ].pk
        for _ in range(2)
    ]

    # when
    swept = event_sweep(now=T0 + 10 * MINUTE)

    # then
    assert sorted(swept) == sorted(a + b)
    assert sorted(enqueued) == sorted(
        [(a[:2], merchant_a.pk), (a[2:], merchant_a.pk), (b, merchant_b.pk)]
    )


def test_an_inactive_merchants_events_wait_and_are_dispatched_after_reactivation(
    merchant_a, merchant_b, enqueued
):
    # given: one event each, merchant A deactivated while their tasks were queued
    calls = []
    inactive, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )
    active, _ = event_record(
        merchant=merchant_b, type="order.placed", payload=placed(merchant_b), now=T0
    )
    Merchant.objects.filter(pk=merchant_a.pk).update(is_active=False)

    with registry.temporarily("order.placed", "tests.inactive", lambda e: calls.append(e.pk)):
        # when: the queued tasks run, and the sweep runs long after the leases ran out
        refused = tasks.event_dispatch_task.run(event_id=inactive.pk, merchant_id=merchant_a.pk)
        direct = event_dispatch(event=Event.unscoped.get(pk=inactive.pk), now=T0 + MINUTE)
        swept = event_sweep(now=T0 + timedelta(days=2))

        # then: nothing of merchant A's left; merchant B's event was swept as usual
        assert (refused, direct, calls) == (None, {}, [])
        assert swept == [active.pk]
        assert EventConsumerRun.objects.filter(event=inactive).count() == 0
        assert lease_of(inactive) == (T0 + 10 * MINUTE, T0, 1)

        # when: merchant A is reactivated
        Merchant.objects.filter(pk=merchant_a.pk).update(is_active=True)
        enqueued.clear()
        swept_after = event_sweep(now=T0 + timedelta(days=2, minutes=1))
        for ids, merchant_id in enqueued:
            tasks.event_dispatch_many_task.run(event_ids=ids, merchant_id=merchant_id)

    # then: its event is dispatched
    assert swept_after == [inactive.pk]
    assert calls == [inactive.pk]
    inactive.refresh_from_db()
    assert inactive.dispatched_at is not None
    assert (inactive.next_dispatch_at, inactive.dispatch_enqueues) == (None, 0)


def test_events_recorded_as_history_are_dispatched_already_and_never_enqueued(
    merchant_a, django_capture_on_commit_callbacks, enqueued
):
    # given
    calls = []
    customer = CustomerFactory(merchant=merchant_a)
    order_placed = event_payload("order.placed", merchant=merchant_a, customer=customer)
    delivered = event_payload(
        "shipment.delivered", merchant=merchant_a, order_id=order_placed["order_id"]
    )

    # when
    with (
        registry.temporarily("*", "tests.history", lambda e: calls.append(e.pk)),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        with events_recorded_as_history():
            one, created = event_record(
                merchant=merchant_a,
                type="order.placed",
                customer=customer,
                payload=order_placed,
                occurred_at=T0 - timedelta(days=90),
                now=T0,
            )
            many = event_record_many(
                merchant=merchant_a,
                events=[
                    EventSpec(type="shipment.delivered", customer_id=customer.pk, payload=delivered)
                ]
                * 2,
                now=T0,
            )
        after, _ = event_record(
            merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
        )
        outcome = event_dispatch(event=one, now=T0)
        swept = event_sweep(now=T0 + timedelta(days=30))

    # then: only the event recorded after the block is leased and enqueued, and swept later
    history = Event.unscoped.filter(pk__in=[one.pk, *many]).order_by("pk")
    assert [
        (e.is_history, e.dispatched_at, e.next_dispatch_at, e.dispatch_enqueued_at) for e in history
    ] == [(True, T0, None, None)] * 3
    assert len(callbacks) == 1
    assert enqueued == [([after.pk], merchant_a.pk), ([after.pk], merchant_a.pk)]
    assert (created, outcome, swept) == (True, {}, [after.pk])
    assert calls == []
    assert EventConsumerRun.objects.count() == 0


def test_a_raw_insert_naming_the_older_columns_gets_the_dispatch_defaults(merchant_a):
    # given: an insert as bench/api.py's COPY floor writes events, without the newer columns
    from django.db import connection

    # when
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (merchant_id, type, occurred_at, recorded_at, "  # noqa: S608
            "payload, source, next_dispatch_at) VALUES (%s, 'order.placed', %s, %s, '{}', '', %s) "
            "RETURNING id",
            [merchant_a.pk, T0, T0, T0],
        )
        (pk,) = cursor.fetchone()

    # then
    event = Event.unscoped.get(pk=pk)
    assert (event.is_history, event.dispatch_enqueues, event.dispatch_enqueued_at) == (
        False,
        0,
        None,
    )


def test_a_duplicate_task_of_a_dispatched_event_reports_its_consumers_and_runs_nothing(
    merchant_a, enqueued
):
    # given: an event dispatched by its first task
    calls = []
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )
    with registry.temporarily("order.placed", "tests.once", lambda e: calls.append(e.pk)):
        event_dispatch(event=event, now=T0 + MINUTE)

        # when: a duplicate task (enqueued by the sweep behind a backlog) runs later
        outcome = tasks.event_dispatch_task.run(event_id=event.pk, merchant_id=merchant_a.pk)

    # then: the markers as the first pass left them (the apps' consumers and this test's)
    assert outcome == {"journeys.engine": "done", "webhooks.fanout": "done", "tests.once": "done"}
    assert calls == [event.pk]
    event.refresh_from_db()
    assert (event.dispatched_at, event.next_dispatch_at) == (T0 + MINUTE, None)


def test_the_sweep_s_catch_up_goes_to_the_bulk_lane(merchant_a, monkeypatch):
    # given: an event whose dispatch task was lost (its lease ran out)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=placed(merchant_a), now=T0
    )
    lanes = []
    monkeypatch.setattr(
        services,
        "_enqueue_dispatch_many",
        lambda e, m, bulk=False: lanes.append((e, bulk)),
    )

    # when
    event_sweep(now=T0 + timedelta(hours=1))

    # then: one task, however small, in the bulk lane: catch-up never cuts in front of an order
    assert lanes == [([event.pk], True)]
