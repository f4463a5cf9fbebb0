"""The order ingestion rules, once: what a payload makes of a customer, a product, an order and
its fulfillment, and when a payload is too old to apply.

Pure functions over model instances and parsed payloads, with no query of their own: the engine
(``orders.ingest.replay``) applies them to the rows it has read, and the row services
(``orders.services.customers``, ``.shipments``) to the rows they have locked, so a rule changed
here changes every door an order or a customer comes in by.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orders.models import Customer, FulfillmentStatus, Order
from orders.schemas import CustomerIn, OrderIn, ProductIn
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.validation import check_money

FULFILLMENT_RANK = {
    FulfillmentStatus.UNFULFILLED: 0,
    FulfillmentStatus.PARTIALLY_FULFILLED: 1,
    FulfillmentStatus.FULFILLED: 2,
}
# The order's fields whose change makes an ``order.updated`` (``source_updated_at`` alone does not).
ORDER_TRACKED_FIELDS = (
    "number",
    "customer_id",
    "placed_at",
    "currency",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "financial_status",
    "fulfillment_status",
    "cancelled_at",
    "cancel_reason",
    "source",
    "shipping_address",
)
CUSTOMER_PROFILE_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "timezone",
    "locale",
    "birthday",
)


def latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def assign(instance, values: Mapping[str, Any]) -> bool:
    """Set ``values`` on ``instance``; whether any of them differed from what it held."""
    changed = False
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def ingest_context(merchant) -> dict[str, str]:
    """The validation context of a merchant's payloads (phone numbers read in its region)."""
    return {"region": merchant.country or ""}


# --- customers ------------------------------------------------------------------------------


def contact_lock_key(merchant, contact: str) -> int:
    """The advisory lock key of one merchant's contact (email or phone): every path that may
    create a shopper known only by contact takes it first."""
    digest = hashlib.blake2b(f"{merchant.pk}:{contact}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def customer_contacts(data: CustomerIn) -> list[str]:
    """The contacts a shopper without an external id is known by, in the lock order."""
    return sorted({data.email.lower(), data.phone} - {""})


def customer_values(data: CustomerIn, now: datetime) -> dict[str, Any]:
    """The customer's fields a payload states (what it leaves out stays as held); a consent
    statement carries its moment (``now`` when undated) and its source."""
    values: dict[str, Any] = {}
    for name in CUSTOMER_PROFILE_FIELDS:
        if name in data.model_fields_set:
            values[name] = getattr(data, name)
    if "tags" in data.model_fields_set:
        values["tags"] = data.tags
    consent_at = data.consent_updated_at or now
    for channel, given in (
        ("email", data.accepts_email_marketing),
        ("sms", data.accepts_sms_marketing),
    ):
        if given is not None:
            values[f"{channel}_marketing_consent"] = given
            values[f"{channel}_consent_updated_at"] = consent_at
            values[f"{channel}_consent_source"] = data.consent_source or "import"
    if "email" in values:
        values["email"] = values["email"].lower()
    return values


def keep_newer_consent(customer: Customer, values: dict[str, Any]) -> None:
    """Drop from ``values`` any consent older than the one held: an existing consent is only
    overwritten by a newer statement of it."""
    for channel in ("email", "sms"):
        stamp = values.get(f"{channel}_consent_updated_at")
        held = getattr(customer, f"{channel}_consent_updated_at")
        if stamp is not None and held is not None and stamp < held:
            for suffix in ("marketing_consent", "consent_updated_at", "consent_source"):
                values.pop(f"{channel}_{suffix}")


# --- products -------------------------------------------------------------------------------


def product_values(data: ProductIn) -> dict[str, Any]:
    """The product's fields a payload states."""
    return data.model_dump(exclude={"external_id"}, exclude_unset=True)


def nested_products(data: OrderIn) -> dict[str, tuple[int, ProductIn]]:
    """The products an order's lines carry, by external id, with the position of the line
    (the last line naming one wins)."""
    return {
        line.product.external_id: (i, line.product)
        for i, line in enumerate(data.lines)
        if line.product is not None
    }


# --- orders ---------------------------------------------------------------------------------


def line_key(external_id: str, position: int) -> str:
    """An order line's key: its external id, or its place in the order (``#1``) without one."""
    return external_id or f"#{position + 1}"


def is_stale(order: Order, data: OrderIn) -> bool:
    """A payload older than the one already applied to the order is ignored."""
    return bool(
        data.updated_at and order.source_updated_at and data.updated_at < order.source_updated_at
    )


def order_values(
    data: OrderIn, *, order: Order | None, customer: Customer | None, source: str
) -> dict[str, Any]:
    """The order's fields from the payload. For an existing order: the channel it came from is
    kept, an unsaid fulfillment status or shipping address is kept, and ``source_updated_at``
    never goes back."""
    values = {
        "number": data.number,
        "customer": customer,
        "placed_at": data.placed_at,
        "currency": data.currency,
        "subtotal": data.subtotal,
        "discount": data.discount,
        "shipping": data.shipping,
        "tax": data.tax,
        "total": data.total,
        "financial_status": data.financial_status,
        "fulfillment_status": data.fulfillment_status,
        "cancelled_at": data.cancelled_at,
        "cancel_reason": data.cancel_reason,
        "source": data.source or source,
        "source_updated_at": data.updated_at,
        "shipping_address": data.shipping_address.stored() if data.shipping_address else {},
    }
    if order is not None:
        values.pop("source")
        values["source_updated_at"] = latest(order.source_updated_at, data.updated_at)
        if "fulfillment_status" not in data.model_fields_set:
            values.pop("fulfillment_status")
        # Unsaid (a refund's or a PATCH's payload built from the row): the address stays.
        if "shipping_address" not in data.model_fields_set:
            values.pop("shipping_address")
    return values


def line_values(line_in, position: int, product) -> dict[str, Any]:
    """An order line's fields: its title and SKU fall back to its product's."""
    return {
        "title": line_in.title or (product.title if product else ""),
        "sku": line_in.sku or (product.sku if product else ""),
        "quantity": line_in.quantity,
        "unit_price": line_in.unit_price,
        "discount": line_in.discount,
        "position": position,
    }


def fulfillment_from_quantities(
    ordered: Mapping[int, int], shipped: Mapping[int, int]
) -> str | None:
    """The fulfillment status the quantities shipped of each line (by line id) imply, or
    ``None`` when no shipment says which lines it carries."""
    if not shipped:
        return None
    complete = all(shipped.get(line_id, 0) >= quantity for line_id, quantity in ordered.items())
    return FulfillmentStatus.FULFILLED if complete else FulfillmentStatus.PARTIALLY_FULFILLED


def fulfillment_raised(held: str, derived: str | None) -> str:
    """What shipments carry can raise the order's fulfillment status; it never lowers what the
    store said (a letter-post parcel or a gift card line carries no tracked lines)."""
    if derived is not None and FULFILLMENT_RANK[derived] > FULFILLMENT_RANK[held]:
        return derived
    return held


def product_price_check(data: ProductIn, currency: str, *, field_prefix: str = "") -> None:
    """Refuse a product price the merchant's currency cannot hold (its minor units)."""
    if data.price is None:
        return
    try:
        check_money(data.price, currency)
    except ValueError as exc:
        field = f"{field_prefix}price"
        raise DomainError(ErrorCode.INVALID, f"{field}: {exc}", field=field) from None
