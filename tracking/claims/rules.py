"""The checks a claim passes before it is filed, against the parcel's own timeline and the
order's money (docs/protection.md, "Rules"). Each refusal is a ``DomainError`` whose message is
what the shopper reads.

Days are counted in the merchant's time zone, as the delay scan counts them
(``tracking/delays.py``): "N days after" a moment is the same wall-clock time N calendar days
later there, and a window of N days after the delivery day ends at the merchant's midnight that
closes the Nth day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from orders.models import FinancialStatus, Order, OrderLine, Shipment, ShipmentStatus
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tracking.claims.models import (
    OPEN_STATES,
    Claim,
    ClaimKind,
    OrderProtection,
    ProtectionSettings,
)
from tracking.errors import ClaimsErrorCode

# The order's money says it was paid back (in full) or never taken: nothing left to protect.
# A partial refund is let through (it is often a shipping or goodwill refund) and shown to the
# merchant beside the claim.
REFUNDED = (FinancialStatus.REFUNDED, FinancialStatus.VOIDED)
# The returns pillar's events (``return.*``) about the order, other than these, mean a return.
RETURN_NAMESPACE = "return."
RETURN_NOT_BLOCKING = ("return.rejected", "return.cancelled", "return.expired")
# The carrier's own word that a parcel is lost: claimable at once.
CARRIER_SAYS_LOST = "lost"


def zone_of(merchant) -> ZoneInfo:
    """The merchant's zone, or UTC for a name this Python does not know."""
    try:
        return ZoneInfo(merchant.timezone or "UTC")
    except (KeyError, ValueError, OSError):
        return ZoneInfo("UTC")


def last_scan(shipment: Shipment) -> datetime:
    """When the carrier last said anything (as the delay scan reads it): the current status's
    time, else when the parcel moved, else when its shipment reached us."""
    return shipment.status_changed_at or shipment.shipped_at or shipment.created_at


def lost_claimable_from(shipment: Shipment, settings: ProtectionSettings, zone: ZoneInfo):
    """The moment a parcel with no further scan may be claimed as lost."""
    return last_scan(shipment).astimezone(zone) + timedelta(days=settings.lost_after_days)


def window_closes_at(shipment: Shipment, settings: ProtectionSettings, zone: ZoneInfo):
    """The merchant's midnight after the last day of the window (``None`` if not delivered)."""
    if shipment.delivered_at is None:
        return None
    last_day = shipment.delivered_at.astimezone(zone).date() + timedelta(
        days=settings.claim_window_days
    )
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)


def is_delivered(shipment: Shipment) -> bool:
    return shipment.status == ShipmentStatus.DELIVERED


def protection_product(line: OrderLine, settings: ProtectionSettings) -> bool:
    """Whether the line is the merchant's protection product, by SKU or by the store's product
    id (compared without case or surrounding spaces)."""
    products = {value.strip().lower() for value in settings.protection_products}
    products.discard("")
    product_id = line.product.external_id if line.product_id else ""
    return bool(products) and (
        line.sku.strip().lower() in products or product_id.strip().lower() in products
    )


def order_protected(order: Order, settings: ProtectionSettings) -> bool:
    """Whether the shopper chose protection at checkout: a line of the order is the merchant's
    protection product, or the store recorded the choice through the API (``OrderProtection``).
    We only read what the store sent: we never add that line nor make that choice."""
    if OrderProtection.objects.filter(order=order).exists():
        return True
    lines = OrderLine.objects.filter(order=order).select_related("product")
    return any(protection_product(line, settings) for line in lines)


def order_has_return(order: Order) -> bool:
    """A return of the order, as the returns pillar's events tell it (pillars never import each
    other: its events on the spine are how tracking learns of one)."""
    events = Event.objects.filter(
        type__startswith=RETURN_NAMESPACE, payload__order_id=order.pk
    ).exclude(type__in=RETURN_NOT_BLOCKING)
    if order.customer_id is not None:
        events = events.filter(customer_id=order.customer_id)
    else:
        events = events.filter(occurred_at__gte=order.placed_at)
    return events.exists()


def _refuse(code, message: str, field: str | None = None) -> DomainError:
    return DomainError(code, message, field=field)


def order_refusal(order: Order, settings: ProtectionSettings) -> DomainError | None:
    """What refuses every claim on this order, or ``None``."""
    if not settings.offered:
        return _refuse(ClaimsErrorCode.NOT_OFFERED, "This store does not offer package protection.")
    if not order_protected(order, settings):
        return _refuse(
            ClaimsErrorCode.NOT_PROTECTED,
            "This order wasn’t protected at checkout, so it can’t be claimed here. "
            "Please contact the store.",
        )
    if order.is_cancelled or order.financial_status in REFUNDED:
        return _refuse(
            ClaimsErrorCode.ORDER_REFUNDED,
            "This order has been cancelled or refunded, so it can’t be claimed.",
        )
    if order_has_return(order):
        return _refuse(
            ClaimsErrorCode.ORDER_RETURNED,
            "This order has a return, so it can’t be claimed. Please contact the store.",
        )
    return None


def kind_refusal(
    *, kind: str, shipment: Shipment, settings: ProtectionSettings, zone: ZoneInfo, now: datetime
) -> DomainError | None:
    """What refuses a claim of ``kind`` on this parcel now, from its own timeline."""
    if kind == ClaimKind.LOST:
        if is_delivered(shipment):
            return _refuse(
                ClaimsErrorCode.ALREADY_DELIVERED,
                "The carrier says this parcel was delivered. If it isn’t there, report it as "
                "stolen.",
                field="kind",
            )
        if shipment.status == ShipmentStatus.RETURNED_TO_SENDER:
            return _refuse(
                ClaimsErrorCode.TOO_EARLY,
                "This parcel is on its way back to the store, which will be in touch.",
                field="kind",
            )
        carrier_lost = (
            shipment.status == ShipmentStatus.EXCEPTION and shipment.substatus == CARRIER_SAYS_LOST
        )
        claimable_from = lost_claimable_from(shipment, settings, zone)
        if not carrier_lost and now < claimable_from:
            return _refuse(
                ClaimsErrorCode.TOO_EARLY,
                "The carrier scanned this parcel recently. If there’s no news by "
                f"{claimable_from:%-d %B %Y}, you can report it lost.",
                field="kind",
            )
        return None
    # damaged, stolen: after the delivery, within the window
    if not is_delivered(shipment):
        return _refuse(
            ClaimsErrorCode.NOT_DELIVERED,
            "This parcel hasn’t been delivered yet. You can report damage or theft once the "
            "carrier marks it delivered.",
            field="kind",
        )
    closes = window_closes_at(shipment, settings, zone)
    if closes is None or now >= closes:
        return _refuse(
            ClaimsErrorCode.WINDOW_CLOSED,
            f"Claims can be made up to {settings.claim_window_days} days after delivery; "
            "that time has passed. Please contact the store.",
            field="kind",
        )
    return None


ALREADY_CLAIMED_MESSAGE = "This parcel already has a claim. You can follow it on its page."


def open_claim(shipment: Shipment) -> Claim | None:
    """The parcel's claim that is not rejected, if any."""
    return Claim.objects.filter(shipment=shipment, state__in=OPEN_STATES).first()


def already_claimed(shipment: Shipment) -> DomainError | None:
    if open_claim(shipment) is None:
        return None
    return _refuse(ClaimsErrorCode.ALREADY_CLAIMED, ALREADY_CLAIMED_MESSAGE)


def limit_refusal(
    *, order: Order, settings: ProtectionSettings, now: datetime
) -> DomainError | None:
    """The customer's claims within the period, rejected ones included (filing again and again
    is what the limit stops); a guest order (no customer) is held to the same number of claims
    on the order itself."""
    since = now - timedelta(days=settings.limit_period_days)
    mine = {"customer_id": order.customer_id} if order.customer_id is not None else {"order": order}
    filed = Claim.objects.filter(filed_at__gt=since, **mine).count()
    if filed >= settings.claims_per_customer:
        return _refuse(
            ClaimsErrorCode.LIMIT_REACHED,
            "You’ve reached the number of claims this store accepts for now. Please contact "
            "the store.",
        )
    return None


@dataclass(frozen=True)
class Eligibility:
    """What a shopper may claim on a parcel now: the kinds allowed, or why none."""

    kinds: tuple[str, ...]
    refusal: DomainError | None = None


def eligibility(
    *, order: Order, shipment: Shipment, settings: ProtectionSettings, now: datetime
) -> Eligibility:
    """The kinds of claim the parcel may take now (the form offers only these)."""
    refusal = order_refusal(order, settings) or limit_refusal(
        order=order, settings=settings, now=now
    )
    if refusal is not None:
        return Eligibility(kinds=(), refusal=refusal)
    zone = zone_of(order.merchant)
    refusals = {
        kind: kind_refusal(kind=kind, shipment=shipment, settings=settings, zone=zone, now=now)
        for kind in ClaimKind.values
    }
    kinds = tuple(kind for kind, refusal in refusals.items() if refusal is None)
    # Said when nothing may be claimed: why the parcel's own kind cannot be (after delivery,
    # the window; before it, the days without a scan).
    main = ClaimKind.DAMAGED if is_delivered(shipment) else ClaimKind.LOST
    return Eligibility(kinds=kinds, refusal=None if kinds else refusals[main])
