"""Privacy requests from the store (Shopify's mandatory compliance topics).

- ``customers/data_request``: an export of everything we hold on the customer (the customer,
  their orders with lines and shipments, their events), kept on a ``PrivacyRequest`` for the
  merchant to download and hand over.
- ``customers/redact``: the customer's personal data is erased (contact details, names,
  birthday, consents, the same in their events' payloads, their parcels' carrier scans and the
  webhook bodies we kept), while the anonymous rows and money figures stay for analytics.
  Deliveries about them still waiting to be processed are processed first, so their figures
  are not lost, then erased like the rest. A ``customer.redacted`` event is recorded; no other
  part of the platform acts on it yet (see docs/integrations.md for what is kept).
- ``shop/redact``: every customer that came from Shopify is erased that way, every Shopify and
  tracking body we kept is dropped, and the Shopify connection is switched off (its secrets
  are deleted). Customers known only through other channels (the API, imports) are kept.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KT

from connectors.models import (
    DeliverySource,
    DeliveryStatus,
    InboundConfig,
    InboundDelivery,
    PrivacyRequest,
    PrivacyRequestKind,
)
from connectors.shopify import FULFILLMENT_TOPICS, ORDER_TOPICS, REFUND_TOPIC
from orders.models import Customer, Order, Shipment, TrackingEvent
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import check_email, money_str, to_e164

REDACTED = "[redacted]"
REDACTED_BODY = {"redacted": True}
# Keys whose values are personal wherever they appear in a payload we keep.
PII_KEYS = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "name",
        "full_name",
        "birthday",
        "address",
        "address1",
        "address2",
        "billing_address",
        "shipping_address",
        "zip",
        "postcode",
        "browser_ip",
        "ip",
        "ip_address",
    }
)
ERASED_CUSTOMER = {
    "email": "",
    "phone": "",
    "first_name": "",
    "last_name": "",
    "timezone": "",
    "locale": "",
    "birthday": None,
    "tags": [],
    "email_marketing_consent": False,
    "email_consent_updated_at": None,
    "email_consent_source": "",
    "sms_marketing_consent": False,
    "sms_consent_updated_at": None,
    "sms_consent_source": "",
}
BATCH = 500


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _requested_customer(merchant: Merchant, body: dict) -> dict[str, str]:
    """The customer a request names: Shopify's id, email and phone (normalised as we store
    them); any may be empty."""
    data = body.get("customer") if isinstance(body.get("customer"), dict) else {}
    found = {"id": str(data.get("id") or "").strip(), "email": "", "phone": ""}
    with suppress(ValueError):
        found["email"] = check_email(str(data.get("email") or "")).lower()
    with suppress(ValueError):
        found["phone"] = to_e164(str(data.get("phone") or ""), merchant.country or None)
    return found


def customers_matching(*, merchant: Merchant, customer: dict[str, str]) -> QuerySet[Customer]:
    """Every customer row of the merchant the request is about: by the store's id, email or
    phone (an integrator's rows may hold the same person more than once)."""
    wanted = Q(pk__in=[])
    if customer["id"]:
        wanted |= Q(external_id=customer["id"])
    if customer["email"]:
        wanted |= Q(email__iexact=customer["email"])
    if customer["phone"]:
        wanted |= Q(phone=customer["phone"])
    return Customer.unscoped.filter(merchant=merchant).filter(wanted).order_by("id")


def _order_ids(body: dict, key: str) -> list[str]:
    values = body.get(key)
    return [str(v) for v in values if v not in (None, "")] if isinstance(values, list) else []


# --- export -----------------------------------------------------------------------------------


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


def customer_data_export(
    *, merchant: Merchant, customers: list[Customer], order_external_ids: list[str]
) -> dict[str, Any]:
    """Everything we hold on these customers, as JSON-ready data."""
    orders = (
        Order.unscoped.filter(merchant=merchant)
        .filter(Q(customer__in=customers) | Q(external_id__in=order_external_ids))
        .prefetch_related("lines", "shipments__tracking_events")
        .order_by("placed_at", "id")
    )
    events = Event.unscoped.filter(merchant=merchant, customer__in=customers).order_by(
        "occurred_at", "id"
    )
    return {
        "merchant": {"name": merchant.name, "slug": merchant.slug},
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


# --- erasure ----------------------------------------------------------------------------------


def _scrub(value: Any, *, contains: frozenset[str], equals: frozenset[str]) -> Any:
    """``value`` with every personal value replaced: any value under a personal key, and any
    string holding one of the customer's contact details or equal to one of their names."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if str(key).lower() in PII_KEYS and value[key] not in (None, "", [], {})
            else _scrub(value[key], contains=contains, equals=equals)
            for key in value
        }
    if isinstance(value, list):
        return [_scrub(item, contains=contains, equals=equals) for item in value]
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in equals or any(needle in lowered for needle in contains):
            return REDACTED
    return value


def _events_scrub(events: QuerySet[Event], *, contains, equals) -> int:
    changed: list[Event] = []
    count = 0
    for event in events.only("id", "payload").iterator(chunk_size=BATCH):
        payload = _scrub(event.payload, contains=contains, equals=equals)
        if payload != event.payload:
            event.payload = payload
            changed.append(event)
        if len(changed) >= BATCH:
            count += Event.unscoped.bulk_update(changed, ["payload"])
            changed = []
    if changed:
        count += Event.unscoped.bulk_update(changed, ["payload"])
    return count


def _tracking_scrub(merchant: Merchant, orders: QuerySet[Order]) -> int:
    """Empty the carrier scans of these orders' parcels (what the carrier sent us, a
    description such as "signed by …" and a location that may be the shopper's address); the
    statuses and times stay. Returns how many scans changed.

    Scans of one parcel with the same time and status differ only by their description, so
    once it is blank they are one scan: the later copies go first (a unique constraint)."""
    shipments = Shipment.unscoped.filter(merchant=merchant, order__in=orders)
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


# What a privacy request processes before it erases: deliveries that only carry figures.
PROCESS_FIRST = ORDER_TOPICS | FULFILLMENT_TOPICS | {REFUND_TOPIC, "tracking/update"}


def _waiting_process(merchant: Merchant, deliveries: QuerySet[InboundDelivery], now) -> None:
    """Process the deliveries still waiting (received, or failed and due a retry) before their
    bodies are erased, so an order or a refund about the person is not lost with them. One a
    worker holds right now is left to it; what is still waiting afterwards is erased."""
    from connectors.services import delivery_process_locked  # services imports this module

    waiting = Q(status=DeliveryStatus.RECEIVED) | Q(
        status=DeliveryStatus.FAILED, next_attempt_at__isnull=False
    )
    ids = list(
        deliveries.filter(waiting, topic__in=PROCESS_FIRST)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)
    )
    for pk in ids:
        delivery = (
            InboundDelivery.unscoped.select_for_update(skip_locked=True)
            .filter(waiting, pk=pk)
            .first()
        )
        if delivery is not None:
            delivery_process_locked(
                merchant=merchant, delivery=delivery, now=now, count_attempt=True
            )


def _deliveries_erase(deliveries: QuerySet[InboundDelivery]) -> int:
    """Drop the bodies we kept; one still waiting to be processed never will be."""
    waiting = Q(status=DeliveryStatus.RECEIVED) | Q(
        status=DeliveryStatus.FAILED, next_attempt_at__isnull=False
    )
    deliveries.filter(waiting).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error="Erased by a privacy request before it was processed.",
    )
    return deliveries.update(body=REDACTED_BODY)


def _deliveries_about(external_ids: set[str], emails: set[str], order_external_ids: list[str]) -> Q:
    about = Q(pk__in=[])
    for external_id in external_ids:
        about |= Q(body__customer__id=external_id)
        if external_id.isdigit():
            about |= Q(body__customer__id=int(external_id))
    for email in emails:
        about |= Q(body__email__iexact=email) | Q(body__customer__email__iexact=email)
    for external_id in order_external_ids:
        key = int(external_id) if external_id.isdigit() else external_id
        about |= Q(topic__in=ORDER_TOPICS, body__id=key) | Q(body__order_id=key)
    return about


def _orders_of(merchant: Merchant, customers: list[Customer], order_external_ids: list[str]):
    return Order.unscoped.filter(merchant=merchant).filter(
        Q(customer_id__in=[customer.pk for customer in customers])
        | Q(external_id__in=order_external_ids)
    )


def _deliveries_of(
    merchant: Merchant,
    customers: list[Customer],
    order_external_ids: list[str],
    requested: dict[str, str],
    request_delivery: InboundDelivery | None,
) -> QuerySet[InboundDelivery]:
    """The Shopify deliveries about these customers, the customer the request names, their
    orders and the orders named; and the tracking deliveries about those orders' parcels."""
    orders = _orders_of(merchant, customers, order_external_ids)
    order_external_ids = sorted(
        set(order_external_ids) | set(orders.values_list("external_id", flat=True))
    )
    external_ids = {c.external_id for c in customers if c.external_id} | {requested.get("id", "")}
    emails = {c.email for c in customers if c.email} | {requested.get("email", "")}
    numbers = list(
        Shipment.unscoped.filter(merchant=merchant, order__in=orders)
        .exclude(tracking_number="")
        .order_by()
        .values_list("tracking_number", flat=True)
        .distinct()
    )
    shopify = Q(source=DeliverySource.SHOPIFY) & _deliveries_about(
        external_ids - {""}, emails - {""}, order_external_ids
    )
    tracking = Q(source=DeliverySource.TRACKING, body__tracking_number__in=numbers)
    return (
        InboundDelivery.unscoped.filter(merchant=merchant)
        .filter(shopify | tracking)
        .exclude(pk=request_delivery.pk if request_delivery else None)
    )


def customers_redact(
    *,
    merchant: Merchant,
    customers: list[Customer],
    order_external_ids: list[str],
    now: datetime,
    request_delivery: InboundDelivery | None = None,
    requested: dict[str, str] | None = None,
    deliveries: bool = True,
) -> dict[str, int]:
    """Erase these customers' personal data; orders, lines, totals and events stay, anonymous.
    Their parcels' carrier scans are emptied, and the webhook bodies about them (Shopify's and
    the carriers') are dropped too, unless ``deliveries`` is false: the caller drops them all;
    ``request_delivery``, the request being processed, is left to its caller; ``requested`` is
    the store's id and email of the person, for rows we hold under no customer."""
    ids = [customer.pk for customer in customers]
    contains = frozenset(v.lower() for c in customers for v in (c.email, c.phone) if v)
    equals = frozenset(
        v.lower() for c in customers for v in (c.first_name, c.last_name, c.full_name) if v
    )
    erased = 0
    if deliveries:
        about = _deliveries_of(
            merchant, customers, order_external_ids, requested or {}, request_delivery
        )
        erased = _deliveries_erase(about)
    scans = _tracking_scrub(merchant, _orders_of(merchant, customers, order_external_ids))
    summary = {
        "customers": len(ids),
        "events": _events_scrub(
            Event.unscoped.filter(merchant=merchant, customer_id__in=ids),
            contains=contains,
            equals=equals,
        ),
        "tracking_events": scans,
        "deliveries": erased,
    }
    Customer.unscoped.filter(merchant=merchant, pk__in=ids).update(
        **ERASED_CUSTOMER, updated_at=now
    )
    external_ids = [c.external_id for c in customers if c.external_id]
    PrivacyRequest.unscoped.filter(
        merchant=merchant,
        kind=PrivacyRequestKind.DATA_REQUEST,
        customer_external_id__in=external_ids,
    ).update(export=None)
    return summary


# --- the three topics -------------------------------------------------------------------------


def _request_save(merchant: Merchant, delivery: InboundDelivery, kind: str, **values):
    return PrivacyRequest.unscoped.update_or_create(
        merchant=merchant,
        delivery=delivery,
        defaults={"kind": kind, "received_at": delivery.received_at, **values},
    )[0]


def privacy_data_request_handle(
    *, merchant: Merchant, delivery: InboundDelivery, now: datetime
) -> str:
    body = delivery.body
    wanted = _requested_customer(merchant, body)
    customers = list(customers_matching(merchant=merchant, customer=wanted))
    export = customer_data_export(
        merchant=merchant,
        customers=customers,
        order_external_ids=_order_ids(body, "orders_requested"),
    )
    data_request = body.get("data_request") if isinstance(body.get("data_request"), dict) else {}
    _request_save(
        merchant,
        delivery,
        PrivacyRequestKind.DATA_REQUEST,
        external_id=str(data_request.get("id") or "")[:255],
        customer_external_id=wanted["id"][:255],
        export=export,
        summary={key: len(export[key]) for key in ("customers", "orders", "events")},
        completed_at=now,
    )
    return f"Export ready: {len(customers)} customer(s), {len(export['orders'])} order(s)."


def privacy_customer_redact_handle(
    *, merchant: Merchant, delivery: InboundDelivery, now: datetime
) -> str:
    body = delivery.body
    wanted = _requested_customer(merchant, body)
    orders = _order_ids(body, "orders_to_redact")
    customers = list(customers_matching(merchant=merchant, customer=wanted))
    _waiting_process(merchant, _deliveries_of(merchant, customers, orders, wanted, delivery), now)
    # Processing may have brought the person in under a row we did not hold before.
    customers = list(customers_matching(merchant=merchant, customer=wanted))
    summary = customers_redact(
        merchant=merchant,
        customers=customers,
        order_external_ids=orders,
        now=now,
        request_delivery=delivery,
        requested=wanted,
    )
    if wanted["id"]:  # an export made for this store customer, even if we held nobody
        PrivacyRequest.unscoped.filter(
            merchant=merchant,
            kind=PrivacyRequestKind.DATA_REQUEST,
            customer_external_id=wanted["id"],
        ).update(export=None)
    for customer in customers:
        event_record(
            merchant=merchant,
            type="customer.redacted",
            customer=customer,
            payload={"customer_id": customer.pk},
            dedupe_key=f"customer.redacted:{customer.pk}:{delivery.pk}",
            source="shopify",
            now=now,
        )
    _request_save(
        merchant,
        delivery,
        PrivacyRequestKind.CUSTOMER_REDACT,
        customer_external_id=wanted["id"][:255],
        summary=summary,
        completed_at=now,
    )
    # The request itself named the customer: keep only the store's ids.
    delivery.body = {
        "shop_id": body.get("shop_id"),
        "customer": {"id": wanted["id"] or None},
        "orders_to_redact": body.get("orders_to_redact") or [],
    }
    return f"Erased {summary['customers']} customer(s)."


def shopify_customers(*, merchant: Merchant) -> QuerySet[Customer]:
    """The customers that came from Shopify: with an order placed through Shopify (an order
    keeps the channel it came from), or named as the customer of a Shopify order delivery we
    hold (an order first sent through the API, then updated by Shopify)."""
    named = (
        InboundDelivery.unscoped.filter(
            merchant=merchant, source=DeliverySource.SHOPIFY, topic__in=ORDER_TOPICS
        )
        .annotate(customer_external_id=KT("body__customer__id"))
        .filter(customer_external_id__isnull=False)
        .values("customer_external_id")
    )
    shopify_orders = Order.unscoped.filter(customer=OuterRef("pk"), source="shopify")
    return (
        Customer.unscoped.filter(merchant=merchant)
        .filter(Q(Exists(shopify_orders)) | Q(external_id__in=named))
        .order_by("id")
    )


def privacy_shop_redact_handle(
    *, merchant: Merchant, delivery: InboundDelivery, now: datetime
) -> str:
    inbound = InboundDelivery.unscoped.filter(
        merchant=merchant, source__in=[DeliverySource.SHOPIFY, DeliverySource.TRACKING]
    ).exclude(pk=delivery.pk)
    _waiting_process(merchant, inbound, now)
    customers = shopify_customers(merchant=merchant)
    summary = {"customers": 0, "events": 0, "tracking_events": 0, "deliveries": 0}
    last_id = 0
    while batch := list(customers.filter(pk__gt=last_id)[:BATCH]):
        done = customers_redact(
            merchant=merchant,
            customers=batch,
            order_external_ids=[],
            now=now,
            deliveries=False,
        )
        summary = {key: summary[key] + done[key] for key in summary}
        last_id = batch[-1].pk
    # A Shopify order with no customer (no contact given) may still have scans.
    summary["tracking_events"] += _tracking_scrub(
        merchant, Order.unscoped.filter(merchant=merchant, source="shopify", customer__isnull=True)
    )
    summary["deliveries"] = _deliveries_erase(inbound)
    PrivacyRequest.unscoped.filter(merchant=merchant).update(export=None)
    InboundConfig.unscoped.filter(merchant=merchant).update(
        shopify_secret="",
        shopify_previous_secret="",
        shopify_previous_expires_at=None,
        shopify_secret_hint="",
        shopify_secret_fingerprint="",
        shopify_shop_domain="",
        shopify_disconnected_at=now,
        updated_at=now,
    )
    event_record(
        merchant=merchant,
        type="shop.redacted",
        payload={"customers": summary["customers"]},
        dedupe_key=f"shop.redacted:{delivery.pk}",
        source="shopify",
        now=now,
    )
    _request_save(
        merchant, delivery, PrivacyRequestKind.SHOP_REDACT, summary=summary, completed_at=now
    )
    return f"Erased {summary['customers']} customer(s); the Shopify connection is switched off."


HANDLERS = {
    "customers/data_request": privacy_data_request_handle,
    "customers/redact": privacy_customer_redact_handle,
    "shop/redact": privacy_shop_redact_handle,
}
