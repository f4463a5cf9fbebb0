"""What each kind of delivery does, called by ``processing.inbound_delivery_process`` inside its
savepoint with the merchant in scope. Every write goes through the orders, events and privacy
services; nothing here writes a commerce row itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import models, transaction
from django.db.models import Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from connectors import privacy
from connectors.errors import ConnectorsErrorCode
from connectors.models import DeliverySource, DeliveryStatus, InboundDelivery
from connectors.shopify import (
    FULFILLMENT_TOPICS,
    ORDER_TOPICS,
    REFUND_TOPIC,
    shopify_dead_fulfillment_id,
    shopify_fulfillment,
    shopify_order,
    shopify_order_fulfillments,
    shopify_refund,
)
from connectors.tracking import tracking_shipment_update
from connectors.tracking_feeds import FEED_OF_TOPIC, feed_reading, feed_shipment_update
from orders.errors import OrdersErrorCode
from orders.events import ORDER_REFUNDED
from orders.models import FinancialStatus, Order, OrderLine, Shipment
from orders.services.orders import order_bulk_ingest, order_ingest
from orders.services.shipments import shipment_ingest
from orders.voids import shipment_void, shipment_voided
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import money_str

REFUND_EVENT = ORDER_REFUNDED
AMOUNT = models.DecimalField(max_digits=20, decimal_places=3)


@dataclass(frozen=True)
class Outcome:
    """What a delivery came to. ``retry``: it failed for a reason time may cure (with
    ``status`` failed), yet what it did is kept (an order applied, one of its fulfillments
    not yet)."""

    status: str = DeliveryStatus.PROCESSED
    note: str = ""
    retry: bool = False


def _order_not_yet_here(external_id: str) -> DomainError:
    return DomainError(
        ErrorCode.NOT_FOUND,
        f"No order has external_id {external_id!r} yet.",
        field="order_external_id",
    )


# A shipment naming a line the order does not have yet, or more than is left to ship: the
# order edit adding it, or the cancellation of the fulfillment holding it, may still come.
LINE_NOT_YET = re.compile(r"lines\[\d+\]\.line_external_id")
QUANTITY_NOT_YET = re.compile(r"lines\[\d+\]\.quantity")


def is_early(error: DomainError) -> bool:
    """A delivery that came before what it builds on (Shopify does not promise order): its
    order, the order edit that added a line, or the cancellation of an earlier fulfillment of
    the same items. Worth retrying later rather than failing for good."""
    field = error.field or ""
    if error.code == ErrorCode.NOT_FOUND:
        return field == "order_external_id" or bool(LINE_NOT_YET.fullmatch(field))
    return error.code == OrdersErrorCode.QUANTITY_EXCEEDS_UNSHIPPED and bool(
        QUANTITY_NOT_YET.fullmatch(field)
    )


def delivery_handle(*, merchant: Merchant, delivery: InboundDelivery, now: datetime) -> Outcome:
    if delivery.source == DeliverySource.TRACKING and delivery.topic in FEED_OF_TOPIC:
        return _feed_update(merchant, FEED_OF_TOPIC[delivery.topic], delivery.body, now)
    if delivery.source == DeliverySource.TRACKING:
        return _tracking_update(merchant, delivery.body, now)
    topic = delivery.topic
    if topic in ORDER_TOPICS:
        return _shopify_order(merchant, delivery.body, now)
    if topic in FULFILLMENT_TOPICS:
        return _shopify_fulfillment(merchant, delivery.body, now)
    if topic == REFUND_TOPIC:
        return _shopify_refund(merchant, delivery.body, now)
    if topic in privacy.HANDLERS:
        note = privacy.HANDLERS[topic](merchant=merchant, delivery=delivery, now=now)
        return Outcome(note=note)
    return Outcome(DeliveryStatus.IGNORED, f"{topic} is not a topic we use.")


# --- Shopify ----------------------------------------------------------------------------------


def shopify_order_plain(*, merchant: Merchant, delivery: InboundDelivery) -> dict | None:
    """The order payload of a Shopify order delivery that carries no fulfillments (the kind
    taken in batches: ``shopify_orders_ingest``), or ``None`` for one that must go alone
    (fulfillments to void or ingest beside the order). Raises the mapping's ``DomainError``."""
    if delivery.source != DeliverySource.SHOPIFY or delivery.topic not in ORDER_TOPICS:
        return None
    payload = shopify_order(delivery.body, region=merchant.country)
    dead, live = shopify_order_fulfillments(delivery.body)
    return None if dead or live else payload


def shopify_orders_ingest(
    *, merchant: Merchant, payloads: list[dict], now: datetime
) -> list[Outcome | DomainError]:
    """Several ``shopify_order_plain`` payloads, each of a different order, as one batch of the
    orders engine: for each, the outcome its delivery would have had alone. An order the
    database would not store is retried later, as it is alone (where the error is raised)."""
    outcomes: list[Outcome | DomainError] = []
    results = order_bulk_ingest(merchant=merchant, payloads=payloads, source="shopify", now=now)
    for payload, result in zip(payloads, results, strict=True):
        if result.status == "stale":
            outcomes.append(_stale(payload))
        elif result.status != "failed":
            outcomes.append(Outcome())
        elif result.error.code == OrdersErrorCode.STORE_FAILED:
            outcomes.append(Outcome(DeliveryStatus.FAILED, result.error.message, retry=True))
        else:
            outcomes.append(result.error)
    return outcomes


def _stale(payload: dict) -> Outcome:
    return Outcome(
        DeliveryStatus.IGNORED,
        f"Older than what we hold for order {payload['number']} (updated_at "
        f"{payload['updated_at']}).",
    )


def _shopify_order(merchant: Merchant, body: dict, now: datetime) -> Outcome:
    """Dead fulfillments are voided first (a cancellation is final, so even an older payload
    says so truly, and an edit removing their lines then applies), then the order, then each
    live fulfillment in a savepoint of its own: one we cannot take never holds the order
    change back."""
    payload = shopify_order(body, region=merchant.country)
    dead, live = shopify_order_fulfillments(body)
    for external_id in dead:
        shipment_void(merchant=merchant, shipment_external_id=external_id, now=now)
    result = order_ingest(merchant=merchant, payload=payload, source="shopify", now=now)
    if result.stale:
        return _stale(payload)
    problems, early = [], False
    for shipment in live:
        try:
            with transaction.atomic():
                _live_fulfillment_ingest(merchant, shipment, now)
        except DomainError as error:
            problems.append(f"Fulfillment {shipment['external_id']}: {error.message}")
            early = early or is_early(error)
    if not problems:
        return Outcome()
    note = f"Order {payload['number']} applied; " + " ".join(problems)
    if early:
        return Outcome(DeliveryStatus.FAILED, note, retry=True)
    return Outcome(DeliveryStatus.PROCESSED, note)


def _order_locked(merchant: Merchant, external_id: str) -> Order:
    order = (
        Order.unscoped.select_for_update(no_key=True, of=("self",))
        .select_related("customer")
        .filter(merchant=merchant, external_id=external_id)
        .first()
    )
    if order is None:
        raise _order_not_yet_here(external_id)
    return order


def _live_fulfillment_ingest(merchant: Merchant, payload: dict, now: datetime) -> bool:
    """Ingest a live fulfillment unless it was cancelled already (a late re-delivery of it):
    checked under the order's row lock, the lock a void takes too. Returns whether it was
    ingested."""
    _order_locked(merchant, payload["order_external_id"])
    if shipment_voided(merchant=merchant, shipment_external_id=payload["external_id"]):
        return False
    shipment_ingest(merchant=merchant, payload=payload, now=now)
    return True


def _shopify_fulfillment(merchant: Merchant, body: dict, now: datetime) -> Outcome:
    dead_id = shopify_dead_fulfillment_id(body)
    if dead_id is not None:
        voided = shipment_void(merchant=merchant, shipment_external_id=dead_id, now=now)
        if voided is None:
            return Outcome(DeliveryStatus.IGNORED, f"Fulfillment is {body.get('status')}.")
        return Outcome(note=f"Fulfillment is {body.get('status')}: its shipment is voided.")
    payload = shopify_fulfillment(body)
    if not _live_fulfillment_ingest(merchant, payload, now):
        return Outcome(
            DeliveryStatus.IGNORED, f"Fulfillment {payload['external_id']} was cancelled."
        )
    return Outcome()


def _refunded_so_far(merchant: Merchant, order: Order) -> Decimal:
    total = (
        Event.unscoped.filter(merchant=merchant, type=REFUND_EVENT, payload__order_id=order.pk)
        .annotate(amount=Cast(KT("payload__amount"), output_field=AMOUNT))
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or Decimal(0)


def _order_payload_from_row(order: Order, **changes) -> dict:
    """The order as we hold it, as an ``OrderIn`` payload (no customer: the order keeps its
    own), for a change that must go through ``order_ingest`` like any other."""
    lines = OrderLine.unscoped.filter(order=order).select_related("product")
    payload = {
        "external_id": order.external_id,
        "number": order.number,
        "placed_at": order.placed_at,
        "currency": order.currency,
        **{name: getattr(order, name) for name in ("subtotal", "discount", "shipping", "tax")},
        "total": order.total,
        "financial_status": order.financial_status,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
        "lines": [
            {
                "external_id": line.external_id,
                "title": line.title,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                **({"product_external_id": line.product.external_id} if line.product else {}),
            }
            for line in lines.order_by("position", "id")
        ],
    }
    return payload | changes


def _shopify_refund(merchant: Merchant, body: dict, now: datetime) -> Outcome:
    """Record ``order.refunded`` once per refund; when the refunds now cover the order's total
    (or part of it), its financial status follows, through ``order_ingest``. The order's row is
    locked before it is read, so the status change is made to the order as it stands, never
    to a copy a concurrent update (a cancellation) has since replaced."""
    order_external_id = shopify_refund(body)["order_external_id"]
    order = _order_locked(merchant, order_external_id)
    refund = shopify_refund(body, currency=order.currency)
    occurred_at = parse_datetime(refund["occurred_at"] or "")
    _, created = event_record(
        merchant=merchant,
        type=REFUND_EVENT,
        customer=order.customer,
        payload={
            "order_id": order.pk,
            "external_id": order.external_id,
            "number": order.number,
            "currency": order.currency,
            "refund_id": refund["refund_id"],
            "amount": money_str(refund["amount"], order.currency),
            "lines": refund["lines"],
        },
        occurred_at=occurred_at if occurred_at and occurred_at.tzinfo else now,
        dedupe_key=f"{REFUND_EVENT}:{refund['refund_id']}",
        source="shopify",
        now=now,
    )
    if not created:
        return Outcome(DeliveryStatus.IGNORED, f"Refund {refund['refund_id']} is already recorded.")
    _financial_status_follow(merchant, order, now)
    return Outcome()


def _financial_status_follow(merchant: Merchant, order: Order, now: datetime) -> None:
    """Partially refunded, or refunded once the refunds cover the total; never back from
    refunded. Shopify's own orders/updated follows with the same status (or a newer one).
    ``order`` is locked by the caller: everything but the status is written back as held."""
    refunded = _refunded_so_far(merchant, order)
    if refunded <= 0:
        return
    status = (
        FinancialStatus.REFUNDED if refunded >= order.total else FinancialStatus.PARTIALLY_REFUNDED
    )
    if order.financial_status in (status, FinancialStatus.REFUNDED):
        return
    order_ingest(
        merchant=merchant,
        payload=_order_payload_from_row(order, financial_status=status),
        source="shopify",
        now=now,
    )


# --- carrier tracking -------------------------------------------------------------------------


def _tracked_shipment(merchant: Merchant, tracking_number: str, carrier: str) -> Shipment | None:
    """The shipment with this tracking number; when several share it, the one of this carrier,
    else the newest."""
    shipments = Shipment.unscoped.filter(merchant=merchant, tracking_number=tracking_number)
    if carrier and shipments.filter(carrier__iexact=carrier).exists():
        shipments = shipments.filter(carrier__iexact=carrier)
    return shipments.select_related("order").order_by("-created_at", "-id").first()


def _no_shipment(tracking_number: str) -> Outcome:
    return Outcome(DeliveryStatus.IGNORED, f"No shipment has tracking number {tracking_number}.")


def _feed_update(merchant: Merchant, vendor: str, body: dict, now: datetime) -> Outcome:
    """A tracking update of EasyPost, Shippo or AfterShip, applied as our own webhook's is."""
    reading = feed_reading(vendor, body)
    shipment = _tracked_shipment(merchant, reading.tracking_number, reading.carrier)
    if shipment is None:
        return _no_shipment(reading.tracking_number)
    payload = feed_shipment_update(
        vendor,
        reading,
        external_id=shipment.external_id,
        order_external_id=shipment.order.external_id,
    )
    shipment_ingest(merchant=merchant, payload=payload, now=now)
    return Outcome()


def _tracking_update(merchant: Merchant, body: dict, now: datetime) -> Outcome:
    tracking_number = str(body.get("tracking_number") or "").strip()
    if not tracking_number:
        raise DomainError(
            ConnectorsErrorCode.REQUIRED, "tracking_number: required", field="tracking_number"
        )
    shipment = _tracked_shipment(merchant, tracking_number, str(body.get("carrier") or "").strip())
    if shipment is None:
        return _no_shipment(tracking_number)
    payload = tracking_shipment_update(
        body, external_id=shipment.external_id, order_external_id=shipment.order.external_id
    )
    shipment_ingest(merchant=merchant, payload=payload, now=now)
    return Outcome()
