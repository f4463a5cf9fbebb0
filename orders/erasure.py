"""The orders app's part of an erasure or export (``orders.privacy``): the customer, their
orders' parcels, and the core rows about them (the event log, the API's kept responses).

Erased: the customer's contact details, names, birthday, time zone, locale, tags and marketing
consents; their orders' shipping addresses; the carrier scans of their parcels (description,
location and the carrier's raw data); personal values in their events' payloads and in their
events' consumer errors; the API responses kept for ``Idempotency-Key`` replays that name them.
Kept: the customer row's id, the store's id and derived figures (order count, total spent);
orders, lines, shipments, totals, statuses and times. Apart from the shipping address, orders
and shipments hold no address, email or phone of their own (a shopper's contact details live
on the customer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef

from orders.models import Customer, Order, Shipment, TrackingEvent
from orders.privacy import ERASED_CUSTOMER, PrivacyTarget
from orders.schemas import shipping_address_out
from postpurchase.api.models import IdempotencyRecord
from postpurchase.events.models import Event, EventConsumerRun
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import money_str

BATCH = 500


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


# --- erasure -----------------------------------------------------------------------------------


def _customers_erase(target: PrivacyTarget, now: datetime) -> int:
    """Blank the customers' personal fields; a row already blank is not counted (a second
    erasure changes nothing)."""
    return (
        Customer.objects.filter(pk__in=target.customer_ids)
        .exclude(**ERASED_CUSTOMER)
        .update(**ERASED_CUSTOMER, updated_at=now)
    )


def _events_scrub(merchant: Merchant, target: PrivacyTarget) -> int:
    """Personal values in the customers' events' payloads, and in their consumers' last errors
    (which may quote what a consumer choked on). Returns how many events changed."""
    changed: list[Event] = []
    touched: set[int] = set()
    events = Event.objects.filter(customer_id__in=target.customer_ids).only("id", "payload")
    for event in events.iterator(chunk_size=BATCH):
        payload = target.scrub(event.payload)
        if payload != event.payload:
            event.payload = payload
            changed.append(event)
            touched.add(event.pk)
        if len(changed) >= BATCH:
            Event.objects.bulk_update(changed, ["payload"])
            changed = []
    if changed:
        Event.objects.bulk_update(changed, ["payload"])
    runs = EventConsumerRun.objects.filter(
        event__merchant=merchant, event__customer_id__in=target.customer_ids
    ).exclude(last_error="")
    runs = runs.only("id", "event_id", "last_error")
    quoting = [run for run in runs if target.mentions(run.last_error)]
    for run in quoting:
        run.last_error = target.scrub_text(run.last_error)
        touched.add(run.event_id)
    if quoting:
        EventConsumerRun.objects.bulk_update(quoting, ["last_error"])
    return len(touched)


def tracking_scans_erase(*, merchant: Merchant, order_ids: list[int] | tuple[int, ...]) -> int:
    """Empty the carrier scans of these orders' parcels (what the carrier sent us, a
    description such as "signed by …" and a location that may be the shopper's address); the
    statuses and times stay. Returns how many scans changed.

    Scans of one parcel with the same time and status differ only by their description, so
    once it is blank they are one scan: the later copies go first (a unique constraint)."""
    shipments = Shipment.unscoped.filter(merchant=merchant, order_id__in=list(order_ids))
    scans = TrackingEvent.unscoped.filter(merchant=merchant, shipment__in=shipments)
    earlier_twin = TrackingEvent.unscoped.filter(
        shipment=OuterRef("shipment"),
        occurred_at=OuterRef("occurred_at"),
        status=OuterRef("status"),
        pk__lt=OuterRef("pk"),
    )
    merged = scans.filter(Exists(earlier_twin)).delete()[1].get(TrackingEvent._meta.label, 0)
    changed = scans.exclude(raw={}, description="", location="").update(
        raw={}, description="", location=""
    )
    return merged + changed


def shipping_addresses_erase(*, merchant: Merchant, order_ids: list[int] | tuple[int, ...]) -> int:
    """Blank these orders' shipping addresses (name, street, postcode, phone: all of it is the
    shopper's). Returns how many orders had one; a second erasure changes nothing."""
    orders = Order.unscoped.filter(merchant=merchant, pk__in=list(order_ids))
    return orders.exclude(shipping_address={}).update(shipping_address={})


def _api_responses_erase(target: PrivacyTarget) -> int:
    """Drop the kept API responses (``Idempotency-Key`` replays, a day at most) that name the
    person: a replay must not hand their data back. They are encrypted, so each is read."""
    if not target.contains:
        return 0
    kept = IdempotencyRecord.objects.exclude(response_body="").only("id", "response_body")
    doomed = [
        record.pk
        for record in kept.iterator(chunk_size=BATCH)
        if any(needle in record.response_body.lower() for needle in target.contains)
    ]
    return IdempotencyRecord.objects.filter(pk__in=doomed).delete()[0] if doomed else 0


def orders_erase(*, merchant: Merchant, target: PrivacyTarget, now: datetime) -> dict[str, int]:
    """The orders part's eraser (registered in ``OrdersConfig.ready``): how many customers,
    events, shipping addresses, carrier scans and kept API responses changed."""
    return {
        "customers": _customers_erase(target, now),
        "events": _events_scrub(merchant, target),
        "shipping_addresses": shipping_addresses_erase(
            merchant=merchant, order_ids=target.order_ids
        ),
        "tracking_events": tracking_scans_erase(merchant=merchant, order_ids=target.order_ids),
        "api_responses": _api_responses_erase(target),
    }


# --- export ------------------------------------------------------------------------------------


def _customer_export(customer: Customer, currency: str) -> dict[str, Any]:
    return {
        "external_id": customer.external_id,
        "email": customer.email,
        "phone": customer.phone,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "timezone": customer.timezone,
        "locale": customer.locale,
        "birthday": _iso(customer.birthday),
        "tags": customer.tags,
        "email_marketing_consent": customer.email_marketing_consent,
        "email_consent_updated_at": _iso(customer.email_consent_updated_at),
        "email_consent_source": customer.email_consent_source,
        "sms_marketing_consent": customer.sms_marketing_consent,
        "sms_consent_updated_at": _iso(customer.sms_consent_updated_at),
        "sms_consent_source": customer.sms_consent_source,
        "orders_count": customer.orders_count,
        "total_spent": money_str(customer.total_spent, currency),
        "first_order_at": _iso(customer.first_order_at),
        "last_order_at": _iso(customer.last_order_at),
        "created_at": _iso(customer.created_at),
    }


def _shipment_export(shipment) -> dict[str, Any]:
    return {
        "external_id": shipment.external_id,
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "tracking_url": shipment.tracking_url,
        "status": shipment.status,
        "estimated_delivery": _iso(shipment.estimated_delivery),
        "shipped_at": _iso(shipment.shipped_at),
        "delivered_at": _iso(shipment.delivered_at),
        "tracking_events": [
            {
                "status": event.status,
                "description": event.description,
                "location": event.location,
                "occurred_at": _iso(event.occurred_at),
            }
            for event in sorted(shipment.tracking_events.all(), key=lambda e: e.occurred_at)
        ],
    }


def _order_export(order: Order) -> dict[str, Any]:
    def money(value) -> str:
        return money_str(value, order.currency)

    return {
        "external_id": order.external_id,
        "number": order.number,
        "placed_at": _iso(order.placed_at),
        "currency": order.currency,
        **{name: money(getattr(order, name)) for name in ("subtotal", "discount", "shipping")},
        "tax": money(order.tax),
        "total": money(order.total),
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "cancelled_at": _iso(order.cancelled_at),
        "shipping_address": shipping_address_out(order.shipping_address),
        "lines": [
            {
                "external_id": line.external_id,
                "title": line.title,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
                "discount": money(line.discount),
            }
            for line in order.lines.all()
        ],
        "shipments": [_shipment_export(shipment) for shipment in order.shipments.all()],
    }


def orders_export(*, merchant: Merchant, target: PrivacyTarget) -> dict[str, Any]:
    """The orders part's exporter: the customers, their orders (with lines, shipments and
    scans) and their events."""
    customers = Customer.objects.filter(pk__in=target.customer_ids).order_by("id")
    orders = (
        Order.objects.filter(pk__in=target.order_ids)
        .prefetch_related("lines", "shipments__tracking_events")
        .order_by("placed_at", "id")
    )
    events = Event.objects.filter(customer_id__in=target.customer_ids).order_by("occurred_at", "id")
    return {
        "customers": [_customer_export(c, merchant.currency) for c in customers],
        "orders": [_order_export(order) for order in orders],
        "events": [
            {
                "type": event.type,
                "occurred_at": _iso(event.occurred_at),
                "source": event.source,
                "payload": event.payload,
            }
            for event in events
        ],
    }
