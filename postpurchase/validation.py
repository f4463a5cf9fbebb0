"""Validation shared by every ingestion path (API, webhooks, CSV, seed data).

Payloads are pydantic models; these helpers check what pydantic does not know about (ISO 4217
currencies and their minor units, IANA time zones, E.164 phones, Django's email rule) and turn
pydantic's errors into the project's one error type, naming each field at fault.
"""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, TypeVar

import phonenumbers
from babel.numbers import get_currency_precision, list_currencies
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from pydantic import BaseModel, ValidationError

from postpurchase.errors import DomainError, ErrorCode

Payload = TypeVar("Payload", bound=BaseModel)


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
