"""The retention run: every registered log loses the rows that have expired and are not in flight.

Per log, on PostgreSQL when the table is partitioned: the partitions of the current month and
the months ahead are made, then every expired month that holds nothing in flight is detached and
dropped whole. Then, everywhere, the expired rows that are left and may go (all of them on
SQLite; on PostgreSQL those of an unpartitioned log, of the default partition, or of an expired
month kept for a row in flight) are deleted a batch at a time, each batch in its own transaction
through the ORM (so every ``on_delete`` rule applies), until a batch comes back short or the
log's share of the run's time budget is spent; the next run goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from postpurchase.retention.partitions import (
    is_partitioned,
    partition_drop,
    partitions,
    partitions_ensure,
)
from postpurchase.retention.registry import LogPolicy, LogRegistry, logs, retention_cutoff

logger = logging.getLogger(__name__)


@dataclass
class LogRetained:
    """What one run did to one log."""

    deleted: int = 0  # rows deleted in batches (a dropped partition's rows are not counted)
    partitions_dropped: list[str] = field(default_factory=list)
    partitions_created: list[str] = field(default_factory=list)
    partitions_kept: list[str] = field(default_factory=list)  # expired, but a row is in flight


def logs_retain(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    budget: timedelta | None = None,
    clock: Callable[[], float] = time.monotonic,
    registry: LogRegistry = logs,
) -> dict[str, LogRetained]:
    """One retention run over every registered log, at ``now``; each log gets an equal share of
    ``budget`` (``LOGS_RETENTION_BUDGET_SECONDS``) for its batched deletes."""
    now = now or timezone.now()
    batch_size = batch_size or settings.LOGS_RETENTION_BATCH
    budget = budget or timedelta(seconds=settings.LOGS_RETENTION_BUDGET_SECONDS)
    policies = registry.policies()
    share = budget / max(len(policies), 1)
    done = {}
    for policy in policies:
        done[policy.name] = log_retain(
            policy, now=now, batch_size=batch_size, budget=share, clock=clock, registry=registry
        )
    return done


def log_retain(
    policy: LogPolicy,
    *,
    now: datetime,
    batch_size: int,
    budget: timedelta,
    clock: Callable[[], float] = time.monotonic,
    registry: LogRegistry = logs,
) -> LogRetained:
    """One log's part of a retention run (see the module's docstring)."""
    done = LogRetained()
    table = policy.model._meta.db_table
    partitioned = is_partitioned(table)
    if partitioned:
        done.partitions_created = partitions_ensure(
            table, now=now, ahead=settings.LOGS_PARTITIONS_AHEAD_MONTHS
        )
    days = getattr(settings, policy.setting)
    if days <= 0:
        return done  # kept for ever
    cutoff = retention_cutoff(policy, days=days, now=now)
    expired = policy.model._base_manager.filter(**{f"{policy.dated_by}__lt": cutoff})
    removable = registry.removable(policy)
    if partitioned:
        _expired_partitions_drop(policy, expired, removable, cutoff, done)
    stop_at = clock() + budget.total_seconds()
    while True:
        found, deleted = _batch_delete(policy, expired.filter(removable), batch_size)
        done.deleted += deleted
        if found < batch_size or clock() >= stop_at:
            break
    if done.deleted or done.partitions_dropped:
        logger.info(
            "Retention of %s (before %s): %d rows deleted, partitions dropped: %s",
            policy.name,
            cutoff.isoformat(),
            done.deleted,
            ", ".join(done.partitions_dropped) or "none",
        )
    return done


def _expired_partitions_drop(
    policy: LogPolicy, expired: QuerySet, removable, cutoff: datetime, done: LogRetained
) -> None:
    """Detach and drop every month wholly before ``cutoff`` that holds no row in flight and
    that no row can arrive in any more (``month_held``). The look for a row in flight reads
    that partition alone (the date range prunes the others). Rows that may still arrive are
    the reason no lock is needed between the look and the drop: a month that nothing in flight
    can write to any more stays so."""
    table = policy.model._meta.db_table
    for partition in partitions(table):
        if partition.month is None or partition.end > cutoff:
            continue
        inside = expired.filter(
            **{f"{policy.dated_by}__gte": partition.month, f"{policy.dated_by}__lt": partition.end}
        )
        held = policy.month_held is not None and policy.month_held(partition.month, partition.end)
        if held or inside.filter(~removable).exists():
            done.partitions_kept.append(partition.name)
            continue
        if partition_drop(table, partition.name):
            done.partitions_dropped.append(partition.name)


def _batch_delete(policy: LogPolicy, rows: QuerySet, batch_size: int) -> tuple[int, int]:
    """The ``batch_size`` oldest of ``rows`` deleted in one transaction: ``(found, deleted)``,
    ``deleted`` counting the log's own rows (not what ``on_delete`` took along)."""
    ids = list(rows.order_by(policy.dated_by).values_list("pk", flat=True)[:batch_size])
    if not ids:
        return 0, 0
    with transaction.atomic():
        deleted = policy.model._base_manager.filter(pk__in=ids).delete()[1]
    return len(ids), deleted.get(policy.model._meta.label, 0)
