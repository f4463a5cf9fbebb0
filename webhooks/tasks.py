"""Celery entry points for outbound webhooks. Thin: ids in, one service call.

They run on the ``integrations`` queue, which has its own workers: a slow merchant endpoint (up
to 25 s a request) must never hold up the engine's own queues (``events``, ``journeys``,
``messages``). Within it, one merchant holds at most ``WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT``
processes (``webhooks.concurrency``)."""

from __future__ import annotations

from celery import shared_task

from postpurchase.tenancy.scoping import merchant_task
from webhooks import purge, services


@merchant_task(acks_late=True, name="webhooks.tasks.webhook_delivery_send")
def webhook_delivery_send_task(*, delivery_id: int, claim: str, merchant_id: int) -> bool:
    return services.webhook_delivery_send(delivery_id=delivery_id, claim=claim) is not None


@shared_task(acks_late=True, name="webhooks.tasks.webhook_deliveries_sweep")
def webhook_deliveries_sweep_task() -> int:
    return len(services.webhook_deliveries_sweep())


@shared_task(acks_late=True, name="webhooks.tasks.webhook_deliveries_purge")
def webhook_deliveries_purge_task() -> int:
    return purge.webhook_deliveries_purge()
