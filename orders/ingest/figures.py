"""A customer's derived order figures: how many live orders, the first and last placed, and the
money spent in the merchant's currency. Cancelled orders do not count.

Computed once, here, from two parts: what the customer's orders outside the batch add up to
(read before the replay, with the customer's row locked, so they cannot move meanwhile: every
path that moves, cancels or prices an order locks its customers first), and the batch's own
orders as the replay leaves them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from orders.ingest import db
from orders.models import Customer, Order

SPENT_SCALE = Decimal("0.001")  # Customer.total_spent's decimal places


class OutsideOrders(NamedTuple):
    first_any: datetime | None  # cancelled or not: for ``first_order``
    count: int
    first: datetime | None
    last: datetime | None
    spent: Decimal


NO_ORDERS = OutsideOrders(None, 0, None, None, Decimal(0))


def orders_outside(
    merchant, customer_ids: list[int], moving: list[int]
) -> dict[int, OutsideOrders]:
    """What each customer's orders other than ``moving`` add up to, by customer id (customers
    without such orders are left out)."""
    rows = db.orders_outside(merchant, customer_ids, moving)
    return {row[0]: OutsideOrders(*row[1:]) for row in rows}


def customer_figures(
    customer: Customer, outside: OutsideOrders, orders: Iterable[Order], currency: str
) -> None:
    """Set the customer's figures from its orders outside the batch and ``orders``, its
    orders in the batch (money to the column's scale, as the database would give it back)."""
    count, first, last, spent = outside.count, outside.first, outside.last, outside.spent
    for order in orders:
        if order.cancelled_at is not None:
            continue
        count += 1
        first = order.placed_at if first is None else min(first, order.placed_at)
        last = order.placed_at if last is None else max(last, order.placed_at)
        if order.currency == currency:
            spent += order.total
    customer.orders_count, customer.first_order_at = count, first
    customer.last_order_at, customer.total_spent = last, Decimal(spent).quantize(SPENT_SCALE)
