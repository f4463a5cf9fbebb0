"""The one order ingestion engine, and every door's way into it.

``ingest`` validates each payload on its own, then runs the valid ones as one batch
(``orders.ingest.replay.Batch``): read and locked in a few statements, replayed item after item
in memory with the ingestion rules, written in a few statements. An item that fails
(validation, an unknown customer or product, a shipped line dropped) is reported and writes
nothing; the others go on. One order (the API's single POST, a Shopify webhook, the demo
loader) is a batch of one; SQLite (the embedded mode) runs the same engine
(``orders.ingest.db`` spells its statements).

Locks follow the one order every ingestion path uses: the batch's existing order rows (sorted by
external id), contact advisory locks (sorted by contact), customer rows by id, then the new
customers the batch may create by external id (claimed with a bare row before the replay, sorted
by external id), products by external id (new and changed ones in one statement at the write; in
a round after a contended one, every product the batch names, locked as it is read), new orders
(sorted by external id). Ids are allocated in item order, so rows get them in the order the
items would have created them one after the other.

Duplicate external ids in one request: among the items that pass validation, the first with a
given ``external_id`` is ingested; each later one fails with code ``duplicate`` on the field
``external_id`` and writes nothing.

A concurrent writer that creates a row this batch meant to create, or changes a product between
the read and the lock, sends the whole batch round again (nothing of the attempt is kept); the
rounds after the first lock the products as they read them, so a product renamed over and over
by other writers cannot keep a batch going round. When the database refuses a batch (a deadlock,
a value a column cannot hold) or it is still contended after ``SET_ATTEMPTS`` rounds, each of its
items runs again as a batch of one, each in its own transaction, so one bad order does not cost
the others.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError, transaction

from orders.errors import OrdersErrorCode
from orders.ingest.replay import Batch
from orders.ingest.results import BulkItemResult
from orders.ingest.rules import ingest_context
from orders.ingest.writes import Retry
from orders.schemas import OrderIn
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope
from postpurchase.validation import parse_payload

logger = logging.getLogger(__name__)

SET_ATTEMPTS = 3  # rounds of a contended batch before its items go alone


class Contended(DatabaseError):
    """Concurrent writers took a row this batch meant to create in every round."""


def ingest(
    merchant: Merchant, payloads: list, *, source: str, now: datetime, contain: bool
) -> list[BulkItemResult]:
    """One result per payload, in order. ``contain``: a database error on an item alone is
    that item's ``store_failed`` (a batch); else it is raised (the per-order door)."""
    results, items = _parse(merchant, payloads)
    if len(items) == 1:
        results[items[0][0]] = _alone(merchant, items[0], source, now, contain=contain)
    elif items:
        try:
            results.update(_batch(merchant, items, source, now))
        except DatabaseError:
            logger.warning("A batch of %s orders went one at a time", len(items), exc_info=True)
            for item in items:
                results[item[0]] = _alone(merchant, item, source, now, contain=contain)
    return [results[index] for index in range(len(payloads))]


def _parse(
    merchant: Merchant, payloads: list[dict | OrderIn]
) -> tuple[dict[int, BulkItemResult], list[tuple[int, OrderIn]]]:
    results: dict[int, BulkItemResult] = {}
    items: list[tuple[int, OrderIn]] = []
    seen: set[str] = set()
    context = ingest_context(merchant)
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
                OrdersErrorCode.DUPLICATE,
                f"An earlier item of this request has external_id {data.external_id!r}.",
                field="external_id",
            )
            results[index] = BulkItemResult(index, data.external_id, "failed", error=error)
            continue
        seen.add(data.external_id)
        items.append((index, data))
    return results, items


def _batch(
    merchant: Merchant, items: list[tuple[int, OrderIn]], source: str, now: datetime
) -> dict[int, BulkItemResult]:
    """The items as one batch in its own transaction (a savepoint inside the caller's), sent
    round again while concurrent writers take the rows it meant to create."""
    for attempt in range(SET_ATTEMPTS):
        try:
            with transaction.atomic(), merchant_scope(merchant):
                return Batch(merchant, items, source, now, lock_products=attempt > 0).run()
        except Retry:
            # A concurrent writer created a row first: everything is read again.
            logger.info("A batch of %s orders went round again", len(items))
    raise Contended(f"A batch of {len(items)} orders was contended in {SET_ATTEMPTS} rounds")


def _alone(
    merchant: Merchant, item: tuple[int, OrderIn], source: str, now: datetime, *, contain: bool
) -> BulkItemResult:
    index, data = item
    try:
        return _batch(merchant, [item], source, now)[index]
    except DatabaseError as exc:
        if not contain:
            raise
        logger.exception("Order %r could not be stored", data.external_id)
        error = DomainError(
            OrdersErrorCode.STORE_FAILED, f"The order could not be stored: {exc}".strip()
        )
        return BulkItemResult(index, data.external_id, "failed", error=error)
