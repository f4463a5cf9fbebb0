"""A deactivated merchant's messages: what was still to go is cancelled, with the reason.

Registered with ``postpurchase.tenancy.lifecycle`` (``NotificationsConfig.ready``) and run by
``merchant_deactivate`` inside its transaction. A message a worker is sending at that moment
(``sending``, its lease still running) is left to that worker: the hand-off checks the merchant
again before each send (``delivery.messages_deliver``) and cancels it the same way.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from notifications.delivery import DEACTIVATED, DEACTIVATED_DETAIL, events_insert
from notifications.models import Message, MessageStatus
from postpurchase.tenancy.models import Merchant


def messages_due_cancel(
    *, merchant: Merchant, among: Q, reason: str, detail: str, now: datetime
) -> list[int]:
    """Cancel the merchant's messages ``among`` those due a send: queued, deferred, and those
    whose sending worker was lost (their lease is over); one a worker is sending right now is
    left to it. Each gets a timeline entry. Returns their ids. (A customer's erasure cancels
    theirs the same way: ``notifications.privacy``.)"""
    due = Q(status__in=[MessageStatus.QUEUED, MessageStatus.DEFERRED]) | Q(
        status=MessageStatus.SENDING, next_attempt_at__lte=now
    )
    ids = list(
        Message.unscoped.select_for_update()
        .filter(due, among, merchant=merchant)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return []
    Message.unscoped.filter(pk__in=ids).update(
        status=MessageStatus.CANCELLED,
        reason=reason,
        detail=detail,
        deferred_until=None,
        next_attempt_at=None,
        claim="",
        updated_at=now,
    )
    events_insert((merchant.pk, pk, MessageStatus.CANCELLED, reason, detail, now) for pk in ids)
    return ids


def merchant_messages_cancel(*, merchant: Merchant, now: datetime) -> int:
    """Cancel the merchant's messages due a send. Returns how many."""
    cancelled = messages_due_cancel(
        merchant=merchant, among=Q(), reason=DEACTIVATED, detail=DEACTIVATED_DETAIL, now=now
    )
    return len(cancelled)
