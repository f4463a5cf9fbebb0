"""The engine's replay: a batch of orders, read and locked in a few statements, then replayed
item after item in memory with the ingestion rules (``orders.ingest.rules``), so each item sees
what the items before it did, exactly as if they came one after the other. The writes it decides
are collected in a ``BatchWriter`` and made at the end.

A batch of one is the per-order door (``order_ingest``): the same reads, rules and writes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from orders.errors import OrdersErrorCode
from orders.ingest import db
from orders.ingest.events import order_events
from orders.ingest.figures import NO_ORDERS, customer_figures, orders_outside
from orders.ingest.results import BulkItemResult
from orders.ingest.rules import (
    ORDER_TRACKED_FIELDS,
    assign,
    contact_lock_key,
    customer_contacts,
    customer_values,
    fulfillment_from_quantities,
    fulfillment_raised,
    is_stale,
    keep_newer_consent,
    line_key,
    line_values,
    nested_products,
    order_values,
    product_price_check,
    product_values,
)
from orders.ingest.writes import (
    BatchWriter,
    PendingEvent,
    new_instance,
    product_snapshot,
    relate,
)
from orders.models import Customer, Order, OrderLine, Product
from orders.schemas import CustomerIn, OrderIn, ProductIn
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant

CONTACT_FIELDS = ("email", "phone")
ORDER_CUSTOMER = Order._meta.get_field("customer")
LINE_ORDER = OrderLine._meta.get_field("order")
LINE_PRODUCT = OrderLine._meta.get_field("product")


def _contacts(data: OrderIn) -> list[str]:
    """The contacts locked for this payload's customer: those of a shopper named without an
    external id."""
    named = data.customer
    if named is None or named.external_id:
        return []
    return customer_contacts(named)


class Batch:
    """One attempt at a batch: reads and locks, replays each item in memory, writes."""

    def __init__(
        self,
        merchant: Merchant,
        items: list[tuple[int, OrderIn]],
        source: str,
        now: datetime,
        *,
        lock_products: bool = False,
    ) -> None:
        self.merchant, self.items, self.source, self.now = merchant, items, source, now
        # A round after a contended one locks the products it reads, so they cannot change
        # between the read and the write (the first round reads them unlocked and checks them).
        self.lock_products = lock_products
        self.results: dict[int, BulkItemResult] = {}
        self.out = BatchWriter(merchant, now, products_locked=lock_products)
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
            if order is not None and is_stale(order, data):
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
        rows = db.fetch(
            Order, self.merchant, {"external_id": external_ids}, order_by="external_id", lock=True
        )
        self.orders: dict[str, Order] = {order.external_id: order for order in rows}

    def _lock_contacts(self, active: list[tuple[int, OrderIn]]) -> None:
        contacts = sorted(set().union(*(_contacts(data) for _, data in active)))
        db.lock_contacts([contact_lock_key(self.merchant, contact) for contact in contacts])

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
        wanted = {
            "id": list(ids),
            "external_id": list(external_ids),
            "email": list(emails - {""}),
            "phone": list(phones - {""}),
        }
        for customer in db.fetch(Customer, self.merchant, wanted, lock=True):
            self.customers[customer.pk] = customer
            self._index(customer)
        for order in held:
            if order is not None:
                self._join(order, self.customers.get(order.customer_id))
        self.outside = self._outside_orders([o.pk for o in held if o is not None])

    def _outside_orders(self, moving: list[int]) -> dict:
        """What each locked customer's orders outside the batch add up to. The customers are
        locked, so these orders cannot change under the batch."""
        return orders_outside(self.merchant, sorted(self.customers), moving)

    def _figure(self, customer: Customer) -> None:
        orders = (self.by_order_id[key] for key in self.members[id(customer)])
        outside = self.outside.get(customer.pk) or NO_ORDERS
        customer_figures(customer, outside, orders, self.merchant.currency)

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
        ids = db.allocate_ids(Customer, len(candidates))
        self.new_ids = dict(zip(candidates, ids, strict=True))
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
        for product in db.fetch(
            Product,
            self.merchant,
            {"external_id": sorted(external_ids)},
            order_by="external_id",
            lock=self.lock_products,
        ):
            self.products[product.external_id] = product
            self.out.snapshots[product.pk] = product_snapshot(product)

    def _load_lines(self, active: list[tuple[int, OrderIn]]) -> None:
        """The held orders' lines, and what their shipments carry of each line."""
        held = [self.orders[d.external_id] for _, d in active if d.external_id in self.orders]
        self.lines: dict[int, dict[str, OrderLine]] = defaultdict(dict)
        lines, self.shipped = db.order_lines(self.merchant, [order.pk for order in held])
        for line in lines:
            self.lines[line.order_id][line.external_id] = line

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
        """The oldest customer with the shopper's email, else with their phone."""
        for name, value in (("email", data.email.lower()), ("phone", data.phone)):
            found = value and self.contact_index[name].get(value)
            if found:
                return min(found, key=lambda c: c.pk)  # ids follow creation order
        return None

    def _upsert_customer(self, data: CustomerIn) -> Customer:
        """Create the shopper, or apply what the payload says of them (consent only when newer
        than the one held), on the batch's customers."""
        values = customer_values(data, self.now)
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
        keep_newer_consent(customer, values)
        before = (customer.email, customer.phone)
        if assign(customer, values):
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
        """Raise the first error the item has, before anything of it is applied (so a failed item
        leaves no trace): an unknown customer, a product price the currency cannot hold, an
        unknown product, a shipped line dropped."""
        wanted = data.customer_external_id
        if data.customer is None and wanted and wanted not in self.by_external_id:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"No customer has external_id {wanted!r}.",
                field="customer_external_id",
            )
        nested = nested_products(data)
        for external_id in sorted(nested):
            i, product_in = nested[external_id]
            product_price_check(
                product_in, self.merchant.currency, field_prefix=f"lines[{i}].product."
            )
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
            keys = {line_key(line.external_id, i) for i, line in enumerate(data.lines)}
            held = self.lines[order.pk]
            shipped = self.shipped[order.pk]
            dropped = sorted(
                key for key, line in held.items() if key not in keys and line.pk in shipped
            )
            if dropped:
                raise DomainError(
                    OrdersErrorCode.LINE_SHIPPED,
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
                **order_values(data, order=None, customer=customer, source=self.source),
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
            values = order_values(data, order=order, customer=customer, source=self.source)
            del values["customer"]
            assign(order, values)
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
        first = created and self._first_order(order, customer)
        for event in order_events(
            order=order,
            lines=lines,
            data=data,
            created=created,
            changed=changed,
            was=was,
            first_order=first,
            now=self.now,
        ):
            self.out.events.append(PendingEvent(index, customer, order, event))
        if changed and customer is not None:
            self.out.refresh[id(customer)] = customer
        if changed and was_customer is not None and was_customer is not customer:
            self.out.refresh[id(was_customer)] = was_customer

    def _derive_fulfillment(self, order: Order, lines: list[OrderLine]) -> None:
        """Raise a held order's fulfillment to what its shipments carry."""
        ordered = {line.pk: line.quantity for line in lines if line.pk is not None}
        ordered.update((id(line), line.quantity) for line in lines if line.pk is None)
        derived = fulfillment_from_quantities(ordered, self.shipped[order.pk])
        order.fulfillment_status = fulfillment_raised(order.fulfillment_status, derived)

    def _order_changed(self, order: Order, was: dict, was_customer: Customer | None) -> bool:
        if order.customer is not was_customer:
            return True
        tracked = (name for name in ORDER_TRACKED_FIELDS if name != "customer_id")
        return any(getattr(order, name) != was[name] for name in tracked)

    def _upsert_product(self, product_in: ProductIn) -> Product:
        """Create the product, or apply what the payload says of it (its price already
        checked), on the batch's products."""
        values = product_values(product_in)
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
        elif assign(product, values):
            product.updated_at = self.now
            if product.pk is not None:
                self.out.dirty_products[product.pk] = product
        return product

    def _sync_lines(self, order: Order, data: OrderIn, created: bool) -> tuple[list, bool]:
        """The order's lines as the payload states them: products first in external-id order
        (the lock order), then each line, then the held lines the payload left out go."""
        nested = nested_products(data)
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
            line = held.pop(line_key(line_in.external_id, position), None)
            if self._sync_line(order, line_in, position, product, line, kept):
                changed = True
        for line in held.values():
            self.out.removed_lines.append(line.pk)
            changed = True
        return kept, changed

    def _sync_line(self, order, line_in, position, product, line, kept) -> bool:
        values = line_values(line_in, position, product)
        if line is None:
            line = new_instance(
                OrderLine,
                merchant=self.merchant,
                external_id=line_key(line_in.external_id, position),
                **values,
            )
            self.out.new_lines.append(line)
            changed = True
        else:
            moved = line.product_id != (product.pk if product else None) or (
                product is not None and product.pk is None
            )
            changed = assign(line, values) or moved
            if changed:
                self.out.dirty_lines[line.pk] = line
        relate(line, LINE_PRODUCT, product)
        relate(line, LINE_ORDER, order)
        self.out.line_parents[id(line)] = (order, product)
        kept.append(line)
        return changed
