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


@shared_task(acks_late=True, name="notifications.tasks.messages_due_sweep")
def messages_due_sweep_task() -> int:
    return len(delivery.messages_due_sweep())
