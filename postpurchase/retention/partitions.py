"""Monthly range partitions on PostgreSQL: turning a log table into a partitioned one, creating
the months ahead, and detaching and dropping a month that has expired.

A partitioned log is ``PARTITION BY RANGE (<its date column>)`` with one partition per calendar
month (UTC), named ``<table>_pYYYYMM``, and a ``<table>_default`` partition that takes any row
no month takes (a date far in the past or the future), so an insert never fails. Everything here
is a no-op answer on another database (SQLite): there, the logs are plain tables and retention
deletes rows in batches (``postpurchase.retention.services``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import DatabaseError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from postpurchase.retention.registry import month_start

logger = logging.getLogger(__name__)

# How long detaching a partition may wait for the parent's lock (held by every running query on
# the table); past it the detach gives up and the next run tries again, rather than queueing
# every writer behind it.
DETACH_LOCK_TIMEOUT = "5s"

_MONTH_SUFFIX = re.compile(r"_p(\d{4})(\d{2})$")


@dataclass(frozen=True)
class Partition:
    name: str
    month: datetime | None  # its first instant (UTC); None for the default partition

    @property
    def end(self) -> datetime | None:
        return None if self.month is None else next_month(self.month)


def next_month(month: datetime) -> datetime:
    return (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month:%Y%m}"


def is_partitioned(table: str, *, using: BaseDatabaseWrapper = connection) -> bool:
    """Whether ``table`` is a partitioned table (always false off PostgreSQL)."""
    if using.vendor != "postgresql":
        return False
    with using.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


def partitions(table: str, *, using: BaseDatabaseWrapper = connection) -> list[Partition]:
    """``table``'s partitions, the default one first, then the months in order."""
    with using.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY c.relname",
            [table],
        )
        rows = cursor.fetchall()
    found = []
    for name, is_default in rows:
        if is_default:
            found.append(Partition(name, None))
            continue
        match = _MONTH_SUFFIX.search(name)
        if match is None:
            continue  # not one of ours (an operator's): left alone
        month = datetime.fromisoformat(f"{match[1]}-{match[2]}-01T00:00:00+00:00")
        found.append(Partition(name, month))
    return sorted(found, key=lambda p: (p.month is not None, p.month or datetime.min))


def partition_create(
    table: str, month: datetime, *, using: BaseDatabaseWrapper = connection
) -> bool:
    """The partition of ``month`` (any instant in it) unless it exists; false when it could not
    be made because the default partition holds rows of that month (they stay there, and go by
    batched deletes when they expire)."""
    start = month_start(month)
    name = partition_name(table, start)
    try:
        with transaction.atomic(using=using.alias), using.cursor() as cursor:
            cursor.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{table}" '
                "FOR VALUES FROM (%s) TO (%s)",
                [start, next_month(start)],
            )
    except DatabaseError as exc:
        logger.warning("Partition %s not created: %s", name, exc)
        return False
    return True


def partitions_ensure(
    table: str, *, now: datetime, ahead: int, using: BaseDatabaseWrapper = connection
) -> list[str]:
    """The partitions of ``now``'s month and the ``ahead`` months after it, so rows find their
    month before they arrive; returns the names of those it created."""
    existing = {p.name for p in partitions(table, using=using)}
    created = []
    month = month_start(now)
    for _ in range(ahead + 1):
        name = partition_name(table, month)
        if name not in existing and partition_create(table, month, using=using):
            created.append(name)
        month = next_month(month)
    return created


def partition_drop(table: str, name: str, *, using: BaseDatabaseWrapper = connection) -> bool:
    """Detach partition ``name`` from ``table`` and drop it, in one transaction; false (nothing
    changed) when the parent's lock was not had within ``DETACH_LOCK_TIMEOUT``.

    Without ``CONCURRENTLY`` (which PostgreSQL refuses while a default partition exists) the
    detach takes the parent's ACCESS EXCLUSIVE lock, for the time of a catalogue change."""
    try:
        with transaction.atomic(using=using.alias), using.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'")
            cursor.execute(f'ALTER TABLE "{table}" DETACH PARTITION "{name}"')
            cursor.execute(f'DROP TABLE "{name}"')
    except DatabaseError as exc:
        logger.warning("Partition %s of %s not dropped: %s", name, table, exc)
        return False
    return True


def table_partition_by_month(
    table: str, column: str, *, now: datetime, ahead: int, using: BaseDatabaseWrapper = connection
) -> None:
    """Turn the plain table ``table`` into one partitioned by month on ``column``, keeping its
    rows, in the caller's transaction (a migration's): rename it aside, create the partitioned
    table like it, a partition for every month its rows fall in and the months up to ``ahead``
    after ``now``'s, and the default one; copy the rows; drop the old table; and rebuild its
    constraints and indexes under their own names, the primary key widened to
    ``(id, column)``. Every other unique key must include ``column`` already (PostgreSQL's rule
    for a partitioned table), and no other table may reference this one: either refuses.

    It holds the table's ACCESS EXCLUSIVE lock while it copies: fine for an empty or small
    table; a big one is converted offline (docs/retention.md)."""
    old = f"{table}_unpartitioned"
    with using.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE confrelid = to_regclass(%s)", [table]
        )
        if referencing := [row[0] for row in cursor.fetchall()]:
            raise ValueError(f"{table} is referenced ({referencing}); it cannot be partitioned.")
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(%s) ORDER BY contype = 'f', conname",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = to_regclass(%s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
            "WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid) ORDER BY 1",
            [table],
        )
        indexes = cursor.fetchall()
        rebuilt = [_constraint_sql(table, column, *row) for row in constraints]
        # As printed while the table still had its name: run after the old one is dropped, they
        # name the new table.
        rebuilt += [_index_sql(table, column, *row) for row in indexes]

        cursor.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
        cursor.execute(
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING IDENTITY '
            f'INCLUDING GENERATED INCLUDING STORAGE) PARTITION BY RANGE ("{column}")'
        )
        cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
        # Identifiers here are the migration's own table and column names, never input.
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', \"{column}\" AT TIME ZONE 'UTC') "  # noqa: S608
            f'FROM "{old}" WHERE "{column}" IS NOT NULL'
        )
        months = {month_start(row[0].replace(tzinfo=UTC)) for row in cursor.fetchall()}
        month = month_start(now)
        for _ in range(ahead + 1):
            months.add(month)
            month = next_month(month)
        for month in sorted(months):
            cursor.execute(
                f'CREATE TABLE "{partition_name(table, month)}" PARTITION OF "{table}" '
                "FOR VALUES FROM (%s) TO (%s)",
                [month, next_month(month)],
            )
        cursor.execute(f'INSERT INTO "{table}" SELECT * FROM "{old}"')  # noqa: S608
        cursor.execute(f'SELECT COALESCE(max(id), 0) + 1 FROM "{old}"')  # noqa: S608
        [next_id] = cursor.fetchone()
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [f'"{table}"', next_id]
        )
        cursor.execute(f'DROP TABLE "{old}"')
        for statement in rebuilt:
            cursor.execute(statement)


def _constraint_sql(table: str, column: str, name: str, kind: str, definition: str) -> str:
    if kind == "p":
        columns = re.fullmatch(r"PRIMARY KEY \((.*)\)", definition)[1]
        definition = f'PRIMARY KEY ({columns}, "{column}")'
    elif kind in ("u", "x") and column not in definition:
        raise ValueError(f"{name} on {table} leaves out {column}; it cannot be partitioned.")
    return f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'


def _index_sql(table: str, column: str, name: str, definition: str) -> str:
    if definition.startswith("CREATE UNIQUE") and column not in definition:
        raise ValueError(f"{name} on {table} leaves out {column}; it cannot be partitioned.")
    return definition
