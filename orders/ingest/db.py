"""The engine's statements, on either database the platform runs on.

On PostgreSQL a batch reads with ``= ANY(array)``, locks ``FOR NO KEY UPDATE``, takes ids from the
sequences, inserts with ``COPY`` or ``INSERT … SELECT FROM unnest(…) ON CONFLICT … RETURNING``
and updates with ``UPDATE … FROM unnest(…)`` (``postpurchase.pgbulk``): a few statements per
batch, whatever its size. On SQLite (the embedded mode) the same operations are spelt portably:
ORM reads, ``bulk_create``, ``INSERT … VALUES … ON CONFLICT … RETURNING`` (SQLite 3.35+) and
``bulk_update``. SQLite needs no row or advisory locks: the project opens every SQLite
transaction with ``BEGIN IMMEDIATE`` (settings), so one writer at a time holds the database, and a
batch's reads and writes are never interleaved with another writer's.

Nothing above this module asks which database it is on, except through ``locks_rows``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Max, Min, Q, Sum

from postpurchase import pgbulk
from postpurchase.pgbulk import qn


def locks_rows() -> bool:
    """Whether the database serialises writers by row (PostgreSQL) rather than whole (SQLite)."""
    return connection.vendor == "postgresql"


def fetch(
    model, merchant, any_of: dict[str, Sequence], *, order_by: str = "id", lock: bool = False
) -> list:
    """The merchant's rows of ``model`` whose column is one of the values given for it (any of
    the columns), as instances, ``FOR NO KEY UPDATE`` when ``lock`` (PostgreSQL), in
    ``order_by`` order (the order the locks are taken)."""
    any_of = {column: list(values) for column, values in any_of.items() if values}
    if not any_of:
        return []
    if not locks_rows():
        match = Q()
        for column, values in any_of.items():
            match |= Q(**{f"{column}__in": values})
        return list(model.unscoped.filter(match, merchant_id=merchant.pk).order_by(order_by))
    # Straight SQL: for these few fixed reads the ORM's compiler costs more than the query.
    fields = model._meta.concrete_fields
    where = " OR ".join(f"{qn(column)} = ANY(%s)" for column in any_of)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(qn(f.column) for f in fields)} "  # noqa: S608
            f"FROM {qn(model._meta.db_table)} WHERE merchant_id = %s AND ({where}) "
            f"ORDER BY {order_by}{' FOR NO KEY UPDATE' if lock else ''}",
            [merchant.pk, *any_of.values()],
        )
        return _instances(model, cursor.fetchall())


def _instances(model, rows) -> list:
    """Model instances from rows of the model's concrete columns, in their order."""
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    converters = [(i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]
    instances = []
    for row in rows:
        values = list(row)
        for i, convert in converters:
            values[i] = convert(values[i], None, connection)
        instances.append(model.from_db("default", names, values))
    return instances


def allocate_ids(model, count: int) -> list[int]:
    """Ids for ``count`` new rows of ``model``, in ascending order, reserved for this
    transaction: from the sequence (PostgreSQL), or by moving the table's ``sqlite_sequence``
    mark (SQLite's AUTOINCREMENT keeps ids above it; the write lock is already held)."""
    if count <= 0:
        return []
    if locks_rows():
        return pgbulk.allocate_ids(model, count)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
            f"coalesce((SELECT max(id) FROM {qn(table)}), 0))",
            [table],
        )
        last = cursor.fetchone()[0]
        cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
        cursor.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, last + count]
        )
    return list(range(last + 1, last + count + 1))


def allocate_many(counts: dict) -> dict:
    """``allocate_ids`` for several models (model → count), in one statement on PostgreSQL."""
    wanted = {model: count for model, count in counts.items() if count > 0}
    ids: dict = {model: [] for model in counts}
    if len(wanted) < 2 or not locks_rows():
        ids.update((model, allocate_ids(model, count)) for model, count in wanted.items())
        return ids
    models = list(wanted)
    parts, params = [], []
    for position, model in enumerate(models):
        parts.append(
            "SELECT %s::int, nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
        )
        params += [position, model._meta.db_table, wanted[model]]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for position, pk in cursor.fetchall():
            ids[models[position]].append(pk)
    for model in models:
        ids[model].sort()
    return ids


def insert(model, objs: list, *, conflict: str | None = None, lock_conflicting=False) -> set[int]:
    """Insert ``objs`` (their ids already set) and return the ids of the rows inserted: all of
    them without ``conflict``, else those ``ON CONFLICT conflict`` let in (the others were
    taken meanwhile). ``lock_conflicting`` locks the rows that conflicted (PostgreSQL)."""
    if not objs:
        return set()
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    # In external-id order: the order in which concurrent batches take the rows' key locks.
    ordered = sorted(objs, key=lambda o: (o.external_id is None, o.external_id or "", o.pk))
    rows = [[getattr(obj, name) for name in names] for obj in ordered]
    table = model._meta.db_table
    if locks_rows():
        if conflict is None:
            pgbulk.copy_insert(table, fields, rows)
            inserted = {obj.pk for obj in objs}
        else:
            extra = (
                f"DO UPDATE SET {qn(fields[1].column)} = {qn(table)}.{qn(fields[1].column)} "
                "WHERE false"
                if lock_conflicting
                else "DO NOTHING"
            )
            inserted = pgbulk.insert_rows(table, fields, rows, conflict=conflict, extra=extra)
    elif conflict is None:
        model.unscoped.bulk_create(objs)
        inserted = {obj.pk for obj in objs}
    else:
        inserted = _sqlite_insert_returning(table, fields, rows, conflict)
    for obj in objs:
        obj._state.adding, obj._state.db = False, "default"
    return inserted


def _sqlite_insert_returning(table: str, fields, rows: list[list], conflict: str) -> set[int]:
    columns = ", ".join(qn(f.column) for f in fields)
    per_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, connection.features.max_query_params // len(fields))
    inserted: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            chunk = rows[start : start + size]
            params = [
                f.get_db_prep_save(value, connection)
                for row in chunk
                for f, value in zip(fields, row, strict=True)
            ]
            cursor.execute(
                f"INSERT INTO {qn(table)} ({columns}) VALUES "  # noqa: S608
                f"{', '.join([per_row] * len(chunk))} "
                f"ON CONFLICT {conflict} DO NOTHING RETURNING id",
                params,
            )
            inserted.update(row[0] for row in cursor.fetchall())
    return inserted


def update(model, merchant, objs: Iterable, names: Sequence[str]) -> None:
    """Write the fields ``names`` of every row in ``objs`` (the merchant's rows of ``model``):
    one ``UPDATE … FROM unnest(…)`` (PostgreSQL), or ``bulk_update`` (SQLite)."""
    objs = list(objs)
    if not objs:
        return
    if locks_rows():
        pgbulk.unnest_update(model, objs, names, merchant_id=merchant.pk)
    else:
        model.unscoped.filter(merchant_id=merchant.pk).bulk_update(objs, list(names))


def lock_contacts(keys: list[int]) -> None:
    """Transaction-scoped advisory locks on contacts (PostgreSQL; SQLite has one writer)."""
    if keys and locks_rows():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys])


def order_lines(merchant, order_ids: list[int]) -> tuple[list, dict[int, dict[int, int]]]:
    """The orders' lines (in id order), and what their shipments carry of each line: order id
    → line id → quantity. One statement on PostgreSQL (a shipment carries only lines of its own
    order, so what it carries is summed by line)."""
    from orders.models import OrderLine

    if not order_ids or not locks_rows():
        lines = fetch(OrderLine, merchant, {"order_id": order_ids})
        return lines, shipped_quantities(merchant, order_ids)
    fields = OrderLine._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join('l.' + qn(f.column) for f in fields)}, "  # noqa: S608
            "(SELECT sum(sl.quantity) FROM orders_shipmentline AS sl"
            " WHERE sl.order_line_id = l.id) "
            "FROM orders_orderline AS l WHERE l.merchant_id = %s AND l.order_id = ANY(%s) "
            "ORDER BY l.id",
            [merchant.pk, order_ids],
        )
        rows = cursor.fetchall()
    lines = _instances(OrderLine, [row[:-1] for row in rows])
    shipped: dict[int, dict[int, int]] = defaultdict(dict)
    for line, row in zip(lines, rows, strict=True):
        if row[-1] is not None:
            shipped[line.order_id][line.pk] = row[-1]
    return lines, shipped


def shipped_quantities(merchant, order_ids: list[int]) -> dict[int, dict[int, int]]:
    """What the orders' shipments carry of each of their lines: order id → line id → quantity."""
    from orders.models import ShipmentLine

    shipped: dict[int, dict[int, int]] = defaultdict(dict)
    if not order_ids:
        return shipped
    if locks_rows():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.order_id, sl.order_line_id, sum(sl.quantity) "
                "FROM orders_shipmentline AS sl JOIN orders_shipment AS s ON s.id = sl.shipment_id "
                "WHERE sl.merchant_id = %s AND s.order_id = ANY(%s) GROUP BY 1, 2",
                [merchant.pk, order_ids],
            )
            rows = cursor.fetchall()
    else:
        rows = (
            ShipmentLine.unscoped.filter(merchant_id=merchant.pk, shipment__order_id__in=order_ids)
            .values_list("shipment__order_id", "order_line_id")
            .annotate(Sum("quantity"))
            .order_by()
        )
    for order_id, line_id, quantity in rows:
        shipped[order_id][line_id] = quantity
    return shipped


def orders_outside(merchant, customer_ids: list[int], moving: list[int]) -> list[tuple]:
    """For each customer with orders other than ``moving``: ``(customer id, first placed of
    any, live count, first and last live placed, live money in the merchant's currency)``.

    PostgreSQL: one lookup on the orders' customer index per customer, a plan that holds even
    before the tables have statistics."""
    from orders.models import Order

    if not customer_ids:
        return []
    if locks_rows():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.id, s.first_any, s.n, s.first, s.last, s.spent "
                "FROM orders_customer AS c CROSS JOIN LATERAL ("
                " SELECT min(o.placed_at) AS first_any,"
                " count(*) FILTER (WHERE o.cancelled_at IS NULL) AS n,"
                " min(o.placed_at) FILTER (WHERE o.cancelled_at IS NULL) AS first,"
                " max(o.placed_at) FILTER (WHERE o.cancelled_at IS NULL) AS last,"
                " coalesce(sum(o.total) FILTER (WHERE o.cancelled_at IS NULL"
                " AND o.currency = %s), 0) AS spent"
                " FROM orders_order AS o"
                " WHERE o.customer_id = c.id AND o.id <> ALL(%s::bigint[])) AS s "
                "WHERE c.merchant_id = %s AND c.id = ANY(%s) AND s.first_any IS NOT NULL",
                [merchant.currency, moving, merchant.pk, sorted(customer_ids)],
            )
            return cursor.fetchall()
    live = Q(cancelled_at__isnull=True)
    rows = (
        Order.unscoped.filter(merchant_id=merchant.pk, customer_id__in=customer_ids)
        .exclude(pk__in=moving)
        .values("customer_id")
        .annotate(
            first_any=Min("placed_at"),
            n=Count("id", filter=live),
            first=Min("placed_at", filter=live),
            last=Max("placed_at", filter=live),
            spent=Sum("total", filter=live & Q(currency=merchant.currency)),
        )
        .order_by()
    )
    return [
        (r["customer_id"], r["first_any"], r["n"], r["first"], r["last"], r["spent"] or Decimal(0))
        for r in rows
    ]
