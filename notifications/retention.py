"""Messages' retention (docs/retention.md): kept ``MESSAGES_RETENTION_DAYS`` from their creation,
never while queued, deferred or sending; a message's timeline (``MessageEvent``) goes with it."""

from __future__ import annotations

from django.db.models import Q

from notifications.models import Message, MessageStatus
from postpurchase.retention.registry import LogPolicy, logs

IN_FLIGHT_STATUSES = [MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING]


def _message_settled() -> Q:
    return ~Q(status__in=IN_FLIGHT_STATUSES)


def logs_register() -> None:
    logs.register(
        LogPolicy(
            name="messages",
            model=Message,
            dated_by="created_at",
            setting="MESSAGES_RETENTION_DAYS",
            removable=_message_settled,
        )
    )
