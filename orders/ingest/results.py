"""What an ingestion did, for one row (``IngestResult``) or one item of a batch
(``BulkItemResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orders.models import Order
from postpurchase.errors import DomainError

STATUSES = ("created", "updated", "unchanged", "stale", "failed")


@dataclass
class IngestResult:
    """What an upsert did: the row, whether it was new, whether it changed, the events recorded,
    and whether the payload was older than what we hold (and so ignored)."""

    instance: Any
    created: bool = False
    changed: bool = False
    stale: bool = False
    events: list[str] = field(default_factory=list)


@dataclass
class BulkItemResult:
    """What happened to one item of a batch: ``status`` is one of created, updated, unchanged,
    stale or failed; ``error`` names the field at fault when it failed."""

    index: int
    external_id: str | None
    status: str
    order: Order | None = None
    error: DomainError | None = None
    events: list[str] = field(default_factory=list)

    def as_ingest_result(self) -> IngestResult:
        """The per-order door's answer; a failed item raises its error."""
        if self.error is not None:
            raise self.error
        return IngestResult(
            instance=self.order,
            created=self.status == "created",
            changed=self.status in ("created", "updated"),
            stale=self.status == "stale",
            events=self.events,
        )
