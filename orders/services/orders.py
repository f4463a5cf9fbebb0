"""Orders: every door runs the one engine (``orders.ingest.engine``). ``order_ingest`` is a batch
of one (the API's single POST, Shopify webhooks, the demo loader); ``order_bulk_ingest`` is up to
``BULK_MAX`` orders in a few statements, each item on its own."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from orders.errors import OrdersErrorCode
from orders.ingest.engine import ingest
from orders.ingest.results import BulkItemResult, IngestResult
from orders.schemas import OrderIn
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant

BULK_MAX = 1000


def order_ingest(
    *, merchant: Merchant, payload: OrderIn | dict, source: str = "api", now: datetime | None = None
) -> IngestResult:
    """Create or update an order (and its customer, products and lines) by its external id.

    Records ``order.placed`` once per order, ``order.updated`` when a later payload changes it,
    ``order.cancelled`` and ``order.fulfilled`` on those transitions. A payload whose
    ``updated_at`` is older than the one already applied is ignored (``stale``). A refused
    order raises its ``DomainError`` and writes nothing."""
    [item] = ingest(merchant, [payload], source=source, now=now or timezone.now(), contain=False)
    return item.as_ingest_result()


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
            OrdersErrorCode.INVALID, f"A request holds at most {BULK_MAX} orders.", field="orders"
        )
    return ingest(merchant, payloads, source=source, now=now or timezone.now(), contain=True)
