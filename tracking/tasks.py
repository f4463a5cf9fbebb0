"""Celery entry points of the tracking app, on the ``default`` queue: the delay scan (beat entry
``tracking-delays``, hourly; the scan is ``tracking.delays``), the bought-together recount
(``tracking-pairings``, daily) and the page counters' flush (``tracking-counts``, every
``TRACKING_COUNTS_FLUSH_SECONDS``; ``tracking.counters``). Thin."""

from __future__ import annotations

from celery import shared_task

from postpurchase.tenancy.scoping import current_merchant, merchant_task
from tracking.delays import delays_scan


@shared_task(acks_late=True, name="tracking.tasks.delays_scan")
def delays_scan_task() -> dict[str, int]:
    return delays_scan().counts


@shared_task(name="tracking.tasks.counts_flush")
def counts_flush_task() -> dict[str, int] | None:
    from tracking.counters import flush

    return flush()


@shared_task(acks_late=True, name="tracking.tasks.pairings_refresh")
def pairings_refresh_task() -> int:
    from tracking.pairings import pairings_refresh_all

    return pairings_refresh_all()


@merchant_task(acks_late=True, name="tracking.tasks.pairings_refresh_merchant")
def pairings_refresh_merchant_task(*, merchant_id: int) -> int:
    from tracking.pairings import pairings_refresh

    return pairings_refresh(merchant=current_merchant())
