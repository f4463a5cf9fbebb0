"""Celery entry points for messages, on the ``messages`` queue. Thin: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from notifications import delivery
from postpurchase.tenancy.scoping import current_merchant, merchant_task


@merchant_task(acks_late=True, name="notifications.tasks.messages_deliver")
def messages_deliver_task(*, message_ids: list[int], claim: str, merchant_id: int) -> int:
    handled = delivery.messages_deliver(
        merchant=current_merchant(), message_ids=message_ids, claim=claim
    )
    return len(handled)


@merchant_task(acks_late=True, name="notifications.tasks.messages_deliver_pending")
def messages_deliver_pending_task(*, merchant_id: int, flag: str = "") -> int:
    """A run of whatever the merchant has claimed and waiting (``messages_deliver_pending``):
    what a message written alone enqueues, so that under load they batch themselves."""
    return len(delivery.messages_deliver_pending(merchant=current_merchant(), flag=flag))


@shared_task(acks_late=True, name="notifications.tasks.messages_due_sweep")
def messages_due_sweep_task() -> int:
    return len(delivery.messages_due_sweep())
