"""The notifications app's part of an erasure or export (``orders.privacy``, registered in
``NotificationsConfig.ready``): the messages we sent a customer, their timelines, and their
preference-centre topics.

Erased: each message's recipient, subject, preheader and bodies as rendered (email and SMS),
the provider's words about it (a bounce quoting the address) on the message and its timeline,
and the customer's muted topics. A message still waiting to go (queued, deferred, or its
sending worker lost) is cancelled first: it would go to nobody. Kept: that a message of a kind
was sent on a channel at a time, with its status (the merchant's counts and caps).

Also kept, on purpose: the suppression list. An address that bounced, complained, replied STOP
or unsubscribed stays on it, so the platform never writes to it again if it comes back (an
erasure must not undo an opt-out). Inbound texts (``InboundSms``) keep no number at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F, Q
from django.db.models.functions import Lower

from notifications.deactivation import messages_due_cancel
from notifications.models import (
    ContactPreference,
    Message,
    MessageEvent,
    Suppression,
)
from orders.privacy import PrivacyTarget
from postpurchase.tenancy.models import Merchant

ERASED = "customer_erased"
ERASED_DETAIL = "Cancelled: the customer's personal data was erased."
CONTENT = ("to", "subject", "preheader", "html", "text", "sms")


def _messages(target: PrivacyTarget):
    """The customer's messages, and those sent to their addresses under no customer (a test
    send, an explicit recipient)."""
    about = Q(customer_id__in=target.customer_ids)
    if target.addresses:
        about |= Q(customer__isnull=True) & Q(
            Q(to__in=target.phones) | Q(to_lower__in=target.emails)
        )
    return Message.objects.annotate(to_lower=Lower("to")).filter(about)


def _details_scrub(ids: list[int], target: PrivacyTarget) -> set[int]:
    """The provider's words on each message and its timeline that quote the person (a bounce
    naming the address). Returns the ids of the messages concerned."""
    changed: set[int] = set()
    for rows in (
        Message.objects.filter(pk__in=ids).annotate(message_ref=F("pk")),
        MessageEvent.objects.filter(message_id__in=ids).annotate(message_ref=F("message_id")),
    ):
        quoting = [
            row
            for row in rows.exclude(detail="").only("id", "detail")
            if target.mentions(row.detail)
        ]
        for row in quoting:
            row.detail = target.scrub_text(row.detail)
            changed.add(row.message_ref)
        if quoting:
            rows.model.objects.bulk_update(quoting, ["detail"])
    return changed


def messages_erase(*, merchant: Merchant, target: PrivacyTarget, now: datetime) -> dict[str, int]:
    """The notifications part's eraser: how many messages changed, and how many customers'
    topic choices went."""
    ids = list(_messages(target).order_by("pk").values_list("pk", flat=True))
    changed = set(
        messages_due_cancel(
            merchant=merchant, among=Q(pk__in=ids), reason=ERASED, detail=ERASED_DETAIL, now=now
        )
    )
    holding = Q()
    for field in CONTENT:
        holding |= ~Q(**{field: ""})
    blanked = set(Message.objects.filter(pk__in=ids).filter(holding).values_list("pk", flat=True))
    Message.objects.filter(pk__in=blanked).update(**dict.fromkeys(CONTENT, ""), updated_at=now)
    changed |= blanked | _details_scrub(ids, target)
    preferences = ContactPreference.objects.filter(customer_id__in=target.customer_ids).delete()
    return {"messages": len(changed), "preferences": preferences[0]}


def messages_export(*, merchant: Merchant, target: PrivacyTarget) -> dict[str, Any]:
    """The messages we sent them (as rendered), the topics they muted, and the suppressions
    of their addresses."""
    messages = _messages(target).order_by("created_at", "id")
    muted = ContactPreference.objects.filter(customer_id__in=target.customer_ids)
    suppressions = Suppression.objects.filter(address__in=target.addresses).order_by(
        "created_at", "id"
    )
    return {
        "messages": [
            {
                "channel": m.channel,
                "category": m.category,
                "kind": m.kind,
                "to": m.to,
                "subject": m.subject,
                "text": m.text,
                "sms": m.sms,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            }
            for m in messages
        ],
        "muted_topics": sorted({kind for p in muted for kind in p.muted_kinds or []}),
        "suppressions": [
            {
                "channel": s.channel,
                "address": s.address,
                "reason": s.reason,
                "created_at": s.created_at.isoformat(),
            }
            for s in suppressions
        ],
    }
