"""Set-based order ingestion: many orders in a handful of statements, with ``order_ingest``'s
exact semantics for each of them.

``order_bulk_ingest`` validates each payload on its own, then replays the batch in memory, item
after item, exactly as ``order_ingest`` would run them one after the other (customers, products,
lines, staleness, events, derived figures), and writes the outcome with a few statements per
batch. An item that fails (validation, an unknown customer or product, a shipped line dropped)
is reported and writes nothing; the others go on.

Locks follow the one order every ingestion path uses: the batch's existing order rows (sorted by
external id), contact advisory locks (sorted by contact), customer rows by id, then the new
customers the batch may create by external id (claimed with a bare row before the replay, sorted
by external id), new orders (sorted by external id), products by external id (new and changed
ones in one statement). Ids are allocated in item order, so rows get them in the order
``order_ingest`` one by one would have created them.

Duplicate external ids in one request: among the items that pass validation, the first with a
given ``external_id`` is ingested; each later one fails with code ``duplicate`` on the field
``external_id`` and writes nothing.

A concurrent writer that creates a row this batch meant to create, or changes a product between
the read and the lock, sends the whole batch round again (nothing of the attempt is kept; after
``SET_ATTEMPTS`` rounds it goes one order at a time); a database error (a deadlock included)
falls back to ``order_ingest`` per item, each in its own transaction. On SQLite (the embedded
mode) every item goes through ``order_ingest``.

``order_ingest_one`` is ``order_ingest``'s contract on this engine, for the API's single POST.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from orders.bulk_replay import Batch
from orders.bulk_writes import BulkItemResult, Retry
from orders.schemas import OrderIn
from orders.services import IngestResult, _context, order_ingest
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope
from postpurchase.validation import parse_payload

logger = logging.getLogger(__name__)

BULK_MAX = 1000
SET_ATTEMPTS = 3  # rounds of the set-based path before falling back to one order at a time
STATUSES = ("created", "updated", "unchanged", "stale", "failed")
__all__ = ["BULK_MAX", "BulkItemResult", "order_bulk_ingest", "order_ingest_one"]


def order_bulk_ingest(
    *,
    merchant: Merchant,
    payloads: list[dict | OrderIn],
    source: str = "api",
    now: datetime | None = None,
) -> list[BulkItemResult]:
    """Create or update each order of ``payloads`` as ``order_ingest`` would, independently of
    the others, in a few statements per batch. Returns one result per payload, in order."""
    if len(payloads) > BULK_MAX:
        raise DomainError(
            ErrorCode.INVALID, f"A request holds at most {BULK_MAX} orders.", field="orders"
        )
    return _ingest(merchant, payloads, source, now or timezone.now(), contain=True)


def order_ingest_one(
    *, merchant: Merchant, payload: dict | OrderIn, source: str = "api", now: datetime | None = None
) -> IngestResult:
    """``order_ingest``'s contract (an ``IngestResult``; a ``DomainError`` when the order is
    refused) through the set-based engine: about a third of the statements, for the API's
    single ``POST``."""
    [item] = _ingest(merchant, [payload], source, now or timezone.now(), contain=False)
    if item.error is not None:
        raise item.error
    return IngestResult(
        instance=item.order,
        created=item.status == "created",
        changed=item.status in ("created", "updated"),
        stale=item.status == "stale",
        events=item.events,
    )


def _ingest(
    merchant: Merchant, payloads: list, source: str, now: datetime, *, contain: bool
) -> list[BulkItemResult]:
    results, items = _parse(merchant, payloads)
    if items and connection.vendor == "postgresql":
        done = _set_based(merchant, items, source, now)
        if done is not None:
            results.update(done)
            items = []
    for index, data in items:  # SQLite (embedded mode), or the database refused the batch
        results[index] = _one_by_one(merchant, index, data, source, now, contain=contain)
    return [results[index] for index in range(len(payloads))]


def _parse(
    merchant: Merchant, payloads: list[dict | OrderIn]
) -> tuple[dict[int, BulkItemResult], list[tuple[int, OrderIn]]]:
    results: dict[int, BulkItemResult] = {}
    items: list[tuple[int, OrderIn]] = []
    seen: set[str] = set()
    context = _context(merchant)
    for index, payload in enumerate(payloads):
        try:
            data = parse_payload(OrderIn, payload, context=context)
        except DomainError as error:
            raw = payload.get("external_id") if isinstance(payload, dict) else None
            external_id = raw if isinstance(raw, str) else None
            results[index] = BulkItemResult(index, external_id, "failed", error=error)
            continue
        if data.external_id in seen:
            error = DomainError(
                "duplicate",
                f"An earlier item of this request has external_id {data.external_id!r}.",
                field="external_id",
            )
            results[index] = BulkItemResult(index, data.external_id, "failed", error=error)
            continue
        seen.add(data.external_id)
        items.append((index, data))
    return results, items


def _set_based(
    merchant: Merchant, items: list[tuple[int, OrderIn]], source: str, now: datetime
) -> dict[int, BulkItemResult] | None:
    for _ in range(SET_ATTEMPTS):
        try:
            with transaction.atomic(), merchant_scope(merchant):
                return Batch(merchant, items, source, now).run()
        except Retry:
            # A concurrent writer created a row first: everything is read again.
            logger.info("A bulk batch of %s orders went round again", len(items))
            continue
        except DatabaseError:
            logger.warning("Bulk ingest fell back to one order at a time", exc_info=True)
            return None
    return None


def _one_by_one(
    merchant: Merchant, index: int, data: OrderIn, source: str, now: datetime, *, contain: bool
) -> BulkItemResult:
    try:
        result = order_ingest(merchant=merchant, payload=data, source=source, now=now)
    except DomainError as error:
        return BulkItemResult(index, data.external_id, "failed", error=error)
    except DatabaseError as exc:
        if not contain:
            raise
        logger.exception("Order %r could not be stored", data.external_id)
        error = DomainError("store_failed", f"The order could not be stored: {exc}".strip())
        return BulkItemResult(index, data.external_id, "failed", error=error)
    status = (
        "stale"
        if result.stale
        else "created"
        if result.created
        else "updated"
        if result.changed
        else "unchanged"
    )
    return BulkItemResult(index, data.external_id, status, result.instance, events=result.events)
