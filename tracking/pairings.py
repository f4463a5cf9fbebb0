"""Products bought together, from each merchant's own orders: what the tracking page suggests.

``pairings_refresh`` recounts one merchant's pairs over the orders of the last
``PAIRING_WINDOW`` in one statement (distinct products per order, joined to themselves),
keeps each product's ``PAIRINGS_KEPT`` most frequent partners bought together in at least
``MIN_ORDERS`` orders (so one shopper's basket suggests nothing to the next), and replaces the
merchant's rows in one transaction: a page reading meanwhile sees the old set or the new one.
A daily beat entry (``tracking-pairings``) runs it for every active merchant.
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


def pairings_refresh(*, merchant: Merchant, now: datetime | None = None) -> int:
    """Recount the merchant's pairs; returns how many rows it keeps."""
    now = now or timezone.now()
    lines, orders = OrderLine._meta.db_table, Order._meta.db_table
    pairing = ProductPairing._meta.db_table
    # Table names come from the models; every value is a parameter.
    sql = f"""
        WITH bought AS (
            SELECT DISTINCT l.order_id, l.product_id
            FROM {lines} l JOIN {orders} o ON o.id = l.order_id
            WHERE l.merchant_id = %s AND o.merchant_id = %s AND l.product_id IS NOT NULL
              AND o.placed_at >= %s AND o.cancelled_at IS NULL
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
        ProductPairing.unscoped.filter(merchant=merchant).delete()
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    merchant.pk,
                    merchant.pk,
                    now - PAIRING_WINDOW,
                    MIN_ORDERS,
                    merchant.pk,
                    now,
                    PAIRINGS_KEPT,
                ],
            )
        # (SQLite answers -1 for an INSERT … SELECT's row count: counted instead)
        return ProductPairing.unscoped.filter(merchant=merchant).count()


def pairings_refresh_all(*, now: datetime | None = None) -> dict[str, int]:
    """Every active merchant's pairs, one merchant per transaction."""
    merchants = rows = 0
    for merchant in Merchant.objects.filter(is_active=True).order_by("pk").iterator():
        rows += pairings_refresh(merchant=merchant, now=now)
        merchants += 1
    logger.info("product pairings refreshed", extra={"merchants": merchants, "rows": rows})
    return {"merchants": merchants, "rows": rows}


def demo_pairings(*, merchant: Merchant) -> str:
    """The demo merchant's bought-together pairs, counted from its seeded orders at once (the
    daily run would otherwise leave the demo's tracking pages without suggestions for a day).
    Registered with ``postpurchase.tenancy.lifecycle.demo_seed_handlers``."""
    kept = pairings_refresh(merchant=merchant)
    return f"Bought-together pairs: {kept} counted from the orders."
