"""Reads of the commerce model."""

from __future__ import annotations

import hmac

from django.db.models import Prefetch, Q, QuerySet

from orders.models import Customer, Order, OrderLine, Shipment, ShipmentStatus, TrackingEvent
from orders.schemas import postal_code_normalise
from postpurchase.events.models import Event
from postpurchase.tenancy.models import Merchant


def order_list(
    *, orders: QuerySet[Order] | None = None, status: str = "", query: str = ""
) -> QuerySet[Order]:
    """The current merchant's orders (or the given scoped ``orders``), newest first, optionally
    filtered by fulfillment status (or ``cancelled``) and by a search on number, customer email
    or name."""
    orders = (Order.objects.all() if orders is None else orders).select_related("customer")
    if status == "cancelled":
        orders = orders.filter(cancelled_at__isnull=False)
    elif status:
        orders = orders.filter(fulfillment_status=status, cancelled_at__isnull=True)
    if query:
        query = query.strip().lstrip("#")
        orders = orders.filter(
            Q(number__icontains=query)
            | Q(external_id=query)
            | Q(customer__email__icontains=query)
            | Q(customer__last_name__icontains=query)
            | Q(customer__first_name__icontains=query)
        )
    return orders.order_by("-placed_at", "-id")


def orders_for_messages(*, merchant: Merchant, order_ids: set[int]) -> dict[int, Order]:
    """The orders a batch of messages speaks of, by id, each with what its message context reads
    already loaded: ``lines_in_order`` (each line with its product, in the order's order) and
    ``tracked_shipments`` (its parcels with a tracking page, latest first). Three queries for
    the batch, not three per order."""
    if not order_ids:
        return {}
    lines = OrderLine.unscoped.select_related("product").order_by("position", "id")
    tracked = Shipment.unscoped.exclude(tracking_url="").order_by("-created_at", "-id")
    return (
        Order.unscoped.filter(merchant=merchant, pk__in=sorted(order_ids))
        .prefetch_related(
            Prefetch("lines", queryset=lines, to_attr="lines_in_order"),
            Prefetch("shipments", queryset=tracked, to_attr="tracked_shipments"),
        )
        .in_bulk()
    )


def order_detail(*, order_id: int) -> Order:
    """One order with its lines, shipments and their tracking events (raises DoesNotExist)."""
    return (
        Order.objects.select_related("customer")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.unscoped.select_related("product")),
            Prefetch(
                "shipments",
                queryset=Shipment.unscoped.prefetch_related(
                    Prefetch(
                        "tracking_events",
                        queryset=TrackingEvent.unscoped.order_by("-occurred_at", "-id"),
                    ),
                    "lines__order_line",
                ).order_by("created_at", "id"),
            ),
        )
        .get(pk=order_id)
    )


def customer_timeline(*, customer: Customer | None, limit: int = 100) -> list[Event]:
    if customer is None:
        return []
    return list(Event.objects.filter(customer=customer).order_by("-occurred_at", "-id")[:limit])


def shipments_in_transit() -> QuerySet[Shipment]:
    return Shipment.objects.filter(
        status__in=(
            ShipmentStatus.IN_TRANSIT,
            ShipmentStatus.OUT_FOR_DELIVERY,
            ShipmentStatus.FAILED_ATTEMPT,
            ShipmentStatus.AVAILABLE_FOR_PICKUP,
        )
    )


def dashboard_counts() -> dict[str, int]:
    """The home page's store figures. Delayed shipments are the tracking pillar's figure (its
    open delay incidents, ``tracking/home.py``), not counted here."""
    return {
        "customers": Customer.objects.count(),
        "orders": Order.objects.count(),
        "shipments_in_transit": shipments_in_transit().count(),
    }


def order_for_lookup(*, number: str, email: str = "", postal_code: str = "") -> int | None:
    """The current merchant's order numbered ``number`` (with or without its ``#``) whose
    customer's email is ``email`` (any case) or, when no email is given, whose shipping address's
    postal code is ``postal_code`` (any case, spaces and hyphens aside), for the shopper's order
    lookup. One query and a constant-time comparison whether or not such a number exists, and
    whichever was typed, so "no such order", "wrong email" and "wrong postal code" take the
    same path. A blank on either side never matches."""
    candidates = list(
        Order.objects.filter(number__in=(number, f"#{number}"))
        .order_by("-placed_at", "-id")
        .values_list("pk", "customer__email", "shipping_address__postal_code")[:5]
    ) or [(None, "", "")]
    if email:
        typed = email.strip().casefold().encode()
    else:
        typed = postal_code_normalise(postal_code).encode()
    found = None
    for pk, stored_email, stored_postal_code in candidates:
        if email:
            stored = (stored_email or "").strip().casefold().encode()
        else:
            stored = postal_code_normalise(str(stored_postal_code or "")).encode()
        # b"\0" never equals what a shopper types: a blank stored value never matches.
        matches = hmac.compare_digest(stored or b"\0", typed)
        if matches and found is None:
            found = pk
    return found


def customer_find(
    *, merchant: Merchant, customer_id: int | None, external_id: str | None
) -> Customer | None:
    """The merchant's customer with our ``customer_id``, or else with ``external_id``, or
    ``None``: the event log's customer resolver (``postpurchase/events/customers.py``), for
    integrators' custom events. Scoped by the argument, since the API's caller may not have
    entered the merchant's scope."""
    customers = Customer.unscoped.filter(merchant=merchant)
    if customer_id is not None:
        return customers.filter(pk=customer_id).first()
    return customers.filter(external_id=external_id).first()


def order_get_by_number(*, number: str) -> Order | None:
    """The current merchant's order numbered ``number`` (any case, spaces around it aside),
    with its customer, or ``None``; the newest when an import left two with one number. For the
    template editor's preview, which renders a real order the merchant names."""
    return (
        Order.objects.filter(number__iexact=number.strip())
        .select_related("customer")
        .order_by("-placed_at", "-id")
        .first()
    )


def order_first_shipment(*, order: Order) -> Shipment | None:
    """``order``'s first parcel (the one created first), or ``None`` before it ships: what a
    message about the order shows when it names one parcel."""
    return order.shipments.order_by("id").first()


def customer_get_by_email(*, email: str) -> Customer | None:
    """The current merchant's customer with ``email`` (any case, spaces around it aside), or
    ``None``: for the template editor's preview of a real customer's data."""
    return Customer.objects.filter(email__iexact=email.strip()).first()
