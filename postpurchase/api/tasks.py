"""Periodic upkeep of the API's stored responses."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from postpurchase.api.idempotency import idempotency_purge


@shared_task(name="postpurchase.api.tasks.idempotency_purge")
def idempotency_purge_task() -> int:
    return idempotency_purge(now=timezone.now())
