"""The events an order's ingestion records, and the payloads of order and shipment events.

Once, for every door: the engine (``orders.ingest.replay``) asks ``order_events`` what an item
records; the shipment services build their payloads here too, so ``order.fulfilled`` reads the
same whether ingestion or a tracking update raised it. The payloads' bytes are part of the API
(webhooks, journeys' conditions): change them only with the event catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orders.events import ORDER_CANCELLED, ORDER_FULFILLED, ORDER_PLACED, ORDER_UPDATED
from orders.models import FulfillmentStatus, Order, OrderLine, Shipment
from orders.schemas import OrderIn
from postpurchase.validation import money_str


@dataclass
class OrderEvent:
    """One event an item records. ``payload["order_id"]`` is filled in once the order is written
    (a new order has no id before)."""

    type: str
    occurred_at: datetime
    dedupe_key: str | None
    payload: dict[str, Any]


def order_event_payload(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    return {
        "order_id": order.pk,
        "external_id": order.external_id,
        "number": order.number,
        "currency": order.currency,
        "total": money_str(order.total, order.currency),
        "placed_at": order.placed_at.isoformat(),
        "line_count": len(lines),
        "skus": sorted({line.sku for line in lines if line.sku}),
        "categories": sorted(
            {
                line.product.category
                for line in lines
                if line.product is not None and line.product.category
            }
        ),
    }


def shipment_event_payload(shipment: Shipment, order: Order) -> dict[str, Any]:
    """The payload of a shipment's events. Reads only the attributes below, so the delay scan
    passes plain rows with the same names (``tracking.delays._parcels``)."""
    return {
        "shipment_id": shipment.pk,
        "external_id": shipment.external_id,
        "order_id": order.pk,
        "order_external_id": order.external_id,
        "order_number": order.number,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "status": shipment.status,
        "substatus": shipment.substatus,
        "estimated_delivery": (
            shipment.estimated_delivery.isoformat() if shipment.estimated_delivery else None
        ),
    }


def order_events(
    *,
    order: Order,
    lines: list[OrderLine],
    data: OrderIn,
    created: bool,
    changed: bool,
    was: dict[str, Any],
    first_order: bool,
    now: datetime,
) -> list[OrderEvent]:
    """What ingesting ``data`` records: ``order.placed`` once per order (with ``first_order``),
    ``order.updated`` when a later payload changes it, ``order.cancelled`` and
    ``order.fulfilled`` on those transitions. ``was`` holds the order's tracked fields before
    the item (empty for a new order). The placed, updated and fulfilled events share one
    payload, as they always have."""
    payload = order_event_payload(order, lines)
    events = []
    if created:
        payload["first_order"] = first_order
        dedupe = f"{ORDER_PLACED}:{order.external_id}"
        events.append(OrderEvent(ORDER_PLACED, order.placed_at, dedupe, payload))
    elif changed:
        events.append(OrderEvent(ORDER_UPDATED, data.updated_at or now, None, payload))
    if order.cancelled_at and (created or was["cancelled_at"] is None):
        body = {**payload, "reason": order.cancel_reason}
        dedupe = f"{ORDER_CANCELLED}:{order.external_id}"
        events.append(OrderEvent(ORDER_CANCELLED, order.cancelled_at, dedupe, body))
    if order.fulfillment_status == FulfillmentStatus.FULFILLED and (
        created or was["fulfillment_status"] != FulfillmentStatus.FULFILLED
    ):
        dedupe = f"{ORDER_FULFILLED}:{order.external_id}"
        events.append(OrderEvent(ORDER_FULFILLED, data.updated_at or now, dedupe, payload))
    return events
