"""Package protection's writes: a merchant's settings, a shopper filing a claim, and the
merchant deciding and resolving it (docs/protection.md).

Check, then do (Zulip's split): the views load rows within the merchant; each service runs its
rules and its write, with the claim's event, in one transaction. Filing locks the merchant's
protection settings row first: it numbers the claim, and it makes each filing's checks (the
customer's limit, one claim per parcel) see every claim filed before it; the unique constraint
on an open claim per shipment stands behind that."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import Order, OrderLine, Shipment, ShipmentLine
from orders.services import order_ingest
from postpurchase.errors import DomainError
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import money_str
from tracking.claims import events
from tracking.claims.links import claim_page_url
from tracking.claims.models import (
    PROTECTION_LIMITS,
    PROTECTION_PRODUCTS_MAX,
    TRANSITIONS,
    Claim,
    ClaimKind,
    ClaimPhoto,
    ClaimResolution,
    ClaimState,
    OrderProtection,
    ProtectionSettings,
)
from tracking.claims.photos import photos_check
from tracking.claims.rules import (
    ALREADY_CLAIMED_MESSAGE,
    already_claimed,
    kind_refusal,
    limit_refusal,
    order_refusal,
    protection_product,
    zone_of,
)
from tracking.claims.storage import claim_photo_storage
from tracking.errors import ClaimsErrorCode

STATEMENT_MAX = 2000
MESSAGE_MAX = 2000
REPLACEMENT_SOURCE = "claim"


# --- settings -------------------------------------------------------------------------------


def protection_settings_get(*, merchant: Merchant) -> ProtectionSettings:
    """The merchant's protection settings, created (off) when it has none."""
    settings, _ = ProtectionSettings.unscoped.get_or_create(merchant=merchant)
    return settings


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ClaimsErrorCode.INVALID, f"{field}: {message}", field=field)


def protection_settings_update(
    *, merchant: Merchant, values: dict[str, Any], now: datetime | None = None
) -> ProtectionSettings:
    """Change some settings; every value is checked, naming the field at fault, before any is
    written. Offering protection needs at least one protection product (else no order could
    ever count as protected)."""
    allowed = {"offered", "protection_products", "damage_photo_required", *PROTECTION_LIMITS}
    for name in values:
        if name not in allowed:
            raise _invalid(name, "no such setting")
    changes: dict[str, Any] = {}
    for name in ("offered", "damage_photo_required"):
        if name in values:
            if not isinstance(values[name], bool):
                raise _invalid(name, "must be true or false")
            changes[name] = values[name]
    for name, (_, low, high) in PROTECTION_LIMITS.items():
        if name in values:
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _invalid(name, f"must be a whole number from {low} to {high}")
            changes[name] = value
    if "protection_products" in values:
        changes["protection_products"] = _products(values["protection_products"])
    with transaction.atomic():
        protection_settings_get(merchant=merchant)
        settings = ProtectionSettings.unscoped.select_for_update().get(merchant=merchant)
        for name, value in changes.items():
            setattr(settings, name, value)
        if settings.offered and not settings.protection_products:
            field = "protection_products" if "protection_products" in changes else "offered"
            raise _invalid(
                field, "name the SKU or product id of your protection line to offer protection"
            )
        settings.updated_at = now or timezone.now()
        settings.save()
        return settings


def _products(value: Any) -> list[str]:
    field = "protection_products"
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(field, "must be a list of SKUs or product ids")
    cleaned = list(dict.fromkeys(item.strip() for item in value if item.strip()))
    if len(cleaned) > PROTECTION_PRODUCTS_MAX:
        raise _invalid(field, f"at most {PROTECTION_PRODUCTS_MAX} SKUs or product ids")
    if any(len(item) > 255 for item in cleaned):
        raise _invalid(field, "each SKU or product id has at most 255 characters")
    return cleaned


def order_protection_record(
    *, order: Order, chosen_at: datetime | None = None, source: str = "api"
) -> tuple[OrderProtection, bool]:
    """Record that the shopper chose protection for ``order`` (the store's word, through the
    API). Once per order: a second call returns the first record and ``False``."""
    record, created = OrderProtection.objects.get_or_create(
        merchant_id=order.merchant_id,
        order=order,
        defaults={"chosen_at": chosen_at or timezone.now(), "source": source},
    )
    return record, created


# --- filing ---------------------------------------------------------------------------------


def claim_event_payload(claim: Claim) -> dict[str, Any]:
    return {
        "claim_id": claim.pk,
        "number": claim.reference,
        "kind": claim.kind,
        "state": claim.state,
        "order_id": claim.order_id,
        "order_number": claim.order.number,
        "shipment_id": claim.shipment_id,
        "tracking_number": claim.shipment.tracking_number,
        "claim_url": claim_page_url(merchant=claim.order.merchant, claim=claim),
    }


def _record(claim: Claim, type: str, now: datetime, **extra: Any) -> None:
    event_record(
        merchant=claim.order.merchant,
        type=type,
        customer=claim.customer,
        payload={**claim_event_payload(claim), **extra},
        dedupe_key=f"{type}:{claim.pk}",
        source="tracking",
        now=now,
    )


def claim_file(
    *,
    merchant: Merchant,
    order: Order,
    shipment: Shipment,
    kind: str,
    statement: str,
    photos: list | tuple = (),
    now: datetime | None = None,
) -> Claim:
    """File a shopper's claim on one parcel of a protected order, or refuse it with a
    ``DomainError`` whose message is for the shopper; nothing is written on a refusal."""
    now = now or timezone.now()
    if shipment.order_id != order.pk:
        raise DomainError(ClaimsErrorCode.INVALID, "That parcel isn’t part of this order.")
    if kind not in ClaimKind.values:
        raise _invalid("kind", "choose lost, damaged or stolen")
    statement = statement.strip()
    if len(statement) > STATEMENT_MAX:
        raise _invalid("statement", f"at most {STATEMENT_MAX} characters")
    checked = photos_check(list(photos))
    with transaction.atomic():
        protection_settings_get(merchant=merchant)
        settings = ProtectionSettings.unscoped.select_for_update().get(merchant=merchant)
        refusal = (
            order_refusal(order, settings)
            or already_claimed(shipment)
            or kind_refusal(
                kind=kind, shipment=shipment, settings=settings, zone=zone_of(merchant), now=now
            )
            or limit_refusal(order=order, settings=settings, now=now)
        )
        if refusal is not None:
            raise refusal
        if kind == ClaimKind.DAMAGED and settings.damage_photo_required and not checked:
            raise DomainError(
                ClaimsErrorCode.PHOTO_REQUIRED,
                "Please add at least one photo of the damage.",
                field="photos",
            )
        settings.last_claim_number += 1
        settings.save(update_fields=["last_claim_number"])
        try:
            with transaction.atomic():
                claim = Claim.objects.create(
                    merchant=merchant,
                    number=settings.last_claim_number,
                    order=order,
                    shipment=shipment,
                    customer_id=order.customer_id,
                    kind=kind,
                    statement=statement,
                    filed_at=now,
                    updated_at=now,
                )
        except IntegrityError:  # a filing that did not take the settings lock (never ours)
            raise already_claimed(shipment) or DomainError(
                ClaimsErrorCode.ALREADY_CLAIMED, ALREADY_CLAIMED_MESSAGE
            ) from None
        saved: list[str] = []
        # The files are written before the rows commit: on a failure here (or in the caller's
        # transaction) they are removed again, so no photo outlives its claim on the disk.
        try:
            for photo in checked:
                row = ClaimPhoto(
                    merchant=merchant,
                    claim=claim,
                    content_type=photo.content_type,
                    size=len(photo.content),
                    created_at=now,
                )
                row.file.save("photo", photo.as_file(), save=False)
                saved.append(row.file.name)
                row.save()
            _record(claim, events.CLAIM_FILED, now)
        except BaseException:
            for name in saved:
                claim_photo_storage().delete(name)
            raise
    return claim


# --- the merchant's decisions ---------------------------------------------------------------


def _locked(claim: Claim, to: str, verb: str) -> Claim:
    locked = (
        Claim.objects.select_for_update(of=("self",))
        .select_related("order", "shipment", "customer")
        .get(pk=claim.pk)
    )
    if to not in TRANSITIONS[locked.state]:
        raise DomainError(
            ClaimsErrorCode.ILLEGAL_TRANSITION,
            f"Claim {locked.reference} is {locked.state}: it cannot be {verb}.",
            field="state",
        )
    return locked


def _message(message: str, *, required: bool) -> str:
    message = message.strip()
    if required and not message:
        raise _invalid("message", "tell the shopper why")
    if len(message) > MESSAGE_MAX:
        raise _invalid("message", f"at most {MESSAGE_MAX} characters")
    return message


def claim_approve(*, claim: Claim, message: str = "", now: datetime | None = None) -> Claim:
    """Approve a filed claim (its resolution, reship or refund, follows)."""
    return _decide(claim, ClaimState.APPROVED, "approved", events.CLAIM_APPROVED, message, now)


def claim_reject(*, claim: Claim, message: str, now: datetime | None = None) -> Claim:
    """Reject a filed claim, telling the shopper why (the message is required)."""
    return _decide(claim, ClaimState.REJECTED, "rejected", events.CLAIM_REJECTED, message, now)


def _decide(claim, to, verb, type, message, now) -> Claim:
    now = now or timezone.now()
    message = _message(message, required=to == ClaimState.REJECTED)
    with transaction.atomic():
        claim = _locked(claim, to, verb)
        claim.state = to
        claim.decision_message = message
        claim.decided_at = claim.updated_at = now
        claim.save(update_fields=["state", "decision_message", "decided_at", "updated_at"])
        _record(claim, type, now, message=message)
    return claim


def shipment_value(shipment: Shipment) -> Decimal:
    """What the shopper paid for the parcel's items: each line's total (after its discount),
    pro rata to the quantity in the parcel, in the order's currency's minor units."""
    total = Decimal(0)
    for item in ShipmentLine.objects.filter(shipment=shipment).select_related("order_line"):
        line = item.order_line
        total += line.total * item.quantity / line.quantity
    return Decimal(money_str(total, shipment.order.currency))


def claim_resolve(*, claim: Claim, resolution: str, now: datetime | None = None) -> Claim:
    """Resolve an approved claim: ``reship`` places a replacement order at no charge through the
    orders engine (``claim-<number>``, the parcel's items at zero, once: a second resolve is
    refused, and the replacement's external id keeps the engine's upsert to one order);
    ``refund`` records the parcel's paid value for the merchant to refund in its store (we move
    no money)."""
    now = now or timezone.now()
    if resolution not in ClaimResolution.values:
        raise _invalid("resolution", "choose reship or refund")
    with transaction.atomic():
        claim = _locked(claim, ClaimState.RESOLVED, "resolved")
        if resolution == ClaimResolution.RESHIP:
            claim.replacement_order = _replacement_place(claim, now)
        else:
            claim.refund_amount = shipment_value(claim.shipment)
        claim.state = ClaimState.RESOLVED
        claim.resolution = resolution
        claim.resolved_at = claim.updated_at = now
        claim.save()
        currency = claim.order.currency
        _record(
            claim,
            events.CLAIM_RESOLVED,
            now,
            resolution=resolution,
            replacement_order_id=claim.replacement_order_id,
            refund_amount=(
                money_str(claim.refund_amount, currency)
                if claim.refund_amount is not None
                else None
            ),
            currency=currency,
        )
    return claim


def replacement_external_id(claim: Claim) -> str:
    return f"claim-{claim.number}"


def _replacement_lines(claim: Claim) -> list[tuple[OrderLine, int]]:
    shipped = list(
        ShipmentLine.objects.filter(shipment=claim.shipment).select_related("order_line__product")
    )
    if shipped:
        return [(item.order_line, item.quantity) for item in shipped]
    # A parcel the store sent without its lines: the order's lines stand for it.
    lines = OrderLine.objects.filter(order=claim.order).select_related("product")
    return [(line, line.quantity) for line in lines]


def _replacement_place(claim: Claim, now: datetime) -> Order:
    order = claim.order
    settings = protection_settings_get(merchant=order.merchant)
    lines = []
    for line, quantity in _replacement_lines(claim):
        if protection_product(line, settings):  # the protection line itself is not reshipped
            continue
        product_id = line.product.external_id if line.product_id else None
        lines.append(
            {
                "external_id": line.external_id,
                "product_external_id": product_id,
                "title": line.title,
                "sku": line.sku,
                "quantity": quantity,
                "unit_price": "0",
            }
        )
    payload: dict[str, Any] = {
        "external_id": replacement_external_id(claim),
        "number": f"{order.number}-{claim.reference}",
        "placed_at": now.isoformat(),
        "currency": order.currency,
        "subtotal": "0",
        "total": "0",
        "financial_status": "paid",
        "source": REPLACEMENT_SOURCE,
        "shipping_address": order.shipping_address or None,
        "lines": lines,
    }
    customer = claim.customer
    if customer is not None:
        if customer.external_id:
            payload["customer_external_id"] = customer.external_id
        elif customer.email or customer.phone:
            payload["customer"] = {"email": customer.email, "phone": customer.phone}
    if not lines:
        raise DomainError(
            ClaimsErrorCode.INVALID, "The parcel holds nothing to reship: refund it instead."
        )
    taken = Order.objects.filter(external_id=payload["external_id"]).exclude(
        source=REPLACEMENT_SOURCE
    )
    if taken.exists():  # the store's own order of that id: never overwritten by a reship
        raise DomainError(
            ClaimsErrorCode.INVALID,
            f"An order with the id {payload['external_id']} came from your store; this claim "
            "cannot be reshipped under it. Refund it, or reship it in your store.",
        )
    return order_ingest(
        merchant=order.merchant, payload=payload, source=REPLACEMENT_SOURCE, now=now
    ).instance
