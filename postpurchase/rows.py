"""Model instances from hand-written SQL, for the few pages on a hot path.

The ORM compiles every queryset anew on every request (filters, joins, ordering, column list):
on the shopper's tracking page that took longer than PostgreSQL took to answer. A page that is
requested hundreds of times a second writes its reads as plain SQL instead, and this module
turns the rows back into model instances exactly as the ORM does: every concrete column in the
model's order, each value through the converters the ORM would apply (a JSON document, a
decimal or a time from SQLite), and the instance marked as loaded from the database.

The statements name their tables and columns from the models' ``_meta`` (``columns``), so a
migration that adds a column needs no change here.

On PostgreSQL each statement is prepared on the server the first time a kept connection
(``DB_CONN_MAX_AGE`` above 0) runs it (``statement``): planning a short statement cost
PostgreSQL two to three times what running it did, and a prepared one is planned once per
connection. ``DB_PREPARED_STATEMENTS=false`` turns that off, for a pooler in transaction mode
(PgBouncer's), which may send the ``EXECUTE`` to another server connection than the
``PREPARE``.

Nothing here scopes by merchant: every statement written with it must filter on
``merchant_id`` itself (the scoped managers are not involved), and its tests must show another
merchant's rows are not read.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache, partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

M = TypeVar("M", bound=Model)


@cache
def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@cache
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
    return _loaded(model, values)


# A JSON value of a column, as PostgreSQL writes it (``to_json``), to the value the ORM loads, by
# the field's type. A decimal column is sent as text (``json_columns``), so it keeps its digits;
# fields of other types keep the JSON value (a string, a number, a boolean, a JSON document
# already parsed, ``None``).
_FROM_JSON: dict[str, Callable[[Any], Any]] = {
    "DateTimeField": datetime.fromisoformat,
    "DateField": date.fromisoformat,
    "TimeField": time.fromisoformat,
    "DecimalField": Decimal,
    "UUIDField": uuid.UUID,
}
# Types whose PostgreSQL JSON form is not the value (an interval, bytes): not read this way.
_NOT_IN_JSON = {"DurationField", "BinaryField"}


@cache
def json_columns(model: type[Model], alias: str) -> str:
    """``json_build_array(alias."id", alias."merchant_id", …)`` (PostgreSQL): every concrete
    column of ``model`` as one JSON array, for a statement that gathers rows of several tables
    in one answer (``json_agg``; psycopg2 parses a ``json`` value), and ``json_instance`` reads
    each array back. A decimal goes as text: a JSON number would come back as a float."""
    fields = model._meta.concrete_fields
    refused = [f.name for f in fields if f.get_internal_type() in _NOT_IN_JSON]
    if refused:
        raise TypeError(f"{model.__name__}: {', '.join(refused)} cannot be read as JSON")
    quote = connection.ops.quote_name
    parts = [
        f"{alias}.{quote(f.column)}" + ("::text" if f.get_internal_type() == "DecimalField" else "")
        for f in fields
    ]
    return "json_build_array(" + ", ".join(parts) + ")"


@cache
def _json_converters(model: type[Model]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """Per column that needs one: its position and what turns its JSON value into the ORM's
    (the type's conversion, then the field's own ``from_db_value``, as a decrypting field has;
    a JSON field's value is parsed already)."""
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        kind = field.get_internal_type()
        steps = [_FROM_JSON[kind]] if kind in _FROM_JSON else []
        if hasattr(field, "from_db_value") and kind != "JSONField":
            steps.append(partial(_field_value, field))
        if steps:
            found.append((index, _chain(tuple(steps))))
    return tuple(found)


def _field_value(field, value):
    return field.from_db_value(value, None, connection)


def _chain(steps: tuple[Callable[[Any], Any], ...]) -> Callable[[Any], Any]:
    if len(steps) == 1:
        return steps[0]

    def run(value):
        for step in steps:
            value = step(value)
        return value

    return run


def json_instance(model: type[M], values: Sequence[Any], start: int = 0) -> M:
    """The instance of ``model`` whose columns (a ``json_columns`` array) begin at ``start`` in
    ``values``: the same values the ORM would load."""
    values = list(values[start : start + width(model)])
    for index, convert in _json_converters(model):
        if values[index] is not None:
            values[index] = convert(values[index])
    return _loaded(model, values)


@cache
def _attnames(model: type[Model]) -> tuple[str, ...] | None:
    """The attribute of each concrete column, when ``_loaded`` may set them straight; ``None``
    when the model has its own ``from_db``."""
    if model.from_db.__func__ is not Model.from_db.__func__:
        return None
    return tuple(field.attname for field in model._meta.concrete_fields)


def _loaded(model: type[M], values: list[Any]) -> M:
    """``model.from_db`` for every column, without ``Model.__init__``'s work per field: the
    same attributes and state (a test holds them equal), unless the model has its own
    ``from_db`` or listeners of its init signals."""
    names = _attnames(model)
    if names is None or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(connection.alias, None, values)
    obj = model.__new__(model)
    obj.__dict__.update(zip(names, values, strict=True))
    state = obj._state = ModelState()
    state.adding, state.db = False, connection.alias
    return obj


def fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    """The rows ``sql`` (``%s`` placeholders) selects with ``params``, through ``statement``."""
    with connection.cursor() as cursor:
        cursor.execute(*statement(sql, params))
        return cursor.fetchall()


def instances(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    """``SELECT <every column of model> <sql>`` (``sql`` starts at ``FROM``, with the model's
    table aliased ``t``), each row as an instance."""
    return [instance(model, row) for row in fetch(f"SELECT {columns(model, 't')} {sql}", params)]


_PLACEHOLDER = re.compile(r"%s|%%")
# A statement with more parameters than this (a long ``IN`` list) runs unprepared: each length
# would be a statement of its own, kept by the server for the connection's life.
MAX_PREPARED_PARAMS = 32


@cache
def _prepared_text(sql: str) -> tuple[str, str]:
    """``sql`` (``%s`` placeholders, ``%%`` for a percent sign) as a named ``PREPARE``."""
    name = "rows_" + hashlib.sha256(sql.encode()).hexdigest()[:20]
    numbers = iter(range(1, 10_000))
    body = _PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else f"${next(numbers)}", sql)
    return name, f"PREPARE {name} AS {body}"


def statement(sql: str, params: Sequence[Any]) -> tuple[str, Sequence[Any]]:
    """What to execute for ``sql`` with ``params`` (``cursor.execute(*statement(sql, params))``):
    on PostgreSQL, ``EXECUTE`` of the statement prepared on this connection (prepared now, the
    first time); elsewhere, with ``DB_PREPARED_STATEMENTS`` off, on a connection closed after
    each request (``DB_CONN_MAX_AGE=0``: preparing would cost a round trip a statement and save
    nothing) or with more than ``MAX_PREPARED_PARAMS`` parameters, ``sql`` itself."""
    if (
        connection.vendor != "postgresql"
        or not settings.DB_PREPARED_STATEMENTS
        or connection.settings_dict.get("CONN_MAX_AGE") == 0  # closed after each request
        or len(params) > MAX_PREPARED_PARAMS
    ):
        return sql, params
    name, prepare = _prepared_text(sql)
    connection.ensure_connection()
    # The set belongs to the DB-API connection it was made on: a new connection (after a
    # reconnect) starts with none prepared.
    raw, prepared = getattr(connection, "_rows_prepared", (None, set()))
    if raw is not connection.connection:
        raw, prepared = connection.connection, set()
        connection._rows_prepared = (raw, prepared)
    if name not in prepared:
        with connection.cursor() as cursor:
            cursor.execute(prepare)
        prepared.add(name)
    marks = ", ".join(["%s"] * len(params))
    return (f"EXECUTE {name}({marks})" if params else f"EXECUTE {name}"), params
