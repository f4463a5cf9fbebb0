"""The purge of old delivery logs: finished deliveries (with their attempts) are kept
``WEBHOOK_DELIVERIES_RETENTION_DAYS`` (30 by default; 0 keeps them for ever). A pending delivery
is never purged, whatever its age. The other logs' retention: docs/retention.md."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.models import FINISHED_STATUSES, WebhookAttempt, WebhookDelivery

PURGE_BATCH = 5000
PURGE_BUDGET = timedelta(minutes=2)  # well inside the task's soft time limit (240 s)


def webhook_deliveries_purge(
    *,
    now: datetime | None = None,
    batch_size: int = PURGE_BATCH,
    budget: timedelta = PURGE_BUDGET,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Delete finished deliveries (with their attempts) older than the retention, a batch
    at a time until one comes back short or ``budget`` is spent (the next run goes on); returns
    how many deliveries went."""
    days = settings.WEBHOOK_DELIVERIES_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    stop_at = clock() + budget.total_seconds()
    purged = 0
    while True:
        found, deleted = _deliveries_purge_batch(cutoff=cutoff, batch_size=batch_size)
        purged += deleted
        if found < batch_size or clock() >= stop_at:
            return purged


def _deliveries_purge_batch(*, cutoff: datetime, batch_size: int) -> tuple[int, int]:
    """One batch: ``(found, deleted)``. The query matches the ``webhook_delivery_finished``
    partial index, so each batch reads only what it deletes."""
    old = WebhookDelivery.unscoped.filter(created_at__lt=cutoff, status__in=FINISHED_STATUSES)
    ids = list(old.order_by("created_at", "pk").values_list("pk", flat=True)[:batch_size])
    if not ids:
        return 0, 0
    with transaction.atomic():
        WebhookAttempt.unscoped.filter(delivery_id__in=ids).delete()
        deleted = WebhookDelivery.unscoped.filter(pk__in=ids).delete()[1]
    return len(ids), deleted.get(WebhookDelivery._meta.label, 0)
