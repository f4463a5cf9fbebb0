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


def merchant_messages_cancel(*, merchant: Merchant, now: datetime) -> int:
    """Cancel the merchant's messages due a send: queued, deferred, and those whose sending
    worker was lost (their lease is over). Each gets a timeline entry. Returns how many."""
    due = Q(status__in=[MessageStatus.QUEUED, MessageStatus.DEFERRED]) | Q(
        status=MessageStatus.SENDING, next_attempt_at__lte=now
    )
    ids = list(
        Message.unscoped.select_for_update()
        .filter(due, merchant=merchant)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    Message.unscoped.filter(pk__in=ids).update(
        status=MessageStatus.CANCELLED,
        reason=DEACTIVATED,
        detail=DEACTIVATED_DETAIL,
        deferred_until=None,
        next_attempt_at=None,
        claim="",
        updated_at=now,
    )
    events_insert(
        (merchant.pk, pk, MessageStatus.CANCELLED, DEACTIVATED, DEACTIVATED_DETAIL, now)
        for pk in ids
    )
    return len(ids)
