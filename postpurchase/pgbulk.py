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

import enum
import functools
import io
import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Field, JSONField

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def qn(name: str) -> str:
    """A quoted SQL identifier."""
    return _quote(name)


@functools.cache
def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _json_text(field: JSONField):
    """JSON as Django writes it for the field (its encoder, if it names one)."""
    encoder = field.encoder
    return lambda value: None if value is None else json.dumps(value, cls=encoder)


def _text(value) -> str | None:
    """``value`` as PostgreSQL's text input reads it, or ``None`` for NULL."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return None
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is Decimal:
        return str(value)
    if kind is datetime or kind is date:
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _text(value.value)
    if isinstance(value, str | int | Decimal):
        return str(value)
    if isinstance(value, date):  # a datetime or date subclass
        return value.isoformat()
    raise TypeError(f"No text form for {kind.__name__} values")


def _converter(field: Field):
    if isinstance(field, JSONField):
        return _json_text(field)
    return _text


@functools.cache
def cast_type(field: Field) -> str:
    """The column's type for an array cast, without length or scale: ``varchar``, ``numeric``."""
    return re.sub(r"\(.*?\)", "", field.db_type(connection)).strip()


def _columns(rows: Sequence[Sequence], fields: Sequence[Field]) -> list[list[str | None]]:
    converters = [_converter(field) for field in fields]
    columns: list[list[str | None]] = [[] for _ in fields]
    for row in rows:
        for column, convert, value in zip(columns, converters, row, strict=True):
            column.append(convert(value))
    return columns


def _element(text: str | None) -> str:
    if text is None:
        return "NULL"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(texts: Iterable[str | None]) -> str:
    """A one-dimensional array literal of text values (``None`` for NULL)."""
    return "{" + ",".join(_element(text) for text in texts) + "}"


def unnest_rows(fields: Sequence[Field], rows: Sequence[Sequence]) -> tuple[str, list[str]]:
    """``unnest(%s::t1[], %s::t2[], …)`` and its parameters, for ``rows`` (each a sequence of
    values in the order of ``fields``). Use it as ``FROM unnest(…) AS v(col1, col2, …)``."""
    source = ", ".join(f"%s::{cast_type(field)}[]" for field in fields)
    return f"unnest({source})", [array_literal(column) for column in _columns(rows, fields)]


def copy_insert(table: str, fields: Sequence[Field], rows: Sequence[Sequence]) -> None:
    """Insert ``rows`` (each a sequence of values in the order of ``fields``) into ``table``
    with one ``COPY``, in the caller's transaction."""
    if not rows:
        return
    converters = [_converter(field) for field in fields]
    buffer = io.StringIO()
    write = buffer.write
    for row in rows:
        texts = []
        for convert, value in zip(converters, row, strict=True):
            text = convert(value)
            texts.append("\\N" if text is None else text.translate(_COPY_ESCAPES))
        write("\t".join(texts))
        write("\n")
    buffer.seek(0)
    columns = ", ".join(qn(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {qn(table)} ({columns}) FROM STDIN", buffer)
