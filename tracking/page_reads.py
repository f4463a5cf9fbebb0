"""The tracking page's reads, as plain SQL (``postpurchase.rows``): the page is requested hundreds
of times a second (docs/benchmarks/tracking.md), and compiling its dozen ORM querysets cost more
than PostgreSQL took to answer them. Every statement filters on the merchant itself (these
reads do not go through the scoped managers).

What a view of the page reads, after the shell's merchant: the order with its customer, the
merchant's protection settings and how many live update subscriptions it has; its lines with
what each parcel holds of them; its parcels, each saying whether it has an open delay; the
chosen parcel's checkpoints; the products bought with these. On PostgreSQL that is one
statement (``_page_sql``: the rows of each table gathered as JSON arrays), since each round trip
to the server cost the page more than the reading did; on SQLite (the embedded mode) it is five
short ones. The open delays and the subscriptions themselves are read only when there are some.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

from django.db import connection

from orders.models import Customer, Order, OrderLine, Product, Shipment, ShipmentLine, TrackingEvent
from postpurchase.rows import (
    columns,
    fetch,
    instance,
    instances,
    json_columns,
    json_instance,
    table,
    width,
)
from tracking.claims.models import ProtectionSettings
from tracking.models import DelayIncident, ProductPairing, TrackingSubscription

TIMELINE_LIMIT = 100  # checkpoints shown; a parcel rarely has more than 30
INCIDENTS_LIMIT = 10
SUGGESTIONS = 3


@dataclass(frozen=True)
class Suggestion:
    pk: int
    title: str
    url: str


@dataclass
class PageOrder:
    order: Order  # with its customer (or ``None``) and merchant set
    protection: ProtectionSettings  # the merchant's (an unsaved default, off, when it has none)
    subscribed: bool  # whether the order has live update subscriptions
    lines: list[OrderLine] = field(default_factory=list)  # in the order's own order (position)
    shipments: list[Shipment] = field(default_factory=list)  # oldest first: parcel 1 came first
    # per shipment id: (title, quantity) of what that parcel holds, in the order's line order
    items: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    delayed: set[int] = field(default_factory=set)  # ids of the shipments with an open delay
    chosen: Shipment | None = None  # the parcel the page shows: the one asked for, else the first
    events: list[TrackingEvent] = field(default_factory=list)  # its checkpoints, newest first
    suggested: list[Suggestion] = field(default_factory=list)  # products bought with these


@cache
def _order_sql() -> str:
    return (
        f"SELECT {columns(Order, 'o')}, {columns(Customer, 'c')}, "  # noqa: S608
        f"{columns(ProtectionSettings, 'p')}, "
        f"(SELECT COUNT(*) FROM {table(TrackingSubscription)} s "
        "WHERE s.merchant_id = o.merchant_id AND s.order_id = o.id AND s.stopped_at IS NULL) "
        f"FROM {table(Order)} o "
        f"LEFT JOIN {table(Customer)} c ON c.id = o.customer_id AND c.merchant_id = o.merchant_id "
        f"LEFT JOIN {table(ProtectionSettings)} p ON p.merchant_id = o.merchant_id "
        "WHERE o.merchant_id = %s AND o.id = %s"
    )


@cache
def _lines_sql() -> str:
    return (
        f"SELECT {columns(OrderLine, 't')}, s.shipment_id, s.quantity "  # noqa: S608
        f"FROM {table(OrderLine)} t LEFT JOIN {table(ShipmentLine)} s "
        "ON s.order_line_id = t.id AND s.merchant_id = t.merchant_id "
        "WHERE t.merchant_id = %s AND t.order_id = %s ORDER BY t.position, t.id, s.id"
    )


@cache
def _shipments_sql() -> str:
    return (
        f"SELECT {columns(Shipment, 't')}, "  # noqa: S608
        f"EXISTS (SELECT 1 FROM {table(DelayIncident)} d WHERE d.merchant_id = t.merchant_id "
        "AND d.shipment_id = t.id AND d.resolved_at IS NULL) "
        f"FROM {table(Shipment)} t WHERE t.merchant_id = %s AND t.order_id = %s "
        "ORDER BY t.created_at, t.id"
    )


@cache
def _page_sql() -> str:
    """PostgreSQL: everything ``page_order`` reads, in one statement. The order's row (with its
    customer, the protection settings and the count of live subscriptions), then, as JSON
    arrays of rows: its lines (each with a parcel's share of it), its parcels (each with its
    open-delay flag), the chosen parcel's id and checkpoints, and the suggestions. Parameters:
    the merchant, the order, the parcel asked for (or ``NULL``)."""
    parcels = f"FROM {table(Shipment)} t WHERE t.merchant_id = o.merchant_id AND t.order_id = o.id"
    return (
        f"SELECT {columns(Order, 'o')}, {columns(Customer, 'c')}, "  # noqa: S608
        f"{columns(ProtectionSettings, 'p')}, "
        f"(SELECT COUNT(*) FROM {table(TrackingSubscription)} s "
        "WHERE s.merchant_id = o.merchant_id AND s.order_id = o.id AND s.stopped_at IS NULL), "
        # the lines, with each parcel's share (a line in two parcels comes twice)
        f"(SELECT json_agg(json_build_array({json_columns(OrderLine, 't')}, s.shipment_id, "
        "s.quantity) ORDER BY t.position, t.id, s.id) "
        f"FROM {table(OrderLine)} t LEFT JOIN {table(ShipmentLine)} s "
        "ON s.order_line_id = t.id AND s.merchant_id = t.merchant_id "
        "WHERE t.merchant_id = o.merchant_id AND t.order_id = o.id), "
        # the parcels, oldest first, each with whether it has an open delay
        f"(SELECT json_agg(json_build_array({json_columns(Shipment, 't')}, "
        f"EXISTS (SELECT 1 FROM {table(DelayIncident)} d WHERE d.merchant_id = t.merchant_id "
        "AND d.shipment_id = t.id AND d.resolved_at IS NULL)) ORDER BY t.created_at, t.id) "
        f"{parcels}), "
        "chosen.id, "
        # the chosen parcel's checkpoints, newest first
        f"(SELECT json_agg({json_columns(TrackingEvent, 't')} ORDER BY t.occurred_at DESC, "
        f"t.id DESC) FROM (SELECT * FROM {table(TrackingEvent)} e "
        "WHERE e.merchant_id = o.merchant_id AND e.shipment_id = chosen.id "
        f"ORDER BY e.occurred_at DESC, e.id DESC LIMIT {TIMELINE_LIMIT}) t), "
        # the products bought with this order's, not in it, most often first
        "(SELECT json_agg(json_build_array(x.id, x.title, x.url) ORDER BY x.n DESC, x.id) "
        f"FROM (SELECT r.id, r.title, r.url, SUM(pp.orders) AS n FROM {table(ProductPairing)} pp "
        f"JOIN {table(Product)} r ON r.id = pp.other_id AND r.merchant_id = pp.merchant_id "
        "WHERE pp.merchant_id = o.merchant_id AND pp.product_id = ANY(bought.ids) "
        "AND pp.other_id <> ALL(bought.ids) "
        "AND (r.url LIKE 'https://%%' OR r.url LIKE 'http://%%') "
        f"GROUP BY r.id, r.title, r.url ORDER BY n DESC, r.id LIMIT {SUGGESTIONS}) x) "
        f"FROM {table(Order)} o "
        f"LEFT JOIN {table(Customer)} c ON c.id = o.customer_id AND c.merchant_id = o.merchant_id "
        f"LEFT JOIN {table(ProtectionSettings)} p ON p.merchant_id = o.merchant_id "
        "LEFT JOIN LATERAL (SELECT COALESCE("
        f"(SELECT t.id {parcels} AND t.id = %s), "
        f"(SELECT t.id {parcels} ORDER BY t.created_at, t.id LIMIT 1)) AS id) chosen ON true "
        # the products in the order, once (the suggestions' "bought with" and "not in it")
        f"LEFT JOIN LATERAL (SELECT array_agg(b.product_id) AS ids FROM {table(OrderLine)} b "
        "WHERE b.merchant_id = o.merchant_id AND b.order_id = o.id AND b.product_id IS NOT NULL"
        ") bought ON true "
        "WHERE o.merchant_id = %s AND o.id = %s"
    )


def page_order(merchant, order_id: int, parcel: int | None = None) -> PageOrder | None:
    """The merchant's order ``order_id`` with what every view of the page shows, the parcel
    ``parcel`` chosen (the first parcel when it is not one of the order's), or ``None``."""
    if connection.vendor == "postgresql":
        found = fetch(_page_sql(), [parcel, merchant.pk, order_id])
    else:
        found = fetch(_order_sql(), [merchant.pk, order_id])
    if not found:
        return None
    [row] = found
    order = instance(Order, row)
    order.merchant = merchant
    at = width(Order)
    order.customer = instance(Customer, row, at) if row[at] is not None else None
    at += width(Customer)
    if row[at] is None:  # no row of settings: the defaults, protection off
        protection = ProtectionSettings(merchant=merchant)
    else:
        protection = instance(ProtectionSettings, row, at)
        protection.merchant = merchant
    at += width(ProtectionSettings)
    read = PageOrder(order, protection, subscribed=row[at] > 0)
    if connection.vendor == "postgresql":
        lines, parcels, chosen_id, events, suggested = row[at + 1 :]
        # each row is [the columns' array, the rest]: flat, as the SQLite rows are
        _lines_take(read, [[*r[0], *r[1:]] for r in lines or []], json_instance)
        _shipments_take(read, [[*r[0], *r[1:]] for r in parcels or []], json_instance)
        read.chosen = next((s for s in read.shipments if s.pk == chosen_id), None)
        read.events = [json_instance(TrackingEvent, values) for values in events or []]
        read.suggested = [Suggestion(*values) for values in suggested or []]
        return read
    _lines_take(read, fetch(_lines_sql(), [order.merchant_id, order.pk]), instance)
    _shipments_take(read, fetch(_shipments_sql(), [order.merchant_id, order.pk]), instance)
    read.chosen = next(
        (s for s in read.shipments if s.pk == parcel),
        read.shipments[0] if read.shipments else None,
    )
    read.events = timeline_events(read.chosen) if read.chosen is not None else []
    read.suggested = suggestions(merchant.pk, read.lines)
    return read


def _lines_take(read: PageOrder, rows, make) -> None:
    """The order's lines and, from the same rows, what each parcel holds of them."""
    order, seen = read.order, set()
    items = defaultdict(list)
    for row in rows:
        line_id, shipment_id, quantity = row[0], row[-2], row[-1]
        if line_id not in seen:
            seen.add(line_id)
            line = make(OrderLine, row)
            line.order = order
            read.lines.append(line)
        if shipment_id is not None:
            items[shipment_id].append((read.lines[-1].title, quantity))
    read.items = dict(items)


def _shipments_take(read: PageOrder, rows, make) -> None:
    """The order's parcels, oldest first, and which of them have an open delay."""
    order = read.order
    for row in rows:
        shipment = make(Shipment, row)
        shipment.order = order
        read.shipments.append(shipment)
        if row[-1]:
            read.delayed.add(shipment.pk)


def timeline_events(shipment: Shipment) -> list[TrackingEvent]:
    """The parcel's checkpoints, newest first, at most ``TIMELINE_LIMIT``."""
    return instances(
        TrackingEvent,
        f"FROM {table(TrackingEvent)} t WHERE t.merchant_id = %s AND t.shipment_id = %s "
        f"ORDER BY t.occurred_at DESC, t.id DESC LIMIT {TIMELINE_LIMIT}",
        [shipment.merchant_id, shipment.pk],
    )


def open_incidents(shipment: Shipment) -> list[DelayIncident]:
    """The parcel's open delays, latest first."""
    return instances(
        DelayIncident,
        f"FROM {table(DelayIncident)} t WHERE t.merchant_id = %s AND t.shipment_id = %s "
        f"AND t.resolved_at IS NULL ORDER BY t.since DESC, t.id DESC LIMIT {INCIDENTS_LIMIT}",
        [shipment.merchant_id, shipment.pk],
    )


def suggestions(merchant_id: int, lines: list[OrderLine]) -> list[Suggestion]:
    """Up to three products the merchant's other customers bought with this order's products
    (``ProductPairing``, computed from orders), most often first; none already in this order,
    each with a web address to go to."""
    bought = sorted({line.product_id for line in lines if line.product_id is not None})
    if not bought:
        return []
    marks = ", ".join(["%s"] * len(bought))
    rows = fetch(
        f"SELECT p.id, p.title, p.url FROM {table(ProductPairing)} pp "  # noqa: S608
        f"JOIN {table(Product)} p ON p.id = pp.other_id AND p.merchant_id = pp.merchant_id "
        f"WHERE pp.merchant_id = %s AND pp.product_id IN ({marks}) "
        f"AND pp.other_id NOT IN ({marks}) "
        "AND (p.url LIKE 'https://%%' OR p.url LIKE 'http://%%') "
        "GROUP BY p.id, p.title, p.url ORDER BY SUM(pp.orders) DESC, p.id "
        f"LIMIT {SUGGESTIONS}",
        [merchant_id, *bought, *bought],
    )
    return [Suggestion(*row) for row in rows]


def subscriptions(order: Order) -> list[TrackingSubscription]:
    """The order's live update subscriptions, oldest first."""
    return instances(
        TrackingSubscription,
        f"FROM {table(TrackingSubscription)} t WHERE t.merchant_id = %s AND t.order_id = %s "
        "AND t.stopped_at IS NULL ORDER BY t.id",
        [order.merchant_id, order.pk],
    )
