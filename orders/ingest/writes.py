"""The engine's write half: a batch's new and changed rows, in a few statements.

Every statement names the merchant. Inserts that a concurrent writer may win (customers by
external id, orders, products) skip a row whose unique key is taken (``ON CONFLICT … DO
NOTHING``) and raise ``Retry`` when one was, so the batch is read again from what that writer
committed. ``orders.ingest.db`` spells each statement for the database in use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import router
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from orders.ingest import db
from orders.ingest.events import OrderEvent
from orders.ingest.rules import ORDER_TRACKED_FIELDS
from orders.models import Customer, Order, OrderLine, Product
from postpurchase.events.services import EventSpec, event_record, event_record_many
from postpurchase.tenancy.models import Merchant

CUSTOMER_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "timezone",
    "locale",
    "birthday",
    "tags",
    "email_marketing_consent",
    "email_consent_updated_at",
    "email_consent_source",
    "sms_marketing_consent",
    "sms_consent_updated_at",
    "sms_consent_source",
    "updated_at",
)
FIGURE_FIELDS = ("orders_count", "first_order_at", "last_order_at", "total_spent")
PRODUCT_FIELDS = ("sku", "title", "category", "price", "image_url", "url", "updated_at")
# The columns an existing order's update writes: the fields whose change is an ``order.updated``
# (the customer by its relation; ``source`` is set when the order is created, never after), and
# the two timestamps.
ORDER_FIELDS = (
    *(
        "customer" if name == "customer_id" else name
        for name in ORDER_TRACKED_FIELDS
        if name != "source"
    ),
    "source_updated_at",
    "updated_at",
)
CUSTOMER_KEY = "(merchant_id, external_id) WHERE external_id IS NOT NULL"
LINE_FIELDS = ("product", "title", "sku", "quantity", "unit_price", "discount", "position")


class Retry(Exception):
    """A concurrent writer created or changed a row this batch relied on: run the batch again."""


@dataclass
class PendingEvent:
    """An event an item records, written once its order and customer have ids."""

    index: int
    customer: Customer | None
    order: Order
    event: OrderEvent


@functools.cache
def _blank(model) -> tuple[dict[str, Any], list[tuple[str, Any]], dict[str, Any], set[str]]:
    """What ``Model.__init__`` gives a field left out: static defaults, default factories (a
    fresh ``dict`` or ``list`` per instance), and the model's relations by name and ``pk``."""
    static: dict[str, Any] = {}
    factories: list[tuple[str, Any]] = []
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            factories.append((f.attname, f.default))
        else:
            static[f.attname] = f.get_default()
    relations = {f.name: f for f in model._meta.concrete_fields if f.is_relation}
    relations["pk"] = model._meta.pk
    known = {f.name for f in model._meta.concrete_fields} | {"pk"}
    return static, factories, relations, known


def new_instance(model, **values):
    """``model(**values)``, without ``Model.__init__``'s work per field (descriptors, keyword
    checks), which was the engine's largest cost in Python: the same attributes and related-
    object caches (tested equal). Values are by field name, relations by object, or ``pk``."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model(**values)
    static, factories, relations, known = _blank(model)
    unknown = values.keys() - known
    if unknown:
        raise TypeError(f"{model.__name__} has no field {sorted(unknown)[0]!r}")
    obj = model.__new__(model)
    obj._state = ModelState()
    attributes = obj.__dict__
    attributes.update(static)
    for attname, factory in factories:
        if attname not in values:  # ``created_at`` and the like are usually given
            attributes[attname] = factory()
    for name, value in values.items():
        field = relations.get(name)
        if field is None:
            attributes[name] = value
        elif name == "pk":
            attributes[field.attname] = value
        else:
            relate(obj, field, value)
    return obj


def relate(obj, field, value) -> None:
    """``obj.<field> = value`` for a forward relation, without the descriptor's type and
    ``allow_relation`` checks (the engine relates only its own instances, on one database)."""
    obj.__dict__[field.attname] = value.pk if value is not None else None
    obj._state.fields_cache[field.name] = value
    if value is not None:  # as the descriptor does, which the model constructor goes through
        if obj._state.db is None:
            obj._state.db = router.db_for_write(type(obj), instance=value)
        if value._state.db is None:
            value._state.db = router.db_for_write(type(value), instance=obj)


def product_snapshot(product: Product) -> tuple:
    return tuple(getattr(product, name) for name in PRODUCT_FIELDS)


class BatchWriter:
    """What the replay of a batch decided to write, and the statements that write it."""

    def __init__(self, merchant: Merchant, now: datetime, *, products_locked: bool) -> None:
        self.merchant, self.now = merchant, now
        self.products_locked = products_locked  # the products read were locked when read
        self.new_customers: list[Customer] = []  # their ids allocated before the replay
        self.claimed: set[int] = set()
        self.dirty_customers: dict[int, Customer] = {}
        self.new_orders: list[Order] = []
        self.dirty_orders: dict[int, Order] = {}
        self.new_products: list[Product] = []
        self.dirty_products: dict[int, Product] = {}
        self.snapshots: dict[int, tuple] = {}  # product pk → its fields as first read
        self.new_lines: list[OrderLine] = []
        self.dirty_lines: dict[int, OrderLine] = {}
        self.removed_lines: list[int] = []
        self.line_parents: dict[int, tuple[Order, Product | None]] = {}  # id(line) → parents
        self.events: list[PendingEvent] = []
        self.refresh: dict[int, Customer] = {}  # id(customer) → customer; figures set by the replay

    def write(self) -> dict[int, list[str]]:
        """Write everything in the lock order; returns the event types recorded, by item."""
        self._write_customers()
        for order in [*self.new_orders, *self.dirty_orders.values()]:
            order.customer_id = order.customer.pk if order.customer is not None else None
        # The new rows' ids in one statement (a batch of one is mostly round trips).
        self.ids = db.allocate_many(
            {
                Order: len(self.new_orders),
                Product: len(self.new_products),
                OrderLine: len(self.new_lines),
            }
        )
        self._write_products()
        self._insert_new(Order, self.new_orders, "(merchant_id, external_id)")
        self._write_lines()
        db.update(Order, self.merchant, self.dirty_orders.values(), ORDER_FIELDS)
        return self._record_events()

    def claim_customers(self, claims: list[tuple[str, int]]) -> None:
        """Insert a bare row for each customer the batch may create by external id (ids already
        allocated), in external-id order, before the replay: the batch waits here, not halfway,
        for a concurrent writer creating the same customer. One that won raises ``Retry``."""
        rows = [
            new_instance(
                Customer,
                merchant=self.merchant,
                pk=pk,
                external_id=external_id,
                created_at=self.now,
                updated_at=self.now,
            )
            for external_id, pk in claims
        ]
        inserted = db.insert(Customer, rows, conflict=CUSTOMER_KEY)
        if len(inserted) != len(rows):
            raise Retry
        self.claimed = {pk for _, pk in claims}

    def _write_customers(self) -> None:
        """The claimed rows get their values and figures (or go, when no item created them);
        shoppers known only by contact are inserted whole; existing customers that an item
        changed are updated, and those whose figures alone moved get just their figures: every
        row written once."""
        new = {c.pk for c in self.new_customers}
        claimed = [c for c in self.new_customers if c.pk in self.claimed]
        unused = self.claimed - {c.pk for c in claimed}
        if unused:
            Customer.unscoped.filter(merchant=self.merchant, pk__in=unused).delete()
        unclaimed = [c for c in self.new_customers if c.pk not in self.claimed]
        if unclaimed:
            db.insert(Customer, unclaimed)
        changed = {c.pk: c for c in claimed}
        changed.update((c.pk, c) for c in self.dirty_customers.values())
        db.update(Customer, self.merchant, changed.values(), CUSTOMER_FIELDS + FIGURE_FIELDS)
        # Only their figures moved: the rest is written as it was, not read back and rewritten.
        figures_only = [c for c in self.refresh.values() if c.pk not in new and c.pk not in changed]
        db.update(Customer, self.merchant, figures_only, FIGURE_FIELDS)
        for customer in claimed:
            customer._state.adding, customer._state.db = False, "default"

    def _insert_new(self, model, objs: list, conflict: str) -> None:
        if not objs:
            return
        for obj, pk in zip(objs, self.ids[model], strict=True):
            obj.pk = pk
        if len(db.insert(model, objs, conflict=conflict)) != len(objs):
            raise Retry

    def _write_products(self) -> None:
        """Insert the new products and lock the changed ones in one statement, in external-id
        order (the lock order); then check the changed ones still hold what was read."""
        changed = list(self.dirty_products.values())
        if not (self.new_products or changed):
            return
        if self.new_products:
            ids = self.ids[Product]
            for product, pk in zip(self.new_products, ids, strict=True):
                product.pk = pk
        inserted = db.insert(
            Product,
            [*self.new_products, *changed],
            conflict="(merchant_id, external_id)",
            lock_conflicting=True,
        )
        if inserted != {product.pk for product in self.new_products}:
            raise Retry
        if changed and not self.products_locked:
            held = db.fetch(Product, self.merchant, {"id": list(self.dirty_products)})
            if any(product_snapshot(p) != self.snapshots[p.pk] for p in held):
                raise Retry
        if changed:
            db.update(Product, self.merchant, changed, PRODUCT_FIELDS)

    def _write_lines(self) -> None:
        for line in [*self.new_lines, *self.dirty_lines.values()]:
            order, product = self.line_parents[id(line)]
            line.order_id, line.product_id = order.pk, product.pk if product else None
        if self.removed_lines:
            OrderLine.unscoped.filter(merchant=self.merchant, pk__in=self.removed_lines).delete()
        db.update(OrderLine, self.merchant, self.dirty_lines.values(), LINE_FIELDS)
        if self.new_lines:
            ids = self.ids[OrderLine]
            for line, pk in zip(self.new_lines, ids, strict=True):
                line.pk = pk
            db.insert(OrderLine, self.new_lines)

    def _record_events(self) -> dict[int, list[str]]:
        specs = []
        for pending in self.events:
            event = pending.event
            event.payload["order_id"] = pending.order.pk
            specs.append(
                EventSpec(
                    type=event.type,
                    customer_id=pending.customer.pk if pending.customer else None,
                    payload=event.payload,
                    occurred_at=event.occurred_at,
                    dedupe_key=event.dedupe_key,
                    source=pending.order.source,
                )
            )
        if db.locks_rows():
            ids = event_record_many(merchant=self.merchant, events=specs, now=self.now)
        else:  # SQLite: the portable one-row insert, as many times
            ids = [
                self._record_one(p.customer, spec)
                for p, spec in zip(self.events, specs, strict=True)
            ]
        recorded: dict[int, list[str]] = {}
        for pending, pk in zip(self.events, ids, strict=True):
            if pk is not None:
                recorded.setdefault(pending.index, []).append(pending.event.type)
        return recorded

    def _record_one(self, customer: Customer | None, spec: EventSpec) -> int | None:
        event, created = event_record(
            merchant=self.merchant,
            type=spec.type,
            customer=customer,
            payload=spec.payload,
            occurred_at=spec.occurred_at,
            dedupe_key=spec.dedupe_key,
            source=spec.source,
            now=self.now,
        )
        return event.pk if created else None
