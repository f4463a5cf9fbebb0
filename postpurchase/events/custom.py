"""Custom events posted by integrators (``POST /api/v1/events``), such as
``product.setup_completed``: recorded in the event log like our own, so journeys and webhooks
can react to them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Self

from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.catalogue import (
    TYPE_PATTERN,
    event_type_check,
    platform_type_is,
    reserved_namespaces,
    reserved_types_pattern,
)
from postpurchase.events.customers import customer_resolve
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import (
    AwareDatetime,
    ExternalId,
    check_raw,
    no_nul,
    parse_payload,
)

PROPERTIES_LIMIT = 16_384  # characters of JSON
# What the schema says of the rules above that a single field cannot: exactly one of the two
# customer fields names the customer, and a platform namespace is not a custom event's.
SCHEMA_RULES = {
    "oneOf": [
        {"required": ["customer_id"], "properties": {"customer_id": {"type": "integer"}}},
        {
            "required": ["customer_external_id"],
            "properties": {"customer_external_id": {"type": "string"}},
        },
    ],
    "description": "Name the customer by customer_id or by customer_external_id: exactly one.",
}


def _reserved_types(schema: dict) -> None:
    """The platform's names (the catalogue's reserved namespaces and the types it registered
    outside them), read when the schema is built: apps register them in ``ready()``."""
    schema["not"] = {"pattern": reserved_types_pattern()}


class CustomEventIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, json_schema_extra=SCHEMA_RULES
    )

    type: Annotated[
        str,
        Field(
            min_length=3,
            max_length=100,
            pattern=TYPE_PATTERN,
            examples=["product.setup_completed"],
            json_schema_extra=_reserved_types,
        ),
    ]
    id: Annotated[
        str | None,
        Field(
            max_length=200,
            description="Your id for this event: a second event with the same id is ignored.",
        ),
    ] = None
    customer_id: int | None = None
    customer_external_id: ExternalId | None = None
    occurred_at: AwareDatetime | None = None
    properties: dict = Field(default_factory=dict)

    _nul = field_validator("*")(classmethod(lambda cls, value: no_nul(value)))

    @field_validator("type")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        # The platform records these itself; an integrator posting one would fake a purchase,
        # a delivery or an erasure.
        if platform_type_is(value):
            namespace = value.split(".", 1)[0]
            name = f"{namespace}.*" if namespace in reserved_namespaces() else value
            raise ValueError(f"{name} events are recorded by the platform itself")
        try:
            event_type_check(value)
        except DomainError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("properties")
    @classmethod
    def _size(cls, value: dict) -> dict:
        check_raw(value)
        try:
            dumped = json.dumps(value, allow_nan=False, ensure_ascii=False)
            dumped.encode("utf-8")
        except ValueError:
            raise ValueError("must be valid JSON (no NaN, Infinity or lone surrogates)") from None
        if len(dumped) > PROPERTIES_LIMIT:
            raise ValueError(f"must be at most {PROPERTIES_LIMIT} characters as JSON")
        return value

    @model_validator(mode="after")
    def _one_customer(self) -> Self:
        if (self.customer_id is None) == (self.customer_external_id is None):
            raise ValueError("name the customer by customer_id or customer_external_id (one)")
        return self


def custom_event_record(
    *, merchant: Merchant, payload: dict | CustomEventIn, now: datetime | None = None
) -> tuple[Event, bool]:
    """Record an integrator's event for one of the merchant's customers. Returns
    ``(event, created)``; an event whose ``id`` was already recorded is returned as it was."""
    data = parse_payload(CustomEventIn, payload)
    now = now or timezone.now()
    customer = customer_resolve(
        merchant=merchant, customer_id=data.customer_id, external_id=data.customer_external_id
    )
    if data.customer_id is not None:
        field, value = "customer_id", data.customer_id
    else:
        field, value = "customer_external_id", data.customer_external_id
    if customer is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No customer has {field} {value!r}.", field=field)
    with transaction.atomic():
        return event_record(
            merchant=merchant,
            type=data.type,
            customer=customer,
            payload=data.properties,
            occurred_at=data.occurred_at or now,
            dedupe_key=f"custom:{data.id}" if data.id else None,
            source="api",
            now=now,
        )
