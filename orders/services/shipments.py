"""Shipments and their tracking: created or updated by the store's external id, with their lines
and the carrier's checkpoints, each status moving forward only. The order's fulfillment follows
what its shipments carry (``orders.ingest.rules``), and ``order.fulfilled`` carries the payload
the engine's does (``orders.ingest.events``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from orders import events
from orders.errors import OrdersErrorCode
from orders.estimates import estimate_store, shipment_estimate
from orders.ingest.events import order_event_payload, shipment_event_payload
from orders.ingest.results import IngestResult
from orders.ingest.rules import FULFILLMENT_RANK, assign, fulfillment_from_quantities
from orders.models import (
    FulfillmentStatus,
    Order,
    OrderLine,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
)
from orders.schemas import CheckpointIn, ShipmentIn
from orders.services.rows import lock_or_create
from orders.shipment_statuses import MOVING, RANK
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope
from postpurchase.validation import parse_payload

# Shipment statuses that record an event of the same name when a shipment enters them.
SHIPMENT_STATUS_EVENTS = {
    ShipmentStatus.IN_TRANSIT: events.SHIPMENT_IN_TRANSIT,
    ShipmentStatus.OUT_FOR_DELIVERY: events.SHIPMENT_OUT_FOR_DELIVERY,
    ShipmentStatus.DELIVERED: events.SHIPMENT_DELIVERED,
    ShipmentStatus.EXCEPTION: events.SHIPMENT_EXCEPTION,
    ShipmentStatus.RETURNED_TO_SENDER: events.SHIPMENT_RETURNED_TO_SENDER,
    ShipmentStatus.FAILED_ATTEMPT: events.SHIPMENT_FAILED_ATTEMPT,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: events.SHIPMENT_AVAILABLE_FOR_PICKUP,
    ShipmentStatus.EXPIRED: events.SHIPMENT_EXPIRED,
}


def _record(
    merchant: Merchant,
    result: IngestResult,
    event_type: str,
    *,
    customer,
    payload,
    occurred_at: datetime,
    dedupe_key: str | None,
    source: str,
    now: datetime,
) -> None:
    _, created = event_record(
        merchant=merchant,
        type=event_type,
        customer=customer,
        payload=payload,
        occurred_at=occurred_at,
        dedupe_key=dedupe_key,
        source=source,
        now=now,
    )
    if created:
        result.events.append(event_type)


def _apply_status(
    merchant: Merchant,
    shipment: Shipment,
    order: Order,
    result: IngestResult,
    *,
    status: str,
    substatus: str = "",
    at: datetime | None,
    now: datetime,
) -> None:
    """Move the shipment to ``status`` as of ``at`` unless it already holds a newer status, so
    a late, older update never moves a shipment backwards; a re-sent update changes nothing.

    An undated statement (``at`` is None) is older than any dated one: it applies only while the
    shipment has no dated status, only forward along the parcel's journey, and without dating
    the shipment, so a carrier scan arriving later with the real time still applies."""
    if at is None:
        if shipment.status_changed_at is not None or (RANK[status] <= RANK[shipment.status]):
            return
        moment = now
    else:
        if status in MOVING and shipment.shipped_at and shipment.shipped_at > at:
            shipment.shipped_at = at  # even a late scan tells when the parcel first moved
            result.changed = True
        held = shipment.status_changed_at
        if held is not None and (
            at < held or (at == held and RANK[status] <= RANK[shipment.status])
        ):
            # Older than what we hold, or a tie that would not move the parcel forward (carrier
            # scans often share a minute).
            return
        shipment.status_changed_at = at
        if status == shipment.status:
            if substatus != shipment.substatus:  # the same status, a newer reason
                shipment.substatus = substatus
                result.changed = True
            return
        moment = at
    shipment.status, shipment.substatus = status, substatus
    result.changed = True
    if status in MOVING and (shipment.shipped_at is None or shipment.shipped_at > moment):
        # The parcel left no later than the first dated movement we hear of.
        shipment.shipped_at = moment
    if status == ShipmentStatus.DELIVERED:
        shipment.delivered_at = moment
    event_type = SHIPMENT_STATUS_EVENTS.get(status)
    if event_type:
        _record(
            merchant,
            result,
            event_type,
            customer=order.customer,
            payload={
                **shipment_event_payload(shipment, order),
                "status_at": moment.isoformat(),
            },
            occurred_at=moment,
            dedupe_key=f"{event_type}:{shipment.external_id}:{moment.isoformat()}",
            source="tracking",
            now=now,
        )


def _apply_checkpoints(
    merchant: Merchant,
    shipment: Shipment,
    order: Order,
    result: IngestResult,
    checkpoints: list[CheckpointIn],
    now: datetime,
) -> None:
    """Add the checkpoints the shipment's history lacks (one query to read it, one to insert),
    then let each move the status, oldest first. The caller holds the shipment's row lock."""
    held = set(
        TrackingEvent.unscoped.filter(shipment=shipment).values_list(
            "occurred_at", "status", "description"
        )
    )
    new: list[TrackingEvent] = []
    for checkpoint in checkpoints:
        key = (checkpoint.occurred_at, checkpoint.status, checkpoint.description)
        if key in held:
            continue
        held.add(key)
        new.append(
            TrackingEvent(
                merchant=merchant,
                shipment=shipment,
                occurred_at=checkpoint.occurred_at,
                status=checkpoint.status,
                substatus=checkpoint.substatus,
                raw_status=checkpoint.raw_status,
                description=checkpoint.description,
                location=checkpoint.location,
                raw=checkpoint.raw,
                created_at=now,
            )
        )
    if new:
        TrackingEvent.unscoped.bulk_create(new, ignore_conflicts=True)
        result.changed = True
    for checkpoint in sorted(checkpoints, key=lambda c: c.occurred_at):
        _apply_status(
            merchant,
            shipment,
            order,
            result,
            status=checkpoint.status,
            substatus=checkpoint.substatus,
            at=checkpoint.occurred_at,
            now=now,
        )


def _estimate_refresh(merchant: Merchant, shipment: Shipment, order: Order, now: datetime) -> bool:
    """The delivery range the shopper is shown, kept on the shipment (``orders.estimates``)."""
    today = now.astimezone(ZoneInfo(merchant.timezone)).date()
    estimate = shipment_estimate(merchant=merchant, shipment=shipment, order=order, today=today)
    return estimate_store(shipment=shipment, estimate=estimate)


def _sync_shipment_lines(
    merchant: Merchant, shipment: Shipment, order: Order, data: ShipmentIn
) -> bool:
    if not data.lines:
        return False
    order_lines = {line.external_id: line for line in OrderLine.unscoped.filter(order=order)}
    # What the order's other shipments already carry counts against what is left to ship.
    elsewhere: dict[int, int] = {}
    for line_id, quantity in (
        ShipmentLine.unscoped.filter(shipment__order=order)
        .exclude(shipment=shipment)
        .values_list("order_line_id", "quantity")
    ):
        elsewhere[line_id] = elsewhere.get(line_id, 0) + quantity
    wanted: dict[int, int] = {}
    for index, line_in in enumerate(data.lines):
        order_line = order_lines.get(line_in.line_external_id)
        if order_line is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"Order {order.number} has no line {line_in.line_external_id!r}.",
                field=f"lines[{index}].line_external_id",
            )
        quantity = wanted.get(order_line.pk, 0) + line_in.quantity
        left = order_line.quantity - elsewhere.get(order_line.pk, 0)
        if quantity > left:
            raise DomainError(
                OrdersErrorCode.QUANTITY_EXCEEDS_UNSHIPPED,
                f"Line {line_in.line_external_id!r} has only {left} left to ship.",
                field=f"lines[{index}].quantity",
            )
        wanted[order_line.pk] = quantity
    held = {sl.order_line_id: sl for sl in ShipmentLine.unscoped.filter(shipment=shipment)}
    if {k: v.quantity for k, v in held.items()} == wanted:
        return False
    ShipmentLine.unscoped.filter(shipment=shipment).exclude(order_line_id__in=wanted).delete()
    for order_line_id, quantity in wanted.items():
        ShipmentLine.unscoped.update_or_create(
            merchant=merchant,
            shipment=shipment,
            order_line_id=order_line_id,
            defaults={"quantity": quantity},
        )
    return True


def order_fulfillment_derived(order: Order) -> str | None:
    """The fulfillment status the quantities in the order's shipments imply, or ``None`` when no
    shipment says which lines it carries."""
    ordered = dict(OrderLine.unscoped.filter(order=order).values_list("id", "quantity"))
    shipped: dict[int, int] = {}
    for line_id, quantity in ShipmentLine.unscoped.filter(shipment__order=order).values_list(
        "order_line_id", "quantity"
    ):
        shipped[line_id] = shipped.get(line_id, 0) + quantity
    return fulfillment_from_quantities(ordered, shipped)


def _order_fulfillment_refresh(
    merchant: Merchant, order: Order, result: IngestResult, now: datetime
) -> None:
    """Raise the order's fulfillment status to what its shipments carry (``order.fulfilled`` once
    they carry everything); never lower what the store said."""
    status = order_fulfillment_derived(order)
    if status is None or FULFILLMENT_RANK[status] <= FULFILLMENT_RANK[order.fulfillment_status]:
        return
    order.fulfillment_status = status
    order.updated_at = now
    order.save(update_fields=["fulfillment_status", "updated_at"])
    if status == FulfillmentStatus.FULFILLED:
        lines = list(OrderLine.unscoped.filter(order=order).select_related("product"))
        _record(
            merchant,
            result,
            events.ORDER_FULFILLED,
            customer=order.customer,
            payload=order_event_payload(order, lines),
            occurred_at=now,
            dedupe_key=f"order.fulfilled:{order.external_id}",
            source="tracking",
            now=now,
        )


def shipment_ingest(
    *, merchant: Merchant, payload: ShipmentIn | dict, now: datetime | None = None
) -> IngestResult:
    """Create or update a shipment by its external id, with its lines and tracking checkpoints.

    Records ``shipment.created`` once, then ``shipment.<status>`` each time the shipment enters a
    newer status. Checkpoints may arrive in any order: the status only follows the newest."""
    data = parse_payload(ShipmentIn, payload)
    now = now or timezone.now()
    with transaction.atomic(), merchant_scope(merchant):
        # The order's row lock serialises shipments of one order: the fulfillment derived at the
        # end must see every shipment's lines.
        order = (
            Order.unscoped.select_for_update(no_key=True, of=("self",))
            .select_related("customer")
            .filter(merchant=merchant, external_id=data.order_external_id)
            .first()
        )
        if order is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"No order has external_id {data.order_external_id!r}.",
                field="order_external_id",
            )
        # The label exists no later than anything the carrier has said about the parcel.
        known = [t for t in (data.status_at, data.shipped_at) if t is not None]
        known += [c.occurred_at for c in data.checkpoints]
        start = min(known) if known else None  # undated: older than any dated statement
        details = {
            name: getattr(data, name)
            for name in (
                "carrier",
                "service",
                "tracking_number",
                "tracking_url",
                "estimated_delivery",
                "shipped_at",
            )
            if name in data.model_fields_set
        }
        shipment, created = lock_or_create(
            Shipment,
            merchant=merchant,
            lookup={"external_id": data.external_id},
            defaults={
                **details,
                "order": order,
                "status": ShipmentStatus.INFO_RECEIVED,
                "status_changed_at": start,
                "created_at": now,
                "updated_at": now,
            },
        )
        if not created and shipment.order_id != order.pk:
            raise DomainError(
                OrdersErrorCode.SHIPMENT_ORDER_MISMATCH,
                f"Shipment {data.external_id!r} belongs to another order.",
                field="order_external_id",
            )
        result = IngestResult(instance=shipment, created=created, changed=created)
        if not created and assign(shipment, details):
            result.changed = True
        if _sync_shipment_lines(merchant, shipment, order, data):
            result.changed = True
        if created:
            _record(
                merchant,
                result,
                events.SHIPMENT_CREATED,
                customer=order.customer,
                payload=shipment_event_payload(shipment, order),
                occurred_at=start or now,
                dedupe_key=f"shipment.created:{shipment.external_id}",
                source="tracking",
                now=now,
            )
        _apply_checkpoints(merchant, shipment, order, result, data.checkpoints, now)
        if data.status is not None:
            _apply_status(
                merchant,
                shipment,
                order,
                result,
                status=data.status,
                substatus=data.substatus,
                # On creation the payload's own undated status is as old as the shipment itself.
                at=data.status_at or (start if created else None),
                now=now,
            )
        if _estimate_refresh(merchant, shipment, order, now):
            result.changed = True
        shipment.updated_at = now if result.changed else shipment.updated_at
        shipment.save()
        _order_fulfillment_refresh(merchant, order, result, now)
        return result


def shipment_tracking_update(
    *,
    merchant: Merchant,
    shipment: Shipment,
    checkpoint: CheckpointIn | dict,
    now: datetime | None = None,
) -> IngestResult:
    """Apply one carrier checkpoint to a shipment (used by carrier webhooks)."""
    data = parse_payload(CheckpointIn, checkpoint)
    now = now or timezone.now()
    with transaction.atomic(), merchant_scope(merchant):
        shipment = Shipment.unscoped.select_for_update(no_key=True).get(
            pk=shipment.pk, merchant=merchant
        )
        order = Order.unscoped.select_related("customer").get(pk=shipment.order_id)
        result = IngestResult(instance=shipment)
        _apply_checkpoints(merchant, shipment, order, result, [data], now)
        if _estimate_refresh(merchant, shipment, order, now):
            result.changed = True
        if result.changed:
            shipment.updated_at = now
        shipment.save()
        return result
