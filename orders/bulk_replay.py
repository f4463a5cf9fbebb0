"""The read-and-replay half of ``orders.bulk``.

A ``Batch`` locks and reads everything its items may touch in a few statements, then replays the
items one after the other in memory with ``order_ingest``'s rules (the same helpers where they
are pure), so each item sees what the items before it did, as it would sequentially. The writes
it decides are collected in a ``BatchWriter`` and made at the end.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection

from orders.bulk_writes import (
    BatchWriter,
    BulkItemResult,
    PendingEvent,
    allocate_ids,
    fetch,
    new_instance,
    product_snapshot,
    relate,
)
from orders.models import Customer, FulfillmentStatus, Order, OrderLine, Product
from orders.schemas import CustomerIn, OrderIn, ProductIn
from orders.services import (
    FULFILLMENT_RANK,
    ORDER_TRACKED_FIELDS,
    _assign,
    _customer_values,
    _is_stale,
    _keep_newer_consent,
    _order_event_payload,
    _order_values,
    contact_lock_key,
)
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import check_money

CONTACT_FIELDS = ("email", "phone")
SPENT_SCALE = Decimal("0.001")  # Customer.total_spent's decimal places
ORDER_CUSTOMER = Order._meta.get_field("customer")
LINE_ORDER = OrderLine._meta.get_field("order")
LINE_PRODUCT = OrderLine._meta.get_field("product")


def _contacts(data: OrderIn) -> set[str]:
    """The contacts ``order_ingest`` locks for this payload's customer."""
    named = data.customer
    if named is None or named.external_id:
        return set()
    return {named.email.lower(), named.phone} - {""}


def _nested_products(data: OrderIn) -> dict[str, tuple[int, ProductIn]]:
    """The products the lines carry, by external id (the last line naming one wins)."""
    return {
        line.product.external_id: (i, line.product)
        for i, line in enumerate(data.lines)
        if line.product is not None
    }


class OutsideOrders(NamedTuple):
    first_any: datetime | None
    count: int
    first: datetime | None
    last: datetime | None
    spent: Decimal


NO_ORDERS = OutsideOrders(None, 0, None, None, Decimal(0))


class Batch:
    """One attempt at a batch: reads and locks, replays each item in memory, writes."""

    def __init__(
        self, merchant: Merchant, items: list[tuple[int, OrderIn]], source: str, now: datetime
    ) -> None:
        self.merchant, self.items, self.source, self.now = merchant, items, source, now
        self.results: dict[int, BulkItemResult] = {}
        self.out = BatchWriter(merchant, now)
        self.contact_index: dict[str, dict[str, list[Customer]]] = {
            name: defaultdict(list) for name in CONTACT_FIELDS
        }
        self.members: dict[int, set[int]] = defaultdict(set)  # id(customer) → id(order)
        self.member_of: dict[int, int] = {}  # id(order) → id(customer)
        self.by_order_id: dict[int, Order] = {}
        self.new_ids: dict[str | int, int] = {}  # ids for the customers items may create
        self.item = -1  # the index of the item being replayed

    def run(self) -> dict[int, BulkItemResult]:
        self._lock_orders()
        active = []
        for index, data in self.items:
            order = self.orders.get(data.external_id)
            if order is not None and _is_stale(order, data):
                self.results[index] = BulkItemResult(index, data.external_id, "stale", order)
            else:
                active.append((index, data))
        self._lock_contacts(active)
        self._load_customers(active)
        self._claim_customers(active)
        self._load_products(active)
        self._load_lines(active)
        for index, data in active:
            try:
                self._check(data)
            except DomainError as error:
                self.results[index] = BulkItemResult(index, data.external_id, "failed", error=error)
                continue
            self._apply(index, data)
        for customer in self.out.refresh.values():
            self._figure(customer)
        recorded = self.out.write()
        for index, result in self.results.items():
            result.events = recorded.get(index, [])
        return self.results

    # --- reads and locks, in the lock order ---------------------------------------------------

    def _lock_orders(self) -> None:
        external_ids = [data.external_id for _, data in self.items]
        rows = fetch(
            Order,
            self.merchant,
            "external_id = ANY(%s)",
            [external_ids],
            order_by="external_id",
            lock=True,
        )
        self.orders: dict[str, Order] = {order.external_id: order for order in rows}

    def _lock_contacts(self, active: list[tuple[int, OrderIn]]) -> None:
        contacts = sorted(set().union(*(_contacts(data) for _, data in active)))
        if contacts:
            keys = [contact_lock_key(self.merchant, contact) for contact in contacts]
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [keys]
                )

    def _load_customers(self, active: list[tuple[int, OrderIn]]) -> None:
        """Lock, by id, every customer the batch may touch: the orders' current customers and
        the ones named by external id, email or phone."""
        held = [self.orders.get(data.external_id) for _, data in active]
        ids = {order.customer_id for order in held if order is not None} - {None}
        external_ids, emails, phones = set(), set(), set()
        for _, data in active:
            named = data.customer
            if data.customer_external_id or (named is not None and named.external_id):
                external_ids.add(data.customer_external_id or named.external_id)
            elif named is not None:
                emails.add(named.email.lower())
                phones.add(named.phone)
        self.customers: dict[int, Customer] = {}
        self.by_external_id: dict[str, Customer] = {}
        if ids or external_ids or emails or phones:
            rows = fetch(
                Customer,
                self.merchant,
                "id = ANY(%s) OR external_id = ANY(%s) OR email = ANY(%s) OR phone = ANY(%s)",
                [list(ids), list(external_ids), list(emails - {""}), list(phones - {""})],
                lock=True,
            )
            for customer in rows:
                self.customers[customer.pk] = customer
                self._index(customer)
        for order in held:
            if order is not None:
                self._join(order, self.customers.get(order.customer_id))
        self.outside = self._outside_orders([o.pk for o in held if o is not None])

    def _outside_orders(self, moving: list[int]) -> dict[int, OutsideOrders]:
        """What each locked customer's orders outside the batch add up to: the first placed
        (cancelled or not, for ``first_order``), and the figures of the live ones. One lookup
        on the orders' customer index per customer: a plan that holds even before the tables
        have statistics (the customers are this merchant's). The customers are locked, so
        these orders cannot change under the batch: every path that moves, cancels or prices
        an order locks its customers first."""
        if not self.customers:
            return {}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.id, s.first_any, s.n, s.first, s.last, s.spent "
                "FROM orders_customer AS c CROSS JOIN LATERAL ("
                " SELECT min(o.placed_at) AS first_any,"
                " count(*) FILTER (WHERE o.cancelled_at IS NULL) AS n,"
                " min(o.placed_at) FILTER (WHERE o.cancelled_at IS NULL) AS first,"
                " max(o.placed_at) FILTER (WHERE o.cancelled_at IS NULL) AS last,"
                " coalesce(sum(o.total) FILTER (WHERE o.cancelled_at IS NULL"
                " AND o.currency = %s), 0) AS spent"
                " FROM orders_order AS o"
                " WHERE o.customer_id = c.id AND o.id <> ALL(%s::bigint[])) AS s "
                "WHERE c.merchant_id = %s AND c.id = ANY(%s) AND s.first_any IS NOT NULL",
                [self.merchant.currency, moving, self.merchant.pk, sorted(self.customers)],
            )
            return {row[0]: OutsideOrders(*row[1:]) for row in cursor.fetchall()}

    def _figure(self, customer: Customer) -> None:
        """The customer's derived figures, as ``customer_stats_refresh`` computes them from the
        orders once written: live (not cancelled) orders counted, first and last placed, money
        in the merchant's currency summed (to the column's scale, as read back)."""
        outside = self.outside.get(customer.pk) or NO_ORDERS
        count, first, last, spent = outside.count, outside.first, outside.last, outside.spent
        for key in self.members[id(customer)]:
            order = self.by_order_id[key]
            if order.cancelled_at is not None:
                continue
            count += 1
            first = order.placed_at if first is None else min(first, order.placed_at)
            last = order.placed_at if last is None else max(last, order.placed_at)
            if order.currency == self.merchant.currency:
                spent += order.total
        customer.orders_count, customer.first_order_at = count, first
        customer.last_order_at, customer.total_spent = last, spent.quantize(SPENT_SCALE)

    def _claim_customers(self, active: list[tuple[int, OrderIn]]) -> None:
        """Allocate, in item order, an id for every customer an item may create (so ids follow
        creation order, as one by one), and claim the ones with an external id."""
        candidates: list[str | int] = []  # an external id, or the index of a contact-only item
        for index, data in active:
            named = data.customer
            if named is None:
                continue
            key = named.external_id or index
            if key not in self.by_external_id and key not in candidates:
                candidates.append(key)
        if not candidates:
            return
        self.new_ids = dict(zip(candidates, allocate_ids(Customer, len(candidates)), strict=True))
        claims = sorted((key, pk) for key, pk in self.new_ids.items() if isinstance(key, str))
        if claims:
            self.out.claim_customers(claims)

    def _load_products(self, active: list[tuple[int, OrderIn]]) -> None:
        external_ids = set()
        for _, data in active:
            for line in data.lines:
                external_ids.add(line.product.external_id if line.product else None)
                external_ids.add(line.product_external_id)
        external_ids.discard(None)
        self.products: dict[str, Product] = {}
        if external_ids:
            for product in fetch(
                Product, self.merchant, "external_id = ANY(%s)", [sorted(external_ids)]
            ):
                self.products[product.external_id] = product
                self.out.snapshots[product.pk] = product_snapshot(product)

    def _load_lines(self, active: list[tuple[int, OrderIn]]) -> None:
        """The held orders' lines, and what their shipments carry of each line."""
        held = [self.orders[d.external_id] for _, d in active if d.external_id in self.orders]
        self.lines: dict[int, dict[str, OrderLine]] = defaultdict(dict)
        self.shipped: dict[int, dict[int, int]] = defaultdict(dict)
        if not held:
            return
        order_ids = [order.pk for order in held]
        for line in fetch(OrderLine, self.merchant, "order_id = ANY(%s)", [order_ids]):
            self.lines[line.order_id][line.external_id] = line
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT s.order_id, sl.order_line_id, sum(sl.quantity) "
                "FROM orders_shipmentline AS sl JOIN orders_shipment AS s ON s.id = sl.shipment_id "
                "WHERE sl.merchant_id = %s AND s.order_id = ANY(%s) GROUP BY 1, 2",
                [self.merchant.pk, order_ids],
            )
            for order_id, line_id, quantity in cursor.fetchall():
                self.shipped[order_id][line_id] = quantity

    # --- customers in memory ------------------------------------------------------------------

    def _index(self, customer: Customer) -> None:
        for name in CONTACT_FIELDS:
            self.contact_index[name][getattr(customer, name)].append(customer)
        if customer.external_id:
            self.by_external_id[customer.external_id] = customer

    def _reindex(self, customer: Customer, before: tuple[str, str]) -> None:
        for name, old in zip(CONTACT_FIELDS, before, strict=True):
            new = getattr(customer, name)
            if new != old:
                self.contact_index[name][old].remove(customer)
                self.contact_index[name][new].append(customer)

    def _by_contact(self, data: CustomerIn) -> Customer | None:
        """As ``services._by_contact``: the oldest customer with the email, else the phone."""
        for name, value in (("email", data.email.lower()), ("phone", data.phone)):
            found = value and self.contact_index[name].get(value)
            if found:
                return min(found, key=lambda c: c.pk)  # ids follow creation order
        return None

    def _upsert_customer(self, data: CustomerIn) -> Customer:
        """As ``services._customer_upsert``, on the batch's customers."""
        values = _customer_values(data, self.now)
        if data.external_id:
            customer = self.by_external_id.get(data.external_id)
            values_new = {"external_id": data.external_id, **values}
        else:
            customer = self._by_contact(data)
            values_new = values
        if customer is None:
            customer = new_instance(
                Customer,
                merchant=self.merchant,
                pk=self.new_ids[data.external_id or self.item],
                created_at=self.now,
                updated_at=self.now,
                **values_new,
            )
            self.out.new_customers.append(customer)
            self._index(customer)
            return customer
        _keep_newer_consent(customer, values)
        before = (customer.email, customer.phone)
        if _assign(customer, values):
            customer.updated_at = self.now
            self._reindex(customer, before)
            if not customer._state.adding:  # a new one is written whole at the end
                self.out.dirty_customers[customer.pk] = customer
        return customer

    def _join(self, order: Order, customer: Customer | None) -> None:
        """Record ``order`` among ``customer``'s batch orders (and out of any other's)."""
        self.by_order_id[id(order)] = order
        previous = self.member_of.pop(id(order), None)
        if previous is not None:
            self.members[previous].discard(id(order))
        if customer is not None:
            self.members[id(customer)].add(id(order))
            self.member_of[id(order)] = id(customer)

    def _first_order(self, order: Order, customer: Customer | None) -> bool:
        if customer is None:
            return False
        outside = self.outside.get(customer.pk) if customer.pk else None
        if outside is not None and outside.first_any < order.placed_at:
            return False
        return not any(
            self.by_order_id[other].placed_at < order.placed_at
            for other in self.members[id(customer)]
        )

    # --- one item ---------------------------------------------------------------------------

    def _check(self, data: OrderIn) -> None:
        """Raise the first error ``order_ingest`` would raise for this item, before anything of
        it is applied (so a failed item leaves no trace), in the order it would find them."""
        wanted = data.customer_external_id
        if data.customer is None and wanted and wanted not in self.by_external_id:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"No customer has external_id {wanted!r}.",
                field="customer_external_id",
            )
        nested = _nested_products(data)
        for external_id in sorted(nested):
            i, product_in = nested[external_id]
            if product_in.price is not None:
                try:
                    check_money(product_in.price, self.merchant.currency)
                except ValueError as exc:
                    name = f"lines[{i}].product.price"
                    raise DomainError(ErrorCode.INVALID, f"{name}: {exc}", field=name) from None
        for position, line in enumerate(data.lines):
            wanted = line.product_external_id
            known = wanted in self.products or wanted in nested
            if line.product is None and wanted and not known:
                raise DomainError(
                    ErrorCode.NOT_FOUND,
                    f"No product has external_id {wanted!r}.",
                    field=f"lines[{position}].product_external_id",
                )
        order = self.orders.get(data.external_id)
        if order is not None:
            keys = {line.external_id or f"#{i + 1}" for i, line in enumerate(data.lines)}
            held = self.lines[order.pk]
            shipped = self.shipped[order.pk]
            dropped = sorted(
                key for key, line in held.items() if key not in keys and line.pk in shipped
            )
            if dropped:
                raise DomainError(
                    ErrorCode.CONFLICT,
                    f"Line {dropped[0]!r} has been shipped, so it cannot be removed from the "
                    "order.",
                    field="lines",
                )

    def _resolve_customer(self, data: OrderIn) -> Customer | None:
        if data.customer is not None:
            return self._upsert_customer(data.customer)
        if data.customer_external_id:
            return self.by_external_id[data.customer_external_id]
        return None

    def _apply(self, index: int, data: OrderIn) -> None:
        self.item = index
        order = self.orders.get(data.external_id)
        created = order is None
        if created:
            customer = self._resolve_customer(data)
            order = new_instance(
                Order,
                merchant=self.merchant,
                external_id=data.external_id,
                created_at=self.now,
                updated_at=self.now,
                **_order_values(data, order=None, customer=customer, source=self.source),
            )
            self.orders[data.external_id] = order
            self.out.new_orders.append(order)
            was, was_customer = {}, None
        else:
            was = {name: getattr(order, name) for name in ORDER_TRACKED_FIELDS}
            was["source_updated_at"] = order.source_updated_at
            was_customer = self.customers.get(order.customer_id)
            named = data.customer is not None or data.customer_external_id is not None
            customer = self._resolve_customer(data) if named else was_customer
            values = _order_values(data, order=order, customer=customer, source=self.source)
            del values["customer"]
            _assign(order, values)
        relate(order, ORDER_CUSTOMER, customer)
        self._join(order, customer)
        lines, lines_changed = self._sync_lines(order, data, created)
        # The order as it will be, lines and all, so the API can answer without reading it back.
        order._prefetched_objects_cache = {"lines": lines}
        if not created:
            self._derive_fulfillment(order, lines)
        changed = created or lines_changed or self._order_changed(order, was, was_customer)
        if changed and not created:
            order.updated_at = self.now
        if not created and (changed or order.source_updated_at != was["source_updated_at"]):
            self.out.dirty_orders[id(order)] = order
        status = "created" if created else "updated" if changed else "unchanged"
        self.results[index] = BulkItemResult(index, data.external_id, status, order)
        self._events(index, data, order, lines, customer, created, changed, was)
        if changed and customer is not None:
            self.out.refresh[id(customer)] = customer
        if changed and was_customer is not None and was_customer is not customer:
            self.out.refresh[id(was_customer)] = was_customer

    def _derive_fulfillment(self, order: Order, lines: list[OrderLine]) -> None:
        """Raise a held order's fulfillment to what its shipments carry, as ``order_ingest``
        does with ``services._derived_fulfillment`` (never lowering what the store said)."""
        shipped = self.shipped[order.pk]
        if not shipped:
            return
        complete = all(shipped.get(line.pk, 0) >= line.quantity for line in lines)
        derived = FulfillmentStatus.FULFILLED if complete else FulfillmentStatus.PARTIALLY_FULFILLED
        if FULFILLMENT_RANK[derived] > FULFILLMENT_RANK[order.fulfillment_status]:
            order.fulfillment_status = derived

    def _order_changed(self, order: Order, was: dict, was_customer: Customer | None) -> bool:
        if order.customer is not was_customer:
            return True
        tracked = (name for name in ORDER_TRACKED_FIELDS if name != "customer_id")
        return any(getattr(order, name) != was[name] for name in tracked)

    def _upsert_product(self, product_in: ProductIn) -> Product:
        """As ``services._product_upsert`` (its price already checked), on the batch's products."""
        values = product_in.model_dump(exclude={"external_id"}, exclude_unset=True)
        product = self.products.get(product_in.external_id)
        if product is None:
            product = new_instance(
                Product,
                merchant=self.merchant,
                external_id=product_in.external_id,
                created_at=self.now,
                updated_at=self.now,
                **values,
            )
            self.products[product.external_id] = product
            self.out.new_products.append(product)
        elif _assign(product, values):
            product.updated_at = self.now
            if product.pk is not None:
                self.out.dirty_products[product.pk] = product
        return product

    def _sync_lines(self, order: Order, data: OrderIn, created: bool) -> tuple[list, bool]:
        """As ``services._sync_lines``: products first in external-id order, then each line."""
        nested = _nested_products(data)
        upserted = {ext: self._upsert_product(nested[ext][1]) for ext in sorted(nested)}
        held = dict(self.lines[order.pk]) if not created else {}
        kept: list[OrderLine] = []
        changed = False
        for position, line_in in enumerate(data.lines):
            if line_in.product is not None:
                product = upserted[line_in.product.external_id]
            elif line_in.product_external_id:
                product = self.products[line_in.product_external_id]
            else:
                product = None
            line = held.pop(line_in.external_id or f"#{position + 1}", None)
            if self._sync_line(order, line_in, position, product, line, kept):
                changed = True
        for line in held.values():
            self.out.removed_lines.append(line.pk)
            changed = True
        return kept, changed

    def _sync_line(self, order, line_in, position, product, line, kept) -> bool:
        values = {
            "title": line_in.title or (product.title if product else ""),
            "sku": line_in.sku or (product.sku if product else ""),
            "quantity": line_in.quantity,
            "unit_price": line_in.unit_price,
            "discount": line_in.discount,
            "position": position,
        }
        if line is None:
            line = new_instance(
                OrderLine,
                merchant=self.merchant,
                external_id=line_in.external_id or f"#{position + 1}",
                **values,
            )
            self.out.new_lines.append(line)
            changed = True
        else:
            moved = line.product_id != (product.pk if product else None) or (
                product is not None and product.pk is None
            )
            changed = _assign(line, values) or moved
            if changed:
                self.out.dirty_lines[line.pk] = line
        relate(line, LINE_PRODUCT, product)
        relate(line, LINE_ORDER, order)
        self.out.line_parents[id(line)] = (order, product)
        kept.append(line)
        return changed

    def _events(self, index, data, order, lines, customer, created, changed, was) -> None:
        """The events ``order_ingest`` records, with the payload as of this item."""
        payload = _order_event_payload(order, lines)
        now = self.now

        def record(event_type, occurred_at, dedupe_key, body=None):
            self.out.events.append(
                PendingEvent(
                    index,
                    event_type,
                    customer,
                    body or payload,
                    occurred_at,
                    dedupe_key,
                    order.source,
                    order,
                )
            )

        if created:
            payload["first_order"] = self._first_order(order, customer)
            record("order.placed", order.placed_at, f"order.placed:{order.external_id}")
        elif changed:
            record("order.updated", data.updated_at or now, None)
        if order.cancelled_at and (created or was["cancelled_at"] is None):
            body = {**payload, "reason": order.cancel_reason}
            record(
                "order.cancelled", order.cancelled_at, f"order.cancelled:{order.external_id}", body
            )
        if order.fulfillment_status == FulfillmentStatus.FULFILLED and (
            created or was["fulfillment_status"] != FulfillmentStatus.FULFILLED
        ):
            record(
                "order.fulfilled", data.updated_at or now, f"order.fulfilled:{order.external_id}"
            )
