"""Validation shared by every ingestion path (API, webhooks, CSV, seed data).

Payloads are pydantic models; these helpers check what pydantic does not know about (ISO 4217
currencies and their minor units, IANA time zones, E.164 phones, Django's email rule) and turn
pydantic's errors into the project's one error type, naming each field at fault.

The field types every app's payloads share (``ExternalId``, ``Text``, ``Url``, ``AwareDatetime``,
``TextDate``) and the checks for any JSON a payload carries (``no_nul``, ``check_raw``) live here,
in the core, so that orders, notifications, journeys, the event log and every pillar validate
the same way without importing one another.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Annotated, Any, TypeVar

import phonenumbers
from babel.numbers import get_currency_precision, list_currencies
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    WithJsonSchema,
)

from postpurchase.errors import DomainError, ErrorCode

Payload = TypeVar("Payload", bound=BaseModel)

ExternalId = Annotated[str, Field(min_length=1, max_length=255)]
Text = Annotated[str, Field(max_length=255)]
Url = Annotated[str, Field(max_length=500, pattern=r"^(https?://\S+)?$")]

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("must include a UTC offset, e.g. 2026-03-01T12:00:00Z")
    if value is not None and not EARLIEST <= value < LATEST:
        raise ValueError("must be between the years 1900 and 2199")
    # In UTC: PostgreSQL refuses offsets beyond ±15:59, which Python accepts up to ±23:59.
    return value.astimezone(UTC) if value is not None else None


# The schema says what _aware enforces: an ISO 8601 time with its offset, in the years 1900-2199.
DATETIME_SCHEMA = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^(19|2[01])[0-9]{2}-.*([Zz]|[+-][0-9]{2}:?[0-9]{2})$",
    "description": "ISO 8601 with a UTC offset, between the years 1900 and 2199.",
}


def _text_or_datetime(value: object) -> object:
    """A time is sent as ISO 8601 text (or given as a datetime by our own code): pydantic would
    also read a number as seconds since 1970, which the schema does not offer."""
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 time as text, e.g. 2026-03-01T12:00:00Z")
    return value


def _text_or_date(value: object) -> object:
    """A date is sent as ISO 8601 text, e.g. 2026-03-01 (pydantic would also read a number)."""
    if not isinstance(value, str | date):
        raise ValueError("must be an ISO 8601 date as text, e.g. 2026-03-01")
    return value


TextDate = Annotated[date, BeforeValidator(_text_or_date)]
AwareDatetime = Annotated[
    datetime,
    BeforeValidator(_text_or_datetime),
    AfterValidator(_aware),
    WithJsonSchema(DATETIME_SCHEMA, mode="serialization"),
]


def no_nul(value: object) -> object:
    """PostgreSQL text cannot hold NUL characters; refuse them in any string, at any depth
    (walked without recursion, so a deeply nested payload cannot exhaust the stack)."""
    if type(value) is str:  # the common case first: this runs for every field of every payload
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
    if not isinstance(value, list | tuple | dict | str):
        return value  # numbers, dates, booleans, None, nested payloads (checked on their own)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("must not contain NUL characters")
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return value


RAW_DEPTH_LIMIT = 32


def check_raw(value: object) -> None:
    """Walk free-form JSON (a carrier's raw checkpoint, a custom event's properties) without
    recursion, refusing deep nesting."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > RAW_DEPTH_LIMIT:
            raise ValueError(f"must be nested at most {RAW_DEPTH_LIMIT} levels deep")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1) for child in item)


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in _currencies():
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


@cache
def currency_decimals(code: str) -> int:
    return get_currency_precision(code)


def check_money(value: Decimal, currency: str) -> None:
    if value < 0:
        raise ValueError("must not be negative")
    allowed = currency_decimals(currency)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -allowed:
        return  # trailing zeros aside, no more decimals than allowed: the common case
    exponent = value.normalize().as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if decimals > allowed:
        raise ValueError(f"{currency} amounts have at most {allowed} decimal places")


def money_str(value: Decimal, currency: str) -> str:
    """``value`` with exactly the currency's minor-unit digits, as a string: 85.00 EUR, 85 JPY."""
    return str(value.quantize(Decimal(1).scaleb(-currency_decimals(currency))))


def check_timezone(value: str) -> str:
    if value and value not in _timezones():
        raise ValueError(f"{value!r} is not an IANA time zone")
    return value


@lru_cache(maxsize=8192)
def check_email(value: str) -> str:
    """``value`` as stored (the domain in lower case), or ``ValueError``. Cached: a store's
    customers come back order after order."""
    value = value.strip()
    if not value:
        return ""
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError(f"{value!r} is not a valid email address") from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


@lru_cache(maxsize=8192)
def to_e164(value: str, region: str | None = None) -> str:
    """``value`` in E.164 (national numbers read in ``region``), or ``ValueError``. Cached:
    parsing a number is the costliest check of an order, and customers come back."""
    value = value.strip()
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "non_field_errors"


def validation_error_to_domain(exc: ValidationError) -> DomainError:
    fields: dict[str, list[dict[str, str]]] = {}
    for error in exc.errors(include_url=False):
        message = error["msg"].removeprefix("Value error, ")
        fields.setdefault(_field_path(error["loc"]), []).append(
            {"code": error["type"], "message": message}
        )
    first_field, first = next(iter(fields.items()))
    return DomainError(ErrorCode.INVALID, f"{first_field}: {first[0]['message']}", fields=fields)


def parse_payload(
    model: type[Payload], data: Payload | dict[str, Any], *, context: dict | None = None
) -> Payload:
    if isinstance(data, model):
        parsed = data
    elif not isinstance(data, dict):
        raise DomainError(ErrorCode.INVALID, "The payload must be a JSON object.")
    else:
        try:
            parsed = model.model_validate(data, context=context or {})
        except ValidationError as exc:
            raise validation_error_to_domain(exc) from None
    cross_field_errors = getattr(parsed, "cross_field_errors", None)
    errors = cross_field_errors() if cross_field_errors else {}
    if errors:
        first_field, first = next(iter(errors.items()))
        raise DomainError(ErrorCode.INVALID, f"{first_field}: {first[0]['message']}", fields=errors)
    return parsed
