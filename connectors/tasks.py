"""Celery entry points for inbound webhooks. Thin: load by id, call a service. Both run on the
``integrations`` queue (postpurchase/celery.py), beside outbound webhooks and apart from the
engine's queues."""

from __future__ import annotations

from celery import shared_task

from connectors import processing
from postpurchase.tenancy.scoping import current_merchant, merchant_task


@merchant_task(acks_late=True, name="connectors.tasks.inbound_delivery_process")
def inbound_delivery_process_task(*, delivery_id: int, merchant_id: int) -> str:
    return processing.inbound_delivery_process(merchant=current_merchant(), delivery_id=delivery_id)


@shared_task(acks_late=True, name="connectors.tasks.inbound_delivery_sweep")
def inbound_delivery_sweep() -> int:
    return len(processing.inbound_delivery_sweep())
