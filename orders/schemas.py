"""The ingestion payloads: the shape every path into the commerce model is validated against.

Passing ``context={"region": "US"}`` to validation sets the default region for national-format
phone numbers (the merchant's country).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from orders.models import FinancialStatus, FulfillmentStatus, ShipmentStatus
from orders.shipment_statuses import substatus_error
from postpurchase.validation import (
    AwareDatetime,
    ExternalId,
    Text,
    TextDate,
    Url,
    check_currency,
    check_email,
    check_money,
    check_raw,
    check_timezone,
    no_nul,
    to_e164,
)

# The database column is (14, 3): at most 11 digits before the point and 3 after it.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=3, allow_inf_nan=False),
    # As text (preferred: exact) or as a JSON number; at most the currency's decimals.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^[0-9]{1,11}(\.[0-9]{1,3})?$"},
                {"type": "number", "minimum": 0, "maximum": 99999999999.999},
            ],
            "examples": ["84.99"],
        },
        mode="serialization",
    ),
]
RAW_PAYLOAD_LIMIT = 16_384  # characters of JSON kept from a carrier's raw checkpoint


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    _nul = field_validator("*")(classmethod(lambda cls, value: no_nul(value)))

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        """Errors that need more than one field to find, keyed by the field at fault."""
        return {}


# What CustomerIn._identified enforces, for the schema: at least one of the three, not blank.
CUSTOMER_IDENTITY = {
    "anyOf": [
        {"required": [name], "properties": {name: {"type": "string", "pattern": r"\S"}}}
        for name in ("external_id", "email", "phone")
    ],
    "description": "A customer is named by an external_id, an email or a phone (one at least).",
}


class CustomerIn(_Payload):
    model_config = ConfigDict(json_schema_extra=CUSTOMER_IDENTITY)

    external_id: ExternalId | None = None
    email: Annotated[str, Field(max_length=254)] = ""
    phone: Annotated[str, Field(max_length=32)] = ""
    first_name: Annotated[str, Field(max_length=100)] = ""
    last_name: Annotated[str, Field(max_length=100)] = ""
    timezone: Annotated[str, Field(max_length=64)] = ""
    locale: Annotated[
        str, Field(max_length=16, pattern=r"^([a-z]{2,3}([-_][A-Za-z0-9]{2,8})*)?$")
    ] = ""
    birthday: TextDate | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=100
    )
    # true or false only (pydantic would also read 0, 1, "yes", which the schema does not offer)
    accepts_email_marketing: StrictBool | None = None
    accepts_sms_marketing: StrictBool | None = None
    consent_source: Annotated[str, Field(max_length=50)] = ""
    consent_updated_at: AwareDatetime | None = None

    _email = field_validator("email")(classmethod(lambda cls, v: check_email(v)))
    _timezone = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str, info: ValidationInfo) -> str:
        return to_e164(value, (info.context or {}).get("region"))

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return sorted({tag.strip() for tag in value if tag.strip()})

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not (self.external_id or self.email or self.phone):
            raise ValueError("a customer needs an external_id, an email or a phone")
        return self


class ProductIn(_Payload):
    external_id: ExternalId
    title: Annotated[str, Field(min_length=1, max_length=255)]
    sku: Annotated[str, Field(max_length=100)] = ""
    category: Annotated[str, Field(max_length=100)] = ""
    price: Money | None = None
    image_url: Url = ""
    url: Url = ""


class OrderLineIn(_Payload):
    external_id: ExternalId | None = None
    product_external_id: ExternalId | None = None
    product: ProductIn | None = None
    title: Text = ""
    sku: Annotated[str, Field(max_length=100)] = ""
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]
    unit_price: Money
    discount: Money = Decimal(0)

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        errors: dict[str, list[dict[str, str]]] = {}
        if not self.title and self.product is None and not self.product_external_id:
            errors["title"] = [
                _error("required", "a line needs a title, a product or a product_external_id")
            ]
        if (
            self.product
            and self.product_external_id
            and (self.product.external_id != self.product_external_id)
        ):
            errors["product_external_id"] = [
                _error("mismatch", "product.external_id and product_external_id disagree")
            ]
        if self.discount > self.unit_price * self.quantity:
            errors["discount"] = [_error("too_large", "must not exceed unit_price × quantity")]
        return errors


def postal_code_normalise(value: str) -> str:
    """A postal code as compared (the shopper's lookup): upper case, without spaces or hyphens,
    so ``sw1a 1aa``, ``SW1A1AA`` and ``SW1A 1AA`` are one code, as are ``12345-6789`` and
    ``123456789``."""
    return "".join(value.split()).replace("-", "").upper()


class ShippingAddressIn(_Payload):
    """Where the order ships, as stores send it (Shopify's ``shipping_address``: ``zip`` is
    ``postal_code`` here). Every part is optional (a digital order has none); the country is an
    ISO 3166-1 alpha-2 code, the province a region code (``ON``, ``CA``, ``NSW``). Kept as
    text: it is shown and exported, never routed on."""

    name: Annotated[str, Field(max_length=255)] = ""
    company: Annotated[str, Field(max_length=255)] = ""
    address1: Annotated[str, Field(max_length=255)] = ""
    address2: Annotated[str, Field(max_length=255)] = ""
    city: Annotated[str, Field(max_length=100)] = ""
    province_code: Annotated[str, Field(max_length=16)] = ""
    postal_code: Annotated[str, Field(max_length=20)] = ""
    country_code: Annotated[str, Field(max_length=2, pattern=r"^([A-Za-z]{2})?$")] = ""
    phone: Annotated[str, Field(max_length=32)] = ""

    _upper = field_validator("province_code", "country_code")(
        classmethod(lambda cls, value: value.upper())
    )

    def stored(self) -> dict[str, str]:
        """The value ``Order.shipping_address`` holds: every key, or ``{}`` when all are blank."""
        values = self.model_dump()
        return values if any(values.values()) else {}


def shipping_address_out(stored: dict) -> dict[str, str] | None:
    """``Order.shipping_address`` as the API and the export show it: every key in the payload's
    order (PostgreSQL's jsonb keeps keys in an order of its own), or ``None`` for none."""
    if not stored:
        return None
    return {name: stored.get(name, "") for name in ShippingAddressIn.model_fields}


def shipping_address_lines(stored: dict) -> list[str]:
    """``Order.shipping_address`` as the lines of a parcel label (the order page shows it): the
    name, the company, the street, the town with its region and postal code, the country, the
    phone; blank parts left out."""
    address = shipping_address_out(stored)
    if address is None:
        return []
    town = " ".join(
        part for part in (address["city"], address["province_code"], address["postal_code"]) if part
    )
    parts = (
        address["name"],
        address["company"],
        address["address1"],
        address["address2"],
        town,
        address["country_code"],
        address["phone"],
    )
    return [part for part in parts if part]


MONEY_FIELDS = ("subtotal", "discount", "shipping", "tax", "total")


def _money_error(amount: Decimal, currency: str) -> str | None:
    try:
        check_money(amount, currency)
    except ValueError as exc:
        return str(exc)
    return None


LINE_MONEY = ("unit_price", "discount")


class OrderIn(_Payload):
    external_id: ExternalId
    number: Annotated[str, Field(min_length=1, max_length=64)]
    customer: CustomerIn | None = None
    customer_external_id: ExternalId | None = None
    placed_at: AwareDatetime
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    subtotal: Money
    discount: Money = Decimal(0)
    shipping: Money = Decimal(0)
    tax: Money = Decimal(0)
    total: Money
    financial_status: FinancialStatus = FinancialStatus.PAID
    fulfillment_status: FulfillmentStatus = FulfillmentStatus.UNFULFILLED
    cancelled_at: AwareDatetime | None = None
    cancel_reason: Annotated[str, Field(max_length=100)] = ""
    source: Annotated[str, Field(max_length=50)] = ""
    updated_at: AwareDatetime | None = None
    # Unsaid on an update: the order keeps the address it has; null: the order has none.
    shipping_address: ShippingAddressIn | None = None
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=500)]

    _currency = field_validator("currency")(classmethod(lambda cls, v: check_currency(v)))

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        """Amounts with more decimals than the currency has, and line discounts larger than the
        line, each named by its field."""
        errors: dict[str, list[dict[str, str]]] = {}
        # A field's path is spelled only for an error: this runs for every order ingested.
        for name in MONEY_FIELDS:
            if message := _money_error(getattr(self, name), self.currency):
                errors[name] = [_error("currency_decimals", message)]
        for index, line in enumerate(self.lines):
            for name in LINE_MONEY:
                if message := _money_error(getattr(line, name), self.currency):
                    errors[f"lines[{index}].{name}"] = [_error("currency_decimals", message)]
        for index, line in enumerate(self.lines):
            found = line.cross_field_errors()
            for field_path, items in found.items():
                errors.setdefault(f"lines[{index}].{field_path}", []).extend(items)
        if (
            self.customer
            and self.customer_external_id
            and (self.customer.external_id != self.customer_external_id)
        ):
            errors["customer_external_id"] = [
                _error("mismatch", "customer.external_id and customer_external_id disagree")
            ]
        # Lines without an id are keyed by position (#1, #2, ...): those keys count too.
        keys = [line.external_id or f"#{i + 1}" for i, line in enumerate(self.lines)]
        if len(keys) != len(set(keys)):
            errors["lines"] = [_error("duplicate", "two lines share an external_id")]
        return errors


def _status_alias(value):
    """``label_created``, this status's name before ``info_received`` replaced it, is still
    taken (integrations written against it keep working)."""
    return ShipmentStatus.INFO_RECEIVED.value if value == "label_created" else value


AnyStatus = Annotated[ShipmentStatus, BeforeValidator(_status_alias)]
SubStatus = Annotated[str, Field(max_length=30)]


def _substatus_errors(status, substatus: str, field: str) -> dict[str, list[dict]]:
    problem = substatus_error(status, substatus) if status is not None else None
    if status is None and substatus:
        problem = "a sub-status needs a status"
    return {field: [_error("invalid", problem)]} if problem else {}


class CheckpointIn(_Payload):
    status: AnyStatus
    # the reason, for an exception, a failed attempt or a delivery (orders/shipment_statuses.py)
    substatus: SubStatus = ""
    # the feed's own word for it, kept as it came
    raw_status: Annotated[str, Field(max_length=100)] = ""
    occurred_at: AwareDatetime
    description: Annotated[str, Field(max_length=500)] = ""
    location: Text = ""
    raw: dict = Field(default_factory=dict)

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        return _substatus_errors(self.status, self.substatus, "substatus")

    @field_validator("raw")
    @classmethod
    def _raw_size(cls, value: dict) -> dict:
        check_raw(value)
        try:
            dumped = json.dumps(value, default=str, allow_nan=False, ensure_ascii=False)
            dumped.encode("utf-8")
        except ValueError:  # NaN/Infinity, or a lone surrogate (UnicodeEncodeError)
            raise ValueError(
                "must be valid JSON text (no NaN, Infinity or lone surrogates)"
            ) from None
        if len(dumped) > RAW_PAYLOAD_LIMIT:
            raise ValueError(f"must be at most {RAW_PAYLOAD_LIMIT} characters as JSON")
        return value


class ShipmentLineIn(_Payload):
    line_external_id: ExternalId
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]


# What ShipmentIn.cross_field_errors enforces, for the schema: a status_at needs a status.
STATUS_AT_NEEDS_STATUS = {
    "if": {"required": ["status_at"], "properties": {"status_at": {"type": "string"}}},
    "then": {"required": ["status"], "properties": {"status": {"type": "string"}}},
}


class ShipmentIn(_Payload):
    model_config = ConfigDict(json_schema_extra=STATUS_AT_NEEDS_STATUS)

    external_id: ExternalId
    order_external_id: ExternalId
    carrier: Annotated[str, Field(max_length=100)] = ""
    # the carrier's service level ("Ground", "Express"): estimates are measured per service
    service: Annotated[str, Field(max_length=100)] = ""
    tracking_number: Annotated[str, Field(max_length=100)] = ""
    tracking_url: Url = ""
    status: AnyStatus | None = None
    # the reason, for an exception, a failed attempt or a delivery (orders/shipment_statuses.py)
    substatus: SubStatus = ""
    status_at: AwareDatetime | None = None
    estimated_delivery: TextDate | None = None
    shipped_at: AwareDatetime | None = None
    lines: Annotated[list[ShipmentLineIn], Field(max_length=500)] = Field(default_factory=list)
    checkpoints: Annotated[list[CheckpointIn], Field(max_length=1000)] = Field(default_factory=list)

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        errors = _substatus_errors(self.status, self.substatus, "substatus")
        if self.status_at is not None and self.status is None:
            errors["status_at"] = [_error("without_status", "status_at given without a status")]
        for index, checkpoint in enumerate(self.checkpoints):
            for field, items in checkpoint.cross_field_errors().items():
                errors[f"checkpoints[{index}].{field}"] = items
        return errors
