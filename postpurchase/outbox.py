"""The durable-retry mechanics every outbox shares: backoff, claims with a lease, the sweep.

Durable work here is a row with a due time (``next_attempt_at``, or the event log's
``next_dispatch_at``), never a broker timer. Events (consumer retries), messages (sends),
outbound webhooks (sends) and inbound webhooks (processing) all follow one pattern:

- a failed attempt is due again after ``Backoff.delay``: exponential, capped, and less up to a
  fraction of it at random, so the retries of a burst of failures do not come back as a burst;
- a sweep driven by beat *claims* the due rows: it locks them with ``SELECT … FOR UPDATE SKIP
  LOCKED`` (two sweepers never take the same row, and neither waits for the other), moves their
  due time one lease on, so a row whose task waits in the queue or runs is not taken again, and
  enqueues their tasks after commit. A task lost with its broker or its worker is found again
  once its lease runs out;
- a row whose last allowed attempt never finished (its worker died) is closed by
  ``give_up_exhausted`` rather than claimed again.

Each app keeps its own row model, its task, and its policy (base, factor, cap, lease, attempts):
the table in docs/operations.md ("Retries and sweeps") lists them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

# How much of a wait may be taken off at random: the one jitter rule every outbox uses.
JITTER = 0.25

Row = tuple  # (pk, merchant_id, *the extra fields asked for)


@dataclass(frozen=True)
class Backoff:
    """Waits that grow by ``factor`` from ``base`` up to ``cap``; each is the nominal wait less
    up to ``jitter`` of it at random. ``Backoff(base=30 s, factor=2, cap=6 h)`` waits 30 s, 1 m,
    2 m, … 6 h, each between 75 % and 100 % of that."""

    base: timedelta
    factor: float = 2
    cap: timedelta = timedelta(hours=6)
    jitter: float = JITTER
    # The number of growth steps after which the cap is reached (so no power ever overflows).
    steps: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.base < timedelta(0) or self.cap < self.base:
            raise ValueError("A backoff needs 0 <= base <= cap.")
        if self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("A backoff needs factor >= 1 and a jitter between 0 and 1.")
        steps = 0
        if self.base > timedelta(0) and self.factor > 1:
            while self.base * self.factor**steps < self.cap:
                steps += 1
        object.__setattr__(self, "steps", steps)

    def ceiling(self, attempts: int) -> timedelta:
        """The nominal wait after failed attempt number ``attempts`` (1 for the first)."""
        return min(self.base * self.factor ** min(max(attempts - 1, 0), self.steps), self.cap)

    def delay(self, attempts: int, *, rng: random.Random | None = None) -> timedelta:
        """The wait after failed attempt number ``attempts``: its ceiling less up to ``jitter`` of
        it at random (``rng``, else the ``random`` module)."""
        ceiling = self.ceiling(attempts)
        if not self.jitter:
            return ceiling
        return ceiling * (1 - self.jitter + self.jitter * (rng or random).random())


def _locked(queryset: QuerySet, *, now: datetime, due_field: str) -> QuerySet:
    """The rows of ``queryset`` due at ``now``, locked for the transaction; rows another
    transaction holds are skipped, not waited for. Only the rows' own table is locked."""
    return queryset.select_for_update(skip_locked=True, of=("self",)).filter(
        **{f"{due_field}__lte": now}
    )


def _per_row(value: Any, row: Row) -> Any:
    return value(row) if callable(value) else value


def claim_due(
    queryset: QuerySet,
    *,
    now: datetime,
    lease: timedelta | Callable[[Row], timedelta],
    batch: int,
    due_field: str = "next_attempt_at",
    mark: Mapping[str, Any] | Callable[[Row], Mapping[str, Any]] | None = None,
    fields: Iterable[str] = (),
) -> list[Row]:
    """Claim at most ``batch`` rows of ``queryset`` that are due at ``now`` and whose merchant is
    active, the longest due first, skipping rows another transaction holds: their ``due_field``
    moves ``lease`` on (so no other sweep takes them while their task waits or runs) and they
    get ``mark`` (a claim token, say). Returns ``(pk, merchant_id, *fields)`` per row, in due
    order.

    ``lease`` and ``mark`` may be functions of that row, for a lease that depends on it (the
    event log doubles a lease with each task that never ran); rows are written with one
    ``UPDATE`` per distinct lease and mark. The locks are held until the caller's transaction
    ends, or this call's own."""
    with transaction.atomic():
        rows = list(
            _locked(queryset, now=now, due_field=due_field)
            .filter(merchant__is_active=True)
            .order_by(due_field)
            .values_list("pk", "merchant_id", *fields)[:batch]
        )
        groups: dict[tuple, list[int]] = {}
        for row in rows:
            values = {due_field: now + _per_row(lease, row), **(_per_row(mark, row) or {})}
            groups.setdefault(tuple(sorted(values.items())), []).append(row[0])
        manager = queryset.model._default_manager
        for values, pks in groups.items():
            manager.filter(pk__in=pks).update(**dict(values))
    return rows


def by_merchant(rows: Iterable[Row]) -> dict[int, list[int]]:
    """The pks of ``(pk, merchant_id, …)`` rows per merchant, merchants and pks in the rows'
    order."""
    grouped: dict[int, list[int]] = {}
    for row in rows:
        grouped.setdefault(row[1], []).append(row[0])
    return grouped


def sweep(
    queryset: QuerySet,
    *,
    now: datetime,
    lease: timedelta | Callable[[Row], timedelta],
    batch: int,
    enqueue: Callable[[int, list[int]], None],
    due_field: str = "next_attempt_at",
    mark: Mapping[str, Any] | Callable[[Row], Mapping[str, Any]] | None = None,
    fields: Iterable[str] = (),
) -> list[int]:
    """Claim what is due (``claim_due``: retries whose time has come, and tasks lost with their
    broker or worker, whose lease ran out) and, once the claims are committed, call
    ``enqueue(merchant_id, pks)`` for each merchant. ``enqueue`` must not raise: a task the
    broker refuses is found again when its lease runs out. Returns the pks claimed."""
    rows = claim_due(
        queryset, now=now, lease=lease, batch=batch, due_field=due_field, mark=mark, fields=fields
    )
    for merchant_id, pks in by_merchant(rows).items():
        enqueue(merchant_id, pks)
    return [row[0] for row in rows]


def give_up_exhausted(
    queryset: QuerySet,
    *,
    now: datetime,
    batch: int,
    values: Mapping[str, Any],
    due_field: str = "next_attempt_at",
) -> list[tuple[int, int]]:
    """Close at most ``batch`` rows of ``queryset`` (the caller's filter: those whose last
    allowed attempt was made) that are due at ``now``, meaning that attempt never finished and
    its lease ran out: they get ``values`` (a failed status, no due time, …) instead of being
    claimed again. Rows another transaction holds are skipped. Returns ``(pk, merchant_id)``
    per row closed, for the caller's own records."""
    with transaction.atomic():
        rows = list(
            _locked(queryset, now=now, due_field=due_field).values_list("pk", "merchant_id")[:batch]
        )
        if rows:
            queryset.model._default_manager.filter(pk__in=[pk for pk, _ in rows]).update(**values)
    return rows
