"""Voiding a shipment that never left: the store cancelled its fulfillment (a wrong label, a
failed carrier request), so the items it held are to be shipped again.

The shipment row goes, with its lines and tracking events (they cascade), so what it held counts
as left to ship once more; a ``shipment.cancelled`` event records it. The event's dedupe key is
the shipment's external id: a store never revives a cancelled fulfillment, so the event also
tells a late re-delivery of that fulfillment from a new one (see ``shipment_voided``).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from orders.events import SHIPMENT_CANCELLED
from orders.ingest.events import shipment_event_payload
from orders.ingest.rules import FULFILLMENT_RANK
from orders.models import FulfillmentStatus, Order, Shipment
from orders.services.shipments import order_fulfillment_derived
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

VOID_EVENT = SHIPMENT_CANCELLED


def void_dedupe_key(shipment_external_id: str) -> str:
    return f"{VOID_EVENT}:{shipment_external_id}"


def shipment_voided(*, merchant: Merchant, shipment_external_id: str) -> bool:
    """Whether a shipment with this external id was voided (its ``shipment.cancelled`` event)."""
    return Event.unscoped.filter(
        merchant=merchant, dedupe_key=void_dedupe_key(shipment_external_id)
    ).exists()


def _fulfillment_left(order: Order) -> str | None:
    """The fulfillment status the order's remaining shipments carry: unfulfilled when none is
    left, ``None`` when those left do not say which lines they carry (nothing to go by)."""
    if not Shipment.unscoped.filter(order=order).exists():
        return FulfillmentStatus.UNFULFILLED
    return order_fulfillment_derived(order)


def _locked(merchant: Merchant, shipment_external_id: str) -> tuple[Order, Shipment] | None:
    """The shipment and its order, the order's row locked first (the lock every shipment write
    of an order takes, so no shipment of it is written meanwhile)."""
    order_id = (
        Shipment.unscoped.filter(merchant=merchant, external_id=shipment_external_id)
        .values_list("order_id", flat=True)
        .first()
    )
    if order_id is None:
        return None
    order = (
        Order.unscoped.select_for_update(no_key=True, of=("self",))
        .select_related("customer")
        .get(merchant=merchant, pk=order_id)
    )
    shipment = (
        Shipment.unscoped.select_for_update()
        .filter(merchant=merchant, external_id=shipment_external_id, order=order)
        .first()
    )
    return (order, shipment) if shipment is not None else None


def shipment_void(
    *, merchant: Merchant, shipment_external_id: str, now: datetime | None = None
) -> Shipment | None:
    """Delete the shipment (its lines and tracking events go with it), lower the order's
    fulfillment status to what its other shipments carry, and record ``shipment.cancelled``
    once. Returns the voided shipment (no longer saved), or ``None`` when we hold none."""
    now = now or timezone.now()
    with transaction.atomic(), merchant_scope(merchant):
        found = _locked(merchant, shipment_external_id)
        if found is None:
            return None
        order, shipment = found
        payload = shipment_event_payload(shipment, order)
        Shipment.unscoped.filter(pk=shipment.pk).delete()
        left = _fulfillment_left(order)
        if left is not None and FULFILLMENT_RANK[left] < FULFILLMENT_RANK[order.fulfillment_status]:
            order.fulfillment_status = left
            order.updated_at = now
            order.save(update_fields=["fulfillment_status", "updated_at"])
        event_record(
            merchant=merchant,
            type=VOID_EVENT,
            customer=order.customer,
            payload={**payload, "order_fulfillment_status": order.fulfillment_status},
            occurred_at=now,
            dedupe_key=void_dedupe_key(shipment_external_id),
            source="tracking",
            now=now,
        )
        return shipment
