"""Many rows to PostgreSQL in one statement, with the values sent as text.

A multi-row ``VALUES`` list with one parameter per value costs the database a parse of every
literal and the driver an adaptation of each; for batches of hundreds of rows that was most of
the ingestion's database time. Instead:

- ``copy_insert`` streams plain inserts with ``COPY … FROM STDIN`` (text format);
- ``unnest_rows`` gives, for a statement that needs ``ON CONFLICT``, ``RETURNING`` or a join, a
  ``unnest(%s::type[], …)`` row source and its parameters: one array literal per column.

Both take Django model fields, so every value is written as the column's type reads it. The
array casts use the column's base type (``varchar``, ``numeric``) without its length or scale:
an explicit cast to ``varchar(255)`` would truncate silently, whereas the insert's own
assignment refuses a value that does not fit, as a plain ``INSERT`` does.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.db import connection
from django.db.models import Field, JSONField

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@functools.cache
def qn(name: str) -> str:
    """A quoted SQL identifier."""
    return connection.ops.quote_name(name)


def _scalar(value) -> str:
    """A value that is not a string, as PostgreSQL's text input reads it; nothing here needs
    quoting in an array literal or escaping in ``COPY`` text. (The callers turn the common
    datetimes, decimals and integers to text themselves, without this call.)"""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):  # IntegerChoices and other int subclasses too
        return str(int(value))
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"No text form for {type(value).__name__} values")


def _with_json(fields: Sequence[Field], rows: Sequence[Sequence]) -> Sequence[Sequence]:
    """``rows`` with the values of JSON columns dumped to text, as Django writes them (with
    the field's encoder, if it names one); SQL NULL stays ``None``."""
    dumped = [(i, f.encoder) for i, f in enumerate(fields) if isinstance(f, JSONField)]
    if not dumped:
        return rows
    out = []
    texts: dict[tuple[int, int], str] = {}  # rows often share one value (events of one order)
    for row in rows:
        row = list(row)
        for i, encoder in dumped:
            value = row[i]
            if value is not None:
                key = (i, id(value))  # the rows hold every value, so no id is reused meanwhile
                if key not in texts:
                    texts[key] = json.dumps(value, cls=encoder)
                row[i] = texts[key]
        out.append(row)
    return out


@functools.cache
def cast_type(field: Field) -> str:
    """The column's type for an array cast, without length or scale: ``varchar``, ``numeric``."""
    return re.sub(r"\(.*?\)", "", field.db_type(connection)).strip()


def array_literal(values: Iterable) -> str:
    """A one-dimensional array literal: strings (enum members included) quoted and escaped,
    ``None`` as NULL, numbers, booleans, dates and times as their text."""
    return (
        "{"
        + ",".join(
            [
                "NULL"
                if value is None
                else '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
                if isinstance(value, str)
                else value.isoformat()
                if type(value) is datetime
                else str(value)
                if type(value) is Decimal or type(value) is int
                else _scalar(value)
                for value in values
            ]
        )
        + "}"
    )


def unnest_rows(fields: Sequence[Field], rows: Sequence[Sequence]) -> tuple[str, list[str]]:
    """``unnest(%s::t1[], %s::t2[], …)`` and its parameters, for ``rows`` (each a sequence of
    values in the order of ``fields``). Use it as ``FROM unnest(…) AS v(col1, col2, …)``."""
    source = ", ".join(f"%s::{cast_type(field)}[]" for field in fields)
    columns = zip(*_with_json(fields, rows), strict=True) if rows else ([] for _ in fields)
    return f"unnest({source})", [array_literal(column) for column in columns]


def copy_insert(table: str, fields: Sequence[Field], rows: Sequence[Sequence]) -> None:
    """Insert ``rows`` (each a sequence of values in the order of ``fields``) into ``table``
    with one ``COPY``, in the caller's transaction."""
    if not rows:
        return
    escapes = _COPY_ESCAPES
    lines = [
        "\t".join(
            [
                "\\N"
                if value is None
                else value.translate(escapes)
                if isinstance(value, str)
                else value.isoformat()
                if type(value) is datetime
                else str(value)
                if type(value) is Decimal or type(value) is int
                else _scalar(value)
                for value in row
            ]
        )
        for row in _with_json(fields, rows)
    ]
    lines.append("")
    columns = ", ".join(qn(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {qn(table)} ({columns}) FROM STDIN", io.StringIO("\n".join(lines))
        )


def unnest_update(model, objs, names: Sequence[str], *, merchant_id: int) -> None:
    """One ``UPDATE … FROM unnest(…)`` writing the fields ``names`` of every instance in
    ``objs`` (the merchant's rows of ``model``), in id order."""
    from django.db import connection

    objs = sorted(objs, key=lambda o: o.pk)
    if not objs:
        return
    fields = [model._meta.pk] + [model._meta.get_field(name) for name in names]
    attnames = [f.attname for f in fields]
    source, params = unnest_rows(fields, [[getattr(o, n) for n in attnames] for o in objs])
    columns = ", ".join(qn(f.column) for f in fields)
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(model._meta.db_table)} AS t SET {sets} "  # noqa: S608
            f"FROM {source} AS v({columns}) WHERE t.id = v.id AND t.merchant_id = %s",
            [*params, merchant_id],
        )


def allocate_ids(model, count: int) -> list[int]:
    """Ids for ``count`` new rows of ``model``, from its sequence, in ascending order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def insert_rows(
    table: str, fields: Sequence[Field], rows: Sequence[Sequence], *, conflict: str, extra: str
) -> set[int]:
    """``INSERT … SELECT * FROM unnest(…) ON CONFLICT conflict extra RETURNING id``: the ids of
    the rows written."""
    source, params = unnest_rows(fields, rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
            f"SELECT * FROM {source} ON CONFLICT {conflict} {extra} RETURNING id",
            params,
        )
        return {row[0] for row in cursor.fetchall()}


def insert_new(model, objs, *, conflict: str = "") -> set[int]:
    """Insert ``objs`` (new instances of ``model``) with one statement, their ids taken from the
    sequence first, and return the ids of the rows written: all of them (a ``COPY``), or, with
    ``conflict`` (``"(merchant_id, key)"``), those ``ON CONFLICT … DO NOTHING`` let in."""
    objs = list(objs)
    if not objs:
        return set()
    for obj, pk in zip(objs, allocate_ids(model, len(objs)), strict=True):
        obj.pk = pk
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    rows = [[getattr(obj, name) for name in names] for obj in objs]
    table = model._meta.db_table
    if not conflict:
        copy_insert(table, fields, rows)
        inserted = {obj.pk for obj in objs}
    else:
        inserted = insert_rows(table, fields, rows, conflict=conflict, extra="DO NOTHING")
    for obj in objs:
        if obj.pk in inserted:
            obj._state.adding, obj._state.db = False, "default"
    return inserted
