"""Products bought together, from each merchant's own orders: what the tracking page suggests.

``pairings_refresh`` recounts one merchant's pairs over the orders of the last
``PAIRING_WINDOW`` in one statement (distinct products per order, joined to themselves),
keeps each product's ``PAIRINGS_KEPT`` most frequent partners bought together in at least
``MIN_ORDERS`` orders (so one shopper's basket suggests nothing to the next), and replaces the
merchant's rows in one transaction: a page reading meanwhile sees the old set or the new one.
A daily beat entry (``tracking-pairings``) enqueues it for every active merchant, each in its
own task under a statement timeout, over baskets of at most ``MAX_BASKET`` products.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from orders.models import Order, OrderLine
from postpurchase.tenancy.models import Merchant
from tracking.models import ProductPairing

logger = logging.getLogger(__name__)

PAIRING_WINDOW = timedelta(days=365)
PAIRINGS_KEPT = 10
MIN_ORDERS = 2
# A basket of more distinct products than this is no shopper's (a wholesale or test order): it
# is left out, and it keeps the pairs an order yields (n² of them) bounded.
MAX_BASKET = 50
# One merchant's recount may take this long on PostgreSQL; then it is abandoned (its old pairs
# stay) and logged, and no other merchant's waits on it (each has its own task).
STATEMENT_TIMEOUT_MS = 60_000


def pairings_refresh(*, merchant: Merchant, now: datetime | None = None) -> int:
    """Recount the merchant's pairs; returns how many rows it keeps."""
    now = now or timezone.now()
    lines, orders = OrderLine._meta.db_table, Order._meta.db_table
    pairing = ProductPairing._meta.db_table
    # Table names come from the models; every value is a parameter.
    sql = f"""
        WITH lines AS (
            SELECT DISTINCT l.order_id, l.product_id
            FROM {lines} l JOIN {orders} o ON o.id = l.order_id
            WHERE l.merchant_id = %s AND o.merchant_id = %s AND l.product_id IS NOT NULL
              AND o.placed_at >= %s AND o.cancelled_at IS NULL
        ),
        bought AS (
            SELECT order_id, product_id FROM lines WHERE order_id IN (
                SELECT order_id FROM lines GROUP BY order_id HAVING COUNT(*) <= %s
            )
        ),
        pairs AS (
            SELECT a.product_id AS product_id, b.product_id AS other_id, COUNT(*) AS together
            FROM bought a
            JOIN bought b ON a.order_id = b.order_id AND a.product_id <> b.product_id
            GROUP BY a.product_id, b.product_id
            HAVING COUNT(*) >= %s
        ),
        ranked AS (
            SELECT product_id, other_id, together, ROW_NUMBER() OVER (
                PARTITION BY product_id ORDER BY together DESC, other_id
            ) AS place
            FROM pairs
        )
        INSERT INTO {pairing} (merchant_id, product_id, other_id, orders, computed_at)
        SELECT %s, product_id, other_id, together, %s FROM ranked WHERE place <= %s
    """  # noqa: S608
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL statement_timeout = {int(STATEMENT_TIMEOUT_MS)}")
        ProductPairing.unscoped.filter(merchant=merchant).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    merchant.pk,
                    merchant.pk,
                    now - PAIRING_WINDOW,
                    MAX_BASKET,
                    MIN_ORDERS,
                    merchant.pk,
                    now,
                    PAIRINGS_KEPT,
                ],
            )
        # (SQLite answers -1 for an INSERT … SELECT's row count: counted instead)
        return ProductPairing.unscoped.filter(merchant=merchant).count()


def pairings_refresh_all() -> int:
    """Enqueue each active merchant's recount as its own task (``tracking.tasks``), so one
    merchant's slow or failing recount holds up no other's. How many were enqueued."""
    from tracking.tasks import pairings_refresh_merchant_task

    merchants = list(Merchant.objects.filter(is_active=True).values_list("pk", flat=True))
    for merchant_id in merchants:
        pairings_refresh_merchant_task.delay(merchant_id=merchant_id)
    logger.info("product pairings recounts enqueued", extra={"merchants": len(merchants)})
    return len(merchants)


def demo_pairings(*, merchant: Merchant) -> str:
    """The demo merchant's bought-together pairs, counted from its seeded orders at once (the
    daily run would otherwise leave the demo's tracking pages without suggestions for a day).
    Registered with ``postpurchase.tenancy.lifecycle.demo_seed_handlers``."""
    kept = pairings_refresh(merchant=merchant)
    return f"Bought-together pairs: {kept} counted from the orders."
