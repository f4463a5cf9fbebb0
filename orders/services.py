"""Writes to the commerce model. Every ingestion path (API, webhooks, CSV, seed data) calls these.

Each upsert is keyed by the merchant's own external ids, validates the whole payload before it
writes anything, runs in one transaction together with the events it records, and is idempotent:
the same payload twice gives one row and one event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from orders.models import (
    Customer,
    FulfillmentStatus,
    Order,
    OrderLine,
    Product,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
)
from orders.schemas import CheckpointIn, CustomerIn, OrderIn, ProductIn, ShipmentIn
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.services import event_record
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope
from postpurchase.validation import check_money, money_str, parse_payload

# Shipment statuses that record an event of the same name when a shipment enters them.
SHIPMENT_STATUS_EVENTS = {
    ShipmentStatus.IN_TRANSIT: "shipment.in_transit",
    ShipmentStatus.OUT_FOR_DELIVERY: "shipment.out_for_delivery",
    ShipmentStatus.DELIVERED: "shipment.delivered",
    ShipmentStatus.EXCEPTION: "shipment.exception",
    ShipmentStatus.RETURNED_TO_SENDER: "shipment.returned_to_sender",
}
FULFILLMENT_RANK = {
    FulfillmentStatus.UNFULFILLED: 0,
    FulfillmentStatus.PARTIALLY_FULFILLED: 1,
    FulfillmentStatus.FULFILLED: 2,
}
MOVEMENT_STATUSES = frozenset(
    {ShipmentStatus.IN_TRANSIT, ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.DELIVERED}
)
# How far along its journey each status puts a parcel: orders undated statements and ties.
UNDATED_ORDER = {
    ShipmentStatus.LABEL_CREATED: 0,
    ShipmentStatus.IN_TRANSIT: 1,
    ShipmentStatus.OUT_FOR_DELIVERY: 2,
    ShipmentStatus.EXCEPTION: 2,
    ShipmentStatus.DELIVERED: 3,
    ShipmentStatus.RETURNED_TO_SENDER: 3,
}
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
)


@dataclass
class IngestResult:
    """What an upsert did: the row, whether it was new, whether it changed, the events recorded,
    and whether the payload was older than what we hold (and so ignored)."""

    instance: Any
    created: bool = False
    changed: bool = False
    stale: bool = False
    events: list[str] = field(default_factory=list)


def _context(merchant: Merchant) -> dict[str, str]:
    return {"region": merchant.country or ""}


def _lock_or_create(model, *, merchant: Merchant, lookup: dict, defaults: dict):
    """Fetch the row for ``lookup`` locked for update, or create it. Safe under concurrency: the
    loser of an insert race falls back to locking the winner's row.

    Locks are ``FOR NO KEY UPDATE`` throughout ingestion: they serialise writers of the same row
    but let other transactions insert rows that merely reference it (an event naming the
    customer, a line naming the product)."""
    queryset = model.unscoped.select_for_update(no_key=True).filter(merchant=merchant, **lookup)
    instance = queryset.first()
    if instance is not None:
        return instance, False
    try:
        with transaction.atomic():
            return model.unscoped.create(merchant=merchant, **lookup, **defaults), True
    except IntegrityError:
        return queryset.get(), False


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _assign(instance, values: dict) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


# --- customers ------------------------------------------------------------------------------


def contact_lock_key(merchant: Merchant, contact: str) -> int:
    """The advisory lock key of one merchant's contact (shared with orders.bulk)."""
    digest = hashlib.blake2b(f"{merchant.pk}:{contact}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_contact(merchant: Merchant, contact: str) -> None:
    """A transaction-scoped lock on one merchant's contact (email or phone). PostgreSQL only:
    SQLite (the embedded mode) already runs one writing transaction at a time."""
    if connection.vendor != "postgresql" or not contact:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [contact_lock_key(merchant, contact)])


def _lock_contacts(merchant: Merchant, data: CustomerIn) -> None:
    """Lock every contact a shopper without an external id is known by, in one fixed order."""
    for contact in sorted({data.email.lower(), data.phone} - {""}):
        _lock_contact(merchant, contact)


def _by_contact(customers, data: CustomerIn):
    """The oldest of ``customers`` with the shopper's email, else with their phone."""
    for lookup in ({"email": data.email.lower()}, {"phone": data.phone}):
        value = next(iter(lookup.values()))
        found = value and customers.filter(**lookup).order_by("id").first()
        if found:
            return found
    return None


def _customer_values(data: CustomerIn, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in ("email", "phone", "first_name", "last_name", "timezone", "locale", "birthday"):
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


def _keep_newer_consent(customer: Customer, values: dict[str, Any]) -> None:
    """Drop from ``values`` any consent older than the one held: an existing consent is only
    overwritten by a newer statement of it."""
    for channel in ("email", "sms"):
        stamp = values.get(f"{channel}_consent_updated_at")
        held = getattr(customer, f"{channel}_consent_updated_at")
        if stamp is not None and held is not None and stamp < held:
            for suffix in ("marketing_consent", "consent_updated_at", "consent_source"):
                values.pop(f"{channel}_{suffix}")


def _customer_upsert(*, merchant: Merchant, data: CustomerIn, now: datetime) -> IngestResult:
    values = _customer_values(data, now)
    if data.external_id:
        customer, created = _lock_or_create(
            Customer,
            merchant=merchant,
            lookup={"external_id": data.external_id},
            defaults={**values, "created_at": now, "updated_at": now},
        )
    else:
        # No external id: the shopper is known by email, else by phone. No constraint can make
        # that unique (integrators' rows may share an email), so a lock per contact serialises
        # two deliveries that would both create the same shopper.
        _lock_contacts(merchant, data)
        customer = _by_contact(
            Customer.unscoped.select_for_update(no_key=True).filter(merchant=merchant), data
        )
        created = customer is None
        if created:
            customer = Customer.unscoped.create(
                merchant=merchant, created_at=now, updated_at=now, **values
            )
    if created:
        return IngestResult(instance=customer, created=True, changed=True)
    _keep_newer_consent(customer, values)
    changed = _assign(customer, values)
    if changed:
        customer.updated_at = now
        customer.save()
    return IngestResult(instance=customer, changed=changed)


def customer_upsert(
    *, merchant: Merchant, payload: CustomerIn | dict, now: datetime | None = None
) -> IngestResult:
    data = parse_payload(CustomerIn, payload, context=_context(merchant))
    with transaction.atomic():
        return _customer_upsert(merchant=merchant, data=data, now=now or timezone.now())


def customer_stats_refresh(*, customer: Customer, merchant: Merchant | None = None) -> Customer:
    """Recompute the derived order figures from the orders themselves (so it is idempotent).
    Cancelled orders do not count; money counts only orders in the merchant's currency."""
    merchant = merchant or Merchant.objects.get(pk=customer.merchant_id)
    # Lock the customer first: two orders for one shopper committing side by side must not both
    # write figures computed without the other's order.
    Customer.unscoped.select_for_update(no_key=True).filter(pk=customer.pk).values_list(
        "pk"
    ).first()
    live = Order.unscoped.filter(
        merchant_id=customer.merchant_id, customer=customer, cancelled_at__isnull=True
    )
    stats = live.aggregate(
        count=Count("id"),
        first=Min("placed_at"),
        last=Max("placed_at"),
        spent=Sum("total", filter=Q(currency=merchant.currency)),
    )
    Customer.unscoped.filter(pk=customer.pk).update(
        orders_count=stats["count"],
        first_order_at=stats["first"],
        last_order_at=stats["last"],
        total_spent=stats["spent"] or Decimal(0),
    )
    customer.refresh_from_db(
        fields=["orders_count", "first_order_at", "last_order_at", "total_spent"]
    )
    return customer


# --- products -------------------------------------------------------------------------------


def _product_upsert(
    *, merchant: Merchant, data: ProductIn, now: datetime, field_prefix: str = ""
) -> IngestResult:
    """Create the product, or update it when the payload differs. An unchanged product is not
    locked: a best-seller named by many orders at once must not serialise their ingestion."""
    if data.price is not None:
        try:
            check_money(data.price, merchant.currency)
        except ValueError as exc:
            field = f"{field_prefix}price"
            raise DomainError(ErrorCode.INVALID, f"{field}: {exc}", field=field) from None
    values = data.model_dump(exclude={"external_id"}, exclude_unset=True)
    rows = Product.unscoped.filter(merchant=merchant, external_id=data.external_id)
    product = rows.first()
    if product is None:
        try:
            with transaction.atomic():
                product = Product.unscoped.create(
                    merchant=merchant,
                    external_id=data.external_id,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            return IngestResult(instance=product, created=True, changed=True)
        except IntegrityError:
            product = rows.get()  # created by a concurrent delivery, now committed
    if all(getattr(product, name) == value for name, value in values.items()):
        return IngestResult(instance=product)
    product = rows.select_for_update(no_key=True).get()
    changed = _assign(product, values)
    if changed:
        product.updated_at = now
        product.save()
    return IngestResult(instance=product, changed=changed)


def product_upsert(
    *, merchant: Merchant, payload: ProductIn | dict, now: datetime | None = None
) -> IngestResult:
    data = parse_payload(ProductIn, payload)
    with transaction.atomic():
        return _product_upsert(merchant=merchant, data=data, now=now or timezone.now())


# --- orders ---------------------------------------------------------------------------------


def _order_event_payload(order: Order, lines: list[OrderLine]) -> dict[str, Any]:
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


def _resolve_customer(merchant: Merchant, data: OrderIn, now: datetime) -> Customer | None:
    if data.customer is not None:
        return _customer_upsert(merchant=merchant, data=data.customer, now=now).instance
    if data.customer_external_id:
        customer = (
            Customer.unscoped.select_for_update(no_key=True)
            .filter(merchant=merchant, external_id=data.customer_external_id)
            .first()
        )
        if customer is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"No customer has external_id {data.customer_external_id!r}.",
                field="customer_external_id",
            )
        return customer
    return None


def _sync_lines(
    merchant: Merchant, order: Order, data: OrderIn, now: datetime
) -> tuple[list[OrderLine], bool]:
    existing = {line.external_id: line for line in OrderLine.unscoped.filter(order=order)}
    kept: list[OrderLine] = []
    changed = False
    # Products first, in one fixed order, so two orders naming the same products never wait
    # on each other in opposite orders.
    nested = {
        line.product.external_id: (i, line.product)
        for i, line in enumerate(data.lines)
        if line.product is not None
    }
    products = {
        external_id: _product_upsert(
            merchant=merchant, data=product_in, now=now, field_prefix=f"lines[{i}].product."
        ).instance
        for external_id, (i, product_in) in sorted(nested.items())
    }
    for position, line_in in enumerate(data.lines):
        product = None
        if line_in.product is not None:
            product = products[line_in.product.external_id]
        elif line_in.product_external_id:
            product = Product.unscoped.filter(
                merchant=merchant, external_id=line_in.product_external_id
            ).first()
            if product is None:
                raise DomainError(
                    ErrorCode.NOT_FOUND,
                    f"No product has external_id {line_in.product_external_id!r}.",
                    field=f"lines[{position}].product_external_id",
                )
        values = {
            "product": product,
            "title": line_in.title or (product.title if product else ""),
            "sku": line_in.sku or (product.sku if product else ""),
            "quantity": line_in.quantity,
            "unit_price": line_in.unit_price,
            "discount": line_in.discount,
            "position": position,
        }
        key = line_in.external_id or f"#{position + 1}"
        line = existing.pop(key, None)
        if line is None:
            line = OrderLine.unscoped.create(
                merchant=merchant, order=order, external_id=key, **values
            )
            changed = True
        elif _assign(line, values):
            line.save()
            changed = True
        kept.append(line)
    if existing:
        shipped = sorted(
            OrderLine.unscoped.filter(pk__in=[line.pk for line in existing.values()])
            .filter(pk__in=ShipmentLine.unscoped.values("order_line_id"))
            .values_list("external_id", flat=True)
        )
        if shipped:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"Line {shipped[0]!r} has been shipped, so it cannot be removed from the order.",
                field="lines",
            )
        OrderLine.unscoped.filter(pk__in=[line.pk for line in existing.values()]).delete()
        changed = True
    return kept, changed


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


def _is_stale(order: Order, data: OrderIn) -> bool:
    return bool(
        data.updated_at and order.source_updated_at and data.updated_at < order.source_updated_at
    )


def _order_values(
    data: OrderIn, *, order: Order | None, customer: Customer | None, source: str
) -> dict[str, Any]:
    """The order's fields from the payload. For an existing order: the channel it came from is
    kept, an unsaid fulfillment status is kept, and ``source_updated_at`` never goes back."""
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
    }
    if order is not None:
        values.pop("source")
        values["source_updated_at"] = _latest(order.source_updated_at, data.updated_at)
        if "fulfillment_status" not in data.model_fields_set:
            values.pop("fulfillment_status")
    return values


def _customer_id_named(merchant: Merchant, data: OrderIn) -> int | None:
    """The id of the existing customer the payload names, read without a lock."""
    customers = Customer.unscoped.filter(merchant=merchant)
    external_id = data.customer_external_id or (data.customer and data.customer.external_id)
    if external_id:
        return customers.filter(external_id=external_id).values_list("pk", flat=True).first()
    found = _by_contact(customers, data.customer) if data.customer is not None else None
    return found.pk if found else None


def _order_customer(
    merchant: Merchant, data: OrderIn, order: Order, now: datetime
) -> Customer | None:
    """The customer an existing order will have, locked. A payload that says nothing of the
    customer keeps the order's.

    Every ingestion path takes its locks in one order: contact locks, then customer rows by id,
    then products by external id. So the contacts of a customer named without an external id
    are locked first, then the order's current customer and the one named, in id order, before
    anything else is written."""
    locked = Customer.unscoped.select_for_update(no_key=True)
    if data.customer is None and data.customer_external_id is None:
        return locked.filter(pk=order.customer_id).first() if order.customer_id else None
    if data.customer is not None and not data.customer.external_id:
        _lock_contacts(merchant, data.customer)
    ids = {order.customer_id, _customer_id_named(merchant, data)} - {None}
    if ids:
        list(locked.filter(pk__in=ids).order_by("pk").values_list("pk"))
    return _resolve_customer(merchant, data, now)


def order_ingest(
    *, merchant: Merchant, payload: OrderIn | dict, source: str = "api", now: datetime | None = None
) -> IngestResult:
    """Create or update an order (and its customer, products and lines) by its external id.

    Records ``order.placed`` once per order, ``order.updated`` when a later payload changes it,
    ``order.cancelled`` and ``order.fulfilled`` on those transitions. A payload whose
    ``updated_at`` is older than the one already applied is ignored (``stale``)."""
    data = parse_payload(OrderIn, payload, context=_context(merchant))
    now = now or timezone.now()
    with transaction.atomic(), merchant_scope(merchant):
        order = (
            Order.unscoped.select_for_update(no_key=True)
            .filter(merchant=merchant, external_id=data.external_id)
            .first()
        )
        created = False
        if order is None:
            try:
                # A savepoint: if a concurrent delivery creates the order first, this one's
                # customer writes (and row locks) are undone with it, and it carries on below
                # as an update of the winner's order, staleness checks included.
                with transaction.atomic():
                    customer = _resolve_customer(merchant, data, now)
                    order = Order.unscoped.create(
                        merchant=merchant,
                        external_id=data.external_id,
                        created_at=now,
                        updated_at=now,
                        **_order_values(data, order=None, customer=customer, source=source),
                    )
                    created = True
            except IntegrityError:
                order = (
                    Order.unscoped.select_for_update(no_key=True)
                    .filter(merchant=merchant, external_id=data.external_id)
                    .first()
                )
                if order is None:
                    raise
        # From here on the order's row is locked, whether it was there, lost an insert race to
        # a concurrent delivery, or was just created.
        was = {name: getattr(order, name) for name in ORDER_TRACKED_FIELDS}
        was_source_updated_at = order.source_updated_at
        if not created:
            if _is_stale(order, data):
                return IngestResult(instance=order, stale=True)
            customer = _order_customer(merchant, data, order, now)
            _assign(order, _order_values(data, order=order, customer=customer, source=source))
        lines, lines_changed = _sync_lines(merchant, order, data, now)
        derived = _derived_fulfillment(order)
        if derived is not None and (
            FULFILLMENT_RANK[derived] > FULFILLMENT_RANK[order.fulfillment_status]
        ):
            # What shipments carry can raise the status; it never lowers what the store said
            # (a letter-post parcel or a gift card line carries no tracked lines).
            order.fulfillment_status = derived
        changed = (
            created
            or lines_changed
            or any(getattr(order, name) != was[name] for name in ORDER_TRACKED_FIELDS)
        )
        if changed and not created:
            order.updated_at = now
        if not created and (changed or order.source_updated_at != was_source_updated_at):
            order.save()

        result = IngestResult(instance=order, created=created, changed=changed)
        event_payload = _order_event_payload(order, lines)
        common = {"customer": customer, "source": order.source, "now": now}
        if created:
            event_payload["first_order"] = (
                customer is not None
                and not Order.unscoped.filter(
                    merchant=merchant, customer=customer, placed_at__lt=order.placed_at
                ).exists()
            )
            _record(
                merchant,
                result,
                "order.placed",
                payload=event_payload,
                occurred_at=order.placed_at,
                dedupe_key=f"order.placed:{order.external_id}",
                **common,
            )
        elif changed:
            _record(
                merchant,
                result,
                "order.updated",
                payload=event_payload,
                occurred_at=data.updated_at or now,
                dedupe_key=None,
                **common,
            )
        if order.cancelled_at and (created or was["cancelled_at"] is None):
            _record(
                merchant,
                result,
                "order.cancelled",
                payload={**event_payload, "reason": order.cancel_reason},
                occurred_at=order.cancelled_at,
                dedupe_key=f"order.cancelled:{order.external_id}",
                **common,
            )
        if order.fulfillment_status == FulfillmentStatus.FULFILLED and (
            created or was["fulfillment_status"] != FulfillmentStatus.FULFILLED
        ):
            _record(
                merchant,
                result,
                "order.fulfilled",
                payload=event_payload,
                occurred_at=data.updated_at or now,
                dedupe_key=f"order.fulfilled:{order.external_id}",
                **common,
            )
        if changed and customer is not None:
            customer_stats_refresh(customer=customer, merchant=merchant)
        if changed and was["customer_id"] not in (None, customer.pk if customer else None):
            previous = Customer.unscoped.get(pk=was["customer_id"])
            customer_stats_refresh(customer=previous, merchant=merchant)
        return result


# --- shipments ------------------------------------------------------------------------------


def _shipment_event_payload(shipment: Shipment, order: Order) -> dict[str, Any]:
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
        "estimated_delivery": (
            shipment.estimated_delivery.isoformat() if shipment.estimated_delivery else None
        ),
    }


def _apply_status(
    merchant: Merchant,
    shipment: Shipment,
    order: Order,
    result: IngestResult,
    *,
    status: str,
    at: datetime | None,
    now: datetime,
) -> None:
    """Move the shipment to ``status`` as of ``at`` unless it already holds a newer status, so
    a late, older update never moves a shipment backwards; a re-sent update changes nothing.

    An undated statement (``at`` is None) is older than any dated one: it applies only while the
    shipment has no dated status, only forward along the parcel's journey, and without dating
    the shipment, so a carrier scan arriving later with the real time still applies."""
    if at is None:
        if shipment.status_changed_at is not None or (
            UNDATED_ORDER[status] <= UNDATED_ORDER[shipment.status]
        ):
            return
        moment = now
    else:
        if status in MOVEMENT_STATUSES and shipment.shipped_at and shipment.shipped_at > at:
            shipment.shipped_at = at  # even a late scan tells when the parcel first moved
            result.changed = True
        held = shipment.status_changed_at
        if held is not None and (
            at < held or (at == held and UNDATED_ORDER[status] <= UNDATED_ORDER[shipment.status])
        ):
            # Older than what we hold, or a tie that would not move the parcel forward (carrier
            # scans often share a minute).
            return
        shipment.status_changed_at = at
        if status == shipment.status:
            return
        moment = at
    shipment.status = status
    result.changed = True
    if status in MOVEMENT_STATUSES and (
        shipment.shipped_at is None or shipment.shipped_at > moment
    ):
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
                **_shipment_event_payload(shipment, order),
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
            at=checkpoint.occurred_at,
            now=now,
        )


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
                ErrorCode.INVALID,
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


def _derived_fulfillment(order: Order) -> str | None:
    """The fulfillment status the quantities in the order's shipments imply, or ``None`` when no
    shipment says which lines it carries."""
    ordered = dict(OrderLine.unscoped.filter(order=order).values_list("id", "quantity"))
    shipped: dict[int, int] = {}
    for line_id, quantity in ShipmentLine.unscoped.filter(shipment__order=order).values_list(
        "order_line_id", "quantity"
    ):
        shipped[line_id] = shipped.get(line_id, 0) + quantity
    if not shipped:
        return None
    complete = all(shipped.get(line_id, 0) >= quantity for line_id, quantity in ordered.items())
    return FulfillmentStatus.FULFILLED if complete else FulfillmentStatus.PARTIALLY_FULFILLED


def _order_fulfillment_refresh(
    merchant: Merchant, order: Order, result: IngestResult, now: datetime
) -> None:
    """Raise the order's fulfillment status to what its shipments carry (``order.fulfilled`` once
    they carry everything); never lower what the store said."""
    status = _derived_fulfillment(order)
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
            "order.fulfilled",
            customer=order.customer,
            payload=_order_event_payload(order, lines),
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
                "tracking_number",
                "tracking_url",
                "estimated_delivery",
                "shipped_at",
            )
            if name in data.model_fields_set
        }
        shipment, created = _lock_or_create(
            Shipment,
            merchant=merchant,
            lookup={"external_id": data.external_id},
            defaults={
                **details,
                "order": order,
                "status": ShipmentStatus.LABEL_CREATED,
                "status_changed_at": start,
                "created_at": now,
                "updated_at": now,
            },
        )
        if not created and shipment.order_id != order.pk:
            raise DomainError(
                ErrorCode.CONFLICT,
                f"Shipment {data.external_id!r} belongs to another order.",
                field="order_external_id",
            )
        result = IngestResult(instance=shipment, created=created, changed=created)
        if not created and _assign(shipment, details):
            result.changed = True
        if _sync_shipment_lines(merchant, shipment, order, data):
            result.changed = True
        if created:
            _record(
                merchant,
                result,
                "shipment.created",
                customer=order.customer,
                payload=_shipment_event_payload(shipment, order),
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
                # On creation the payload's own undated status is as old as the shipment itself.
                at=data.status_at or (start if created else None),
                now=now,
            )
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
        if result.changed:
            shipment.updated_at = now
        shipment.save()
        return result
