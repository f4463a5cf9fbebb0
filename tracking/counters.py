"""The tracking page's counters: views of each shipment's page and views and clicks of the
products it suggests, per UTC day. One upsert statement each (``INSERT … ON CONFLICT DO
UPDATE``, on PostgreSQL and SQLite alike), so two shoppers opening the same page at once both
count; a page view sends both in one round trip on PostgreSQL (prepared statements,
``postpurchase.rows``)."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from postpurchase import rows
from tracking.models import ShipmentPageViews, SuggestionStats


def page_view_count(
    *, merchant_id: int, shipment_id: int | None, product_ids: list[int], now: datetime
) -> None:
    """A view of the page: its parcel's count and its suggestions' views, in one transaction
    that does not wait for its commit to reach the disk (``synchronous_commit off`` on
    PostgreSQL: a crash may lose the last moment's counts, never corrupt them; each view then
    costs no disk flush). On PostgreSQL the whole is one round trip: the setting and both
    upserts in one query string, which the server runs as one transaction."""
    statements = []
    if shipment_id is not None:
        statements.append(_shipment_view_sql(merchant_id, shipment_id, now))
    if product_ids:
        statements.append(_suggestions_sql(merchant_id, product_ids, now, clicked=False))
    if not statements:
        return
    if connection.vendor == "postgresql":
        prepared = [rows.statement(sql, params) for sql, params in statements]
        sql = "; ".join(["SET LOCAL synchronous_commit TO OFF", *(q for q, _ in prepared)])
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for _, params in prepared for value in params])
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)


def _shipment_view_sql(merchant_id: int, shipment_id: int, now: datetime) -> tuple[str, list]:
    table = ShipmentPageViews._meta.db_table
    return (
        f"INSERT INTO {table} (merchant_id, shipment_id, day, views, last_viewed_at) "  # noqa: S608
        "VALUES (%s, %s, %s, 1, %s) "
        "ON CONFLICT (merchant_id, shipment_id, day) DO UPDATE "
        f"SET views = {table}.views + 1, last_viewed_at = excluded.last_viewed_at",
        [merchant_id, shipment_id, now.date(), now],
    )


def _suggestions_sql(
    merchant_id: int, product_ids: list[int], now: datetime, *, clicked: bool
) -> tuple[str, list]:
    table = SuggestionStats._meta.db_table
    column = "clicks" if clicked else "views"
    params: list = []
    for product_id in sorted(set(product_ids)):  # one order for every writer: no deadlock
        params += [merchant_id, product_id, now.date(), 0 if clicked else 1, 1 if clicked else 0]
    rows = ", ".join(["(%s, %s, %s, %s, %s)"] * (len(params) // 5))
    return (
        f"INSERT INTO {table} (merchant_id, product_id, day, views, clicks) VALUES {rows} "  # noqa: S608
        "ON CONFLICT (merchant_id, product_id, day) DO UPDATE "
        f"SET {column} = {table}.{column} + 1",
        params,
    )


def suggestions_count(
    *, merchant_id: int, product_ids: list[int], now: datetime, clicked: bool = False
) -> None:
    """One more view (or click, ``clicked``) of each of ``product_ids`` today."""
    if not product_ids:
        return
    sql, params = _suggestions_sql(merchant_id, product_ids, now, clicked=clicked)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
