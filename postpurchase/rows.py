"""Model instances from hand-written SQL, for the few pages on a hot path.

The ORM compiles every queryset anew on every request (filters, joins, ordering, column list):
on the shopper's tracking page that took longer than PostgreSQL took to answer. A page that is
requested hundreds of times a second writes its reads as plain SQL instead, and this module
turns the rows back into model instances exactly as the ORM does: every concrete column in the
model's order, each value through the converters the ORM would apply (a JSON document, a
decimal or a time from SQLite), and the instance marked as loaded from the database.

The statements name their tables and columns from the models' ``_meta`` (``columns``), so a
migration that adds a column needs no change here. Nothing here scopes by merchant: every
statement written with it must filter on ``merchant_id`` itself (the scoped managers are not
involved), and its tests must show another merchant's rows are not read.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[Model], alias: str) -> str:
    """``alias."id", alias."merchant_id", …``: every concrete column of ``model``, in its
    order, for a ``SELECT`` that ``instances`` reads back."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    """How many columns ``columns`` selects."""
    return len(model._meta.concrete_fields)


@cache
def _converters(model: type[Model], vendor: str) -> tuple[tuple[int, tuple, Any], ...]:
    """Per column that needs one: its position, its converters and the expression they take
    (``SQLCompiler.apply_converters``' arguments)."""
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((index, tuple(converters), column))
    return tuple(found)


def instance(model: type[M], row: Sequence[Any], start: int = 0) -> M:
    """The instance of ``model`` whose columns (as ``columns`` lists them) begin at ``start``
    in ``row``."""
    values = list(row[start : start + width(model)])
    for index, converters, expression in _converters(model, connection.vendor):
        value = values[index]
        for converter in converters:
            value = converter(value, expression, connection)
        values[index] = value
    return model.from_db(connection.alias, None, values)


def instances(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    """``SELECT <every column of model> <sql>`` (``sql`` starts at ``FROM``, with the model's
    table aliased ``t``), each row as an instance."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns(model, 't')} {sql}", params)
        return [instance(model, row) for row in cursor.fetchall()]
