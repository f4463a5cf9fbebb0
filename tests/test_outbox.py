"""The durable-retry helper (``postpurchase.outbox``): the backoff, claims under concurrency on
PostgreSQL, the sweep and giving up. Event rows stand in for any outbox row: they have a
merchant and a due time (``next_dispatch_at``), and are written here directly, so nothing is
enqueued."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from postpurchase.events.models import Event
from postpurchase.outbox import Backoff, by_merchant, claim_due, give_up_exhausted, sweep
from postpurchase.tenancy.models import Merchant

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
WAIT = 10  # seconds; only reached when something is broken
SECOND = timedelta(seconds=1)


class Draws:
    """An rng whose ``random()`` returns the given values in turn."""

    def __init__(self, *values: float) -> None:
        self.values = iter(values)

    def random(self) -> float:
        return next(self.values)


def due_rows(merchant: Merchant, *dues: datetime) -> list[int]:
    """Outbox rows of ``merchant`` due at ``dues``; their ids, in that order."""
    return [
        Event.unscoped.create(
            merchant=merchant, type="order.placed", recorded_at=T0, next_dispatch_at=due
        ).pk
        for due in dues
    ]


def claim(*, now: datetime, batch: int = 10) -> list[tuple]:
    """The due rows claimed for ``LEASE``, as a sweep of the event log claims them."""
    return claim_due(
        Event.unscoped.all(), now=now, lease=LEASE, batch=batch, due_field="next_dispatch_at"
    )


def due_at(pk: int) -> datetime | None:
    return Event.unscoped.values_list("next_dispatch_at", flat=True).get(pk=pk)


# --- Backoff ----------------------------------------------------------------------------------


def test_the_three_curves_grow_by_their_factor_up_to_their_cap():
    # given: the events' and connectors' curve, the messages' and the webhooks'
    curves = [
        Backoff(base=timedelta(seconds=30), factor=2, cap=timedelta(hours=6)),
        Backoff(base=timedelta(seconds=30), factor=3, cap=timedelta(hours=2)),
        Backoff(base=timedelta(seconds=30), factor=4, cap=timedelta(hours=6)),
    ]

    # when
    ceilings = [[curve.ceiling(n) for n in range(1, 8)] for curve in curves]

    # then
    minutes = [
        [0.5, 1, 2, 4, 8, 16, 32],
        [0.5, 1.5, 4.5, 13.5, 40.5, 120, 120],
        [0.5, 2, 8, 32, 128, 360, 360],
    ]
    assert ceilings == [[timedelta(minutes=m) for m in row] for row in minutes]


def test_each_wait_is_its_ceiling_less_up_to_a_quarter_drawn_from_the_rng():
    # given
    backoff = Backoff(base=timedelta(seconds=30), factor=3, cap=timedelta(hours=2))
    rng = random.Random(7)

    # when
    delays = [backoff.delay(n, rng=rng) for n in range(1, 8)]

    # then
    assert delays == [
        timedelta(seconds=24, microseconds=928746),
        timedelta(seconds=70, microseconds=894106),
        timedelta(seconds=246, microseconds=438077),
        timedelta(seconds=622, microseconds=168348),
        timedelta(seconds=2148, microseconds=48318),
        timedelta(seconds=6058, microseconds=240050),
        timedelta(seconds=5504, microseconds=398065),
    ]


def test_the_jitter_bounds_are_three_quarters_of_the_ceiling_and_the_ceiling():
    # given
    backoff = Backoff(base=timedelta(seconds=40), factor=2, cap=timedelta(hours=6))

    # when: the lowest and the highest draws
    lowest = backoff.delay(2, rng=Draws(0.0))
    highest = backoff.delay(2, rng=Draws(1.0))

    # then
    assert (lowest, highest) == (timedelta(seconds=60), timedelta(seconds=80))


def test_the_cap_holds_for_any_number_of_attempts_and_nothing_overflows():
    # given
    backoff = Backoff(base=timedelta(seconds=30), factor=4, cap=timedelta(hours=6))

    # when
    ceilings = [backoff.ceiling(n) for n in (6, 7, 100, 10**9)]

    # then
    assert ceilings == [timedelta(hours=6)] * 4
    assert backoff.steps == 5  # 30 s times 4 to the 5th, 8.5 h, is the first step past the cap


def test_no_attempt_yet_waits_the_base_and_without_jitter_the_rng_is_not_drawn():
    # given
    backoff = Backoff(base=timedelta(seconds=30), factor=2, cap=timedelta(hours=1), jitter=0)

    # when
    delays = [backoff.delay(n, rng=Draws()) for n in (0, 1, 2)]

    # then
    assert delays == [timedelta(seconds=30), timedelta(seconds=30), timedelta(seconds=60)]


@pytest.mark.parametrize(
    "arguments",
    [
        {"base": timedelta(seconds=-1)},
        {"base": timedelta(hours=7)},
        {"base": timedelta(seconds=30), "factor": 0.5},
        {"base": timedelta(seconds=30), "jitter": 1.5},
        {"base": timedelta(seconds=30), "jitter": -0.1},
    ],
)
def test_a_backoff_that_cannot_work_is_refused(arguments):
    with pytest.raises(ValueError):
        Backoff(**arguments)


# --- claims -----------------------------------------------------------------------------------


def test_a_claim_takes_the_longest_due_first_up_to_the_batch_and_leases_them(merchant_a):
    # given
    late, early, later, not_yet = due_rows(
        merchant_a, T0 - SECOND, T0 - 2 * SECOND, T0, T0 + SECOND
    )

    # when
    rows = claim_due(
        Event.unscoped.all(),
        now=T0,
        lease=LEASE,
        batch=2,
        due_field="next_dispatch_at",
        mark={"dispatch_enqueued_at": T0},
    )

    # then
    assert rows == [(early, merchant_a.pk), (late, merchant_a.pk)]
    assert [due_at(pk) for pk in (early, late, later, not_yet)] == [
        T0 + LEASE,
        T0 + LEASE,
        T0,
        T0 + SECOND,
    ]
    assert Event.unscoped.get(pk=early).dispatch_enqueued_at == T0
    assert Event.unscoped.get(pk=later).dispatch_enqueued_at is None


def test_a_lease_and_mark_may_depend_on_the_row(merchant_a):
    # given: rows whose task was enqueued 0 and 2 times already
    fresh, twice = due_rows(merchant_a, T0, T0)
    Event.unscoped.filter(pk=twice).update(dispatch_enqueues=2)

    # when
    rows = claim_due(
        Event.unscoped.all(),
        now=T0,
        lease=lambda row: LEASE * (row[2] + 1),
        mark=lambda row: {"dispatch_enqueues": row[2] + 1},
        batch=10,
        due_field="next_dispatch_at",
        fields=("dispatch_enqueues",),
    )

    # then
    assert sorted(rows) == [(fresh, merchant_a.pk, 0), (twice, merchant_a.pk, 2)]
    state = dict(Event.unscoped.values_list("pk", "next_dispatch_at"))
    enqueues = dict(Event.unscoped.values_list("pk", "dispatch_enqueues"))
    assert (state[fresh], state[twice]) == (T0 + LEASE, T0 + 3 * LEASE)
    assert (enqueues[fresh], enqueues[twice]) == (1, 3)


def test_an_inactive_merchants_rows_wait(merchant_a, merchant_b):
    # given
    [mine] = due_rows(merchant_a, T0)
    [theirs] = due_rows(merchant_b, T0)
    Merchant.objects.filter(pk=merchant_b.pk).update(is_active=False)

    # when
    rows = claim(now=T0)

    # then
    assert rows == [(mine, merchant_a.pk)]
    assert due_at(theirs) == T0


@pytest.mark.django_db(transaction=True)
def test_two_transactions_never_claim_the_same_row(merchant_a):
    # given: four due rows, and a first sweeper that claims two and holds them uncommitted
    pks = due_rows(merchant_a, T0 - 4 * SECOND, T0 - 3 * SECOND, T0 - 2 * SECOND, T0 - SECOND)
    claimed, release = threading.Event(), threading.Event()

    def claim_and_hold():
        try:
            with transaction.atomic():
                rows = claim(now=T0, batch=2)
                claimed.set()
                if not release.wait(WAIT):
                    raise TimeoutError("the test never released the first sweeper")
                return rows
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        holder = pool.submit(claim_and_hold)
        assert claimed.wait(WAIT), "the first sweeper never claimed"

        # when: a second transaction claims while the first holds its rows (to it, still due)
        second = claim(now=T0)
        release.set()
        first = holder.result(timeout=WAIT)

    # then: each row was claimed once, and none is due again within the lease
    assert [pk for pk, _ in first] == pks[:2]
    assert [pk for pk, _ in second] == pks[2:]
    assert [due_at(pk) for pk in pks] == [T0 + LEASE] * 4
    again = claim(now=T0 + LEASE - SECOND)
    assert again == []


# --- sweep and giving up ----------------------------------------------------------------------


def test_the_sweep_enqueues_once_per_merchant_in_due_order(merchant_a, merchant_b):
    # given
    [a1] = due_rows(merchant_a, T0 - 3 * SECOND)
    [b1] = due_rows(merchant_b, T0 - 2 * SECOND)
    [a2] = due_rows(merchant_a, T0 - SECOND)
    enqueued: list[tuple[int, list[int]]] = []

    # when
    swept, swept_again = [
        sweep(
            Event.unscoped.all(),
            now=T0,
            lease=LEASE,
            batch=10,
            due_field="next_dispatch_at",
            enqueue=lambda merchant_id, pks: enqueued.append((merchant_id, pks)),
        )
        for _ in range(2)
    ]

    # then
    assert swept == [a1, b1, a2]
    assert enqueued == [(merchant_a.pk, [a1, a2]), (merchant_b.pk, [b1])]
    assert swept_again == []


def test_by_merchant_keeps_the_rows_order():
    assert by_merchant([(5, 2), (3, 1), (4, 2), (1, 1, "extra")]) == {2: [5, 4], 1: [3, 1]}


def test_giving_up_closes_the_exhausted_rows_whose_lease_ran_out(merchant_a):
    # given: two exhausted rows, one of them still within its lease, and one not exhausted
    run_out, in_lease, fine = due_rows(merchant_a, T0, T0 + SECOND, T0)
    Event.unscoped.filter(pk__in=[run_out, in_lease]).update(dispatch_enqueues=9)

    # when
    closed = give_up_exhausted(
        Event.unscoped.filter(dispatch_enqueues__gte=9),
        now=T0,
        batch=10,
        due_field="next_dispatch_at",
        values={"next_dispatch_at": None, "dispatched_at": T0},
    )

    # then
    assert closed == [(run_out, merchant_a.pk)]
    assert [due_at(pk) for pk in (run_out, in_lease, fine)] == [None, T0 + SECOND, T0]
    assert Event.unscoped.get(pk=run_out).dispatched_at == T0


def test_each_apps_policy_is_the_one_docs_operations_md_lists():
    # given: the table in "Retries and sweeps"
    from pathlib import Path

    from connectors import processing as inbound
    from notifications import delivery as messages
    from postpurchase.events import dispatch as events
    from webhooks import services as outbound

    table = Path(__file__).resolve().parent.parent.joinpath("docs", "operations.md").read_text()

    # then
    policies = {
        "event consumers": (events.RETRY_BACKOFF, events.MAX_ATTEMPTS, "30 s × 2, 6 h | 12 |"),
        "messages": (messages.RETRY_BACKOFF, messages.MAX_ATTEMPTS, "30 s × 3, 2 h | 10,"),
        "outbound webhooks": (
            outbound.RETRY_BACKOFF,
            outbound.MAX_ATTEMPTS,
            "30 s × 4, 6 h ([webhooks.md](webhooks.md) shows the schedule) | 15 at most;",
        ),
        "inbound webhooks": (inbound.RETRY_BACKOFF, inbound.MAX_ATTEMPTS, "30 s × 2, 6 h | 10 |"),
    }
    assert {
        work: (backoff.base, backoff.factor, backoff.cap, backoff.jitter, attempts)
        for work, (backoff, attempts, _) in policies.items()
    } == {
        "event consumers": (timedelta(seconds=30), 2, timedelta(hours=6), 0.25, 12),
        "messages": (timedelta(seconds=30), 3, timedelta(hours=2), 0.25, 10),
        "outbound webhooks": (timedelta(seconds=30), 4, timedelta(hours=6), 0.25, 15),
        "inbound webhooks": (timedelta(seconds=30), 2, timedelta(hours=6), 0.25, 10),
    }
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()}
    assert all(cell in rows[work] for work, (_, _, cell) in policies.items())
