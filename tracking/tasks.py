"""Celery entry point of the delay scan (beat entry ``tracking-delays``, hourly, ``default``
queue). Thin: the scan is ``tracking.delays``."""

from __future__ import annotations

from celery import shared_task

from postpurchase.tenancy.scoping import current_merchant, merchant_task
from tracking.delays import delays_scan


@shared_task(acks_late=True, name="tracking.tasks.delays_scan")
def delays_scan_task() -> dict[str, int]:
    return delays_scan().counts


@shared_task(acks_late=True, name="tracking.tasks.pairings_refresh")
def pairings_refresh_task() -> int:
    from tracking.pairings import pairings_refresh_all

    return pairings_refresh_all()


@merchant_task(acks_late=True, name="tracking.tasks.pairings_refresh_merchant")
def pairings_refresh_merchant_task(*, merchant_id: int) -> int:
    from tracking.pairings import pairings_refresh

    return pairings_refresh(merchant=current_merchant())
