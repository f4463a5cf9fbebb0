"""Shopify's three privacy topics, translated into the platform's erasure and export
(``orders.privacy``, which asks every app for its part), and the connectors app's own part.

- ``customers/data_request``: an export of everything every app holds on the customer (the
  customer, their orders with lines and shipments, their events, the messages sent to them,
  their journeys…), kept on a ``PrivacyRequest`` for the merchant to download and hand over.
- ``customers/redact``: the customer is erased in every app (``customers_erase``), with the
  orders the request names and the store's id and email it gives (rows we hold under no
  customer). Deliveries about them still waiting to be processed are processed first, so their
  figures are not lost, then their bodies are dropped like the rest.
- ``shop/redact``: every customer that came from Shopify is erased that way, every Shopify and
  tracking body we kept is dropped, and the Shopify connection is switched off (its secrets
  are deleted). Customers known only through other channels (the API, imports) are kept.

The connectors part (registered in ``ConnectorsConfig.ready``) drops the bodies of the inbound
webhooks about the person (Shopify's, and the carriers' about their parcels) and any export made
for them; its ``prepare`` hook first processes those still waiting. The request being handled is
never among them: a ``customers/redact`` delivery keeps the store's ids only, as the record of
the request.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.fields.json import KT

from connectors.events import SHOP_REDACTED
from connectors.models import (
    DeliverySource,
    DeliveryStatus,
    InboundConfig,
    InboundDelivery,
    PrivacyRequest,
    PrivacyRequestKind,
)
from connectors.shopify import FULFILLMENT_TOPICS, ORDER_TOPICS, REFUND_TOPIC
from connectors.tracking_feeds import FEED_OF_TOPIC
from orders.erasure import tracking_scans_erase
from orders.models import Customer, Order, Shipment
from orders.privacy import (
    PrivacyTarget,
    customers_erase,
    customers_export,
    export_counts,
    privacy_target,
)
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import check_email, to_e164

REDACTED_BODY = {"redacted": True}
BATCH = 500
SOURCE = "shopify"
# A customers/redact delivery, once handled, holds the store's ids only: the request's record.
KEPT_TOPICS = ("customers/redact", "shop/redact")


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


# --- the connectors part of an erasure -------------------------------------------------------


# What a privacy request processes before it erases: deliveries that only carry figures.
PROCESS_FIRST = (
    ORDER_TOPICS | FULFILLMENT_TOPICS | {REFUND_TOPIC, "tracking/update"} | set(FEED_OF_TOPIC)
)


def _waiting_process(merchant: Merchant, deliveries: QuerySet[InboundDelivery], now) -> None:
    """Process the deliveries still waiting (received, or failed and due a retry) before their
    bodies are erased, so an order or a refund about the person is not lost with them. One a
    worker holds right now is left to it; what is still waiting afterwards is erased."""
    from connectors.processing import delivery_process_locked  # processing imports this module

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
    return deliveries.exclude(body=REDACTED_BODY).update(body=REDACTED_BODY)


def _deliveries_about(target: PrivacyTarget) -> Q:
    about = Q(pk__in=[])
    for external_id in sorted(target.external_ids):
        about |= Q(body__customer__id=external_id)
        if external_id.isdigit():
            about |= Q(body__customer__id=int(external_id))
    for email in sorted(target.emails):
        about |= Q(body__email__iexact=email) | Q(body__customer__email__iexact=email)
    for external_id in sorted(target.order_external_ids):
        key = int(external_id) if external_id.isdigit() else external_id
        about |= Q(topic__in=ORDER_TOPICS, body__id=key) | Q(body__order_id=key)
    return about


def _deliveries_of(merchant: Merchant, target: PrivacyTarget) -> QuerySet[InboundDelivery]:
    """The Shopify deliveries about the person (by the store's id or email), their orders and
    the orders named; and the tracking deliveries about those orders' parcels."""
    numbers = list(
        Shipment.unscoped.filter(merchant=merchant, order_id__in=target.order_ids)
        .exclude(tracking_number="")
        .order_by()
        .values_list("tracking_number", flat=True)
        .distinct()
    )
    shopify = Q(source=DeliverySource.SHOPIFY) & _deliveries_about(target)
    # Our own tracking body, and EasyPost's, Shippo's and AfterShip's (tracking_feeds.py).
    tracking = Q(source=DeliverySource.TRACKING) & (
        Q(body__tracking_number__in=numbers)
        | Q(body__result__tracking_code__in=numbers)
        | Q(body__data__tracking_number__in=numbers)
        | Q(body__msg__tracking_number__in=numbers)
    )
    return (
        InboundDelivery.unscoped.filter(merchant=merchant)
        .filter(shopify | tracking)
        .exclude(source=DeliverySource.SHOPIFY, topic__in=KEPT_TOPICS)
    )


def inbound_prepare(*, merchant: Merchant, target: PrivacyTarget, now: datetime) -> None:
    """Before anything is erased: the webhooks about the person still waiting are applied."""
    _waiting_process(merchant, _deliveries_of(merchant, target), now)


def inbound_erase(*, merchant: Merchant, target: PrivacyTarget, now: datetime) -> dict[str, int]:
    """The connectors part's eraser: the inbound bodies about the person, and the exports made
    for them (by the store's customer id)."""
    erased = _deliveries_erase(_deliveries_of(merchant, target))
    PrivacyRequest.unscoped.filter(
        merchant=merchant,
        kind=PrivacyRequestKind.DATA_REQUEST,
        customer_external_id__in=sorted(target.external_ids),
    ).exclude(export=None).update(export=None)
    return {"deliveries": erased}


# --- the three topics -------------------------------------------------------------------------


def _request_save(merchant: Merchant, delivery: InboundDelivery, kind: str, **values):
    return PrivacyRequest.unscoped.update_or_create(
        merchant=merchant,
        delivery=delivery,
        defaults={"kind": kind, "received_at": delivery.received_at, **values},
    )[0]


def _request_target(
    merchant: Merchant, customers: list[Customer], wanted: dict[str, str], orders: list[str]
) -> PrivacyTarget:
    return privacy_target(
        merchant=merchant,
        customers=customers,
        order_external_ids=orders,
        external_ids=[wanted["id"]],
        emails=[wanted["email"]],
    )


def privacy_data_request_handle(
    *, merchant: Merchant, delivery: InboundDelivery, now: datetime
) -> str:
    body = delivery.body
    wanted = _requested_customer(merchant, body)
    customers = list(customers_matching(merchant=merchant, customer=wanted))
    target = privacy_target(
        merchant=merchant,
        customers=customers,
        order_external_ids=_order_ids(body, "orders_requested"),
    )
    export = customers_export(merchant=merchant, customers=customers, target=target)
    data_request = body.get("data_request") if isinstance(body.get("data_request"), dict) else {}
    _request_save(
        merchant,
        delivery,
        PrivacyRequestKind.DATA_REQUEST,
        external_id=str(data_request.get("id") or "")[:255],
        customer_external_id=wanted["id"][:255],
        export=export,
        summary=export_counts(export),
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
    inbound_prepare(
        merchant=merchant, target=_request_target(merchant, customers, wanted, orders), now=now
    )
    # Processing may have brought the person in under a row we did not hold before.
    customers = list(customers_matching(merchant=merchant, customer=wanted))
    summary = customers_erase(
        merchant=merchant,
        customers=customers,
        now=now,
        source=SOURCE,
        target=_request_target(merchant, customers, wanted, orders),
        request_id=str(delivery.pk),
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
    return f"Erased {len(customers)} customer(s)."


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


def _shopify_disconnect(merchant: Merchant, now: datetime) -> None:
    """The store uninstalled us: its secrets go, so later deliveries are refused until one is
    pasted again."""
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


def privacy_shop_redact_handle(
    *, merchant: Merchant, delivery: InboundDelivery, now: datetime
) -> str:
    inbound = InboundDelivery.unscoped.filter(
        merchant=merchant, source__in=[DeliverySource.SHOPIFY, DeliverySource.TRACKING]
    ).exclude(pk=delivery.pk)
    _waiting_process(merchant, inbound, now)
    # Read before the bodies go: a Shopify order body may be what names a customer.
    ids = list(shopify_customers(merchant=merchant).values_list("pk", flat=True))
    summary: dict[str, int] = {"customers": 0}
    for start in range(0, len(ids), BATCH):
        batch = list(Customer.unscoped.filter(pk__in=ids[start : start + BATCH]).order_by("id"))
        done = customers_erase(
            merchant=merchant,
            customers=batch,
            now=now,
            source=SOURCE,
            request_id=str(delivery.pk),
            skip={"connectors"},  # every body is dropped below, at once
        )
        for what, count in done.items():
            summary[what] = summary.get(what, 0) + count
    # A Shopify order with no customer (no contact given) may still have scans.
    guest_orders = Order.unscoped.filter(merchant=merchant, source="shopify", customer__isnull=True)
    summary["tracking_events"] = summary.get("tracking_events", 0) + tracking_scans_erase(
        merchant=merchant, order_ids=list(guest_orders.values_list("pk", flat=True))
    )
    summary["deliveries"] = _deliveries_erase(inbound)
    PrivacyRequest.unscoped.filter(merchant=merchant).update(export=None)
    _shopify_disconnect(merchant, now)
    event_record(
        merchant=merchant,
        type=SHOP_REDACTED,
        payload={"customers": len(ids)},
        dedupe_key=f"{SHOP_REDACTED}:{delivery.pk}",
        source=SOURCE,
        now=now,
    )
    _request_save(
        merchant, delivery, PrivacyRequestKind.SHOP_REDACT, summary=summary, completed_at=now
    )
    return f"Erased {len(ids)} customer(s); the Shopify connection is switched off."


HANDLERS = {
    "customers/data_request": privacy_data_request_handle,
    "customers/redact": privacy_customer_redact_handle,
    "shop/redact": privacy_shop_redact_handle,
}
