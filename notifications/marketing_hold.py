"""Marketing email waits for the merchant's postal address.

The law (CAN-SPAM in the US, and its like elsewhere) asks for the sender's postal address in
every marketing email; the branded frame prints the merchant's. While it is empty, a marketing
email is *held*: written, deferred with the reason ``held_no_postal_address`` and no time to
go (``next_attempt_at`` empty, so the due sweep passes it by), shown so in the message log and
the dashboard. Nothing is lost: once the merchant sets the address, the next due sweep makes
every held message due, and it goes out like any deferred message, its consent, suppression
and topic checked again at the send. Transactional email and SMS are never held.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction

from notifications.models import (
    Category,
    Channel,
    Message,
    MessageEvent,
    MessageStatus,
    SendingPolicy,
)
from notifications.quiet_hours import next_opening
from postpurchase.tenancy.models import Merchant

HELD = "held_no_postal_address"
HELD_DETAIL = (
    "Held: marketing email needs your store's postal address (the law asks for it in every "
    "marketing email). It goes out once you set the address in Settings, Brand."
)
RELEASED_DETAIL = (
    "The store's postal address is set: the held message goes out (within your sending hours)."
)
BLANK = r"^\s*$"


def needs_address(merchant: Merchant) -> bool:
    return not (merchant.postal_address or "").strip()


def is_held(*, merchant: Merchant, channel: str, category: str) -> bool:
    """Whether a message of this channel and category would be held for this merchant now."""
    return channel == Channel.EMAIL and category == Category.MARKETING and needs_address(merchant)


def held_count(merchant: Merchant) -> int:
    """How many of the merchant's messages wait for its postal address."""
    return Message.unscoped.filter(
        merchant=merchant,
        status=MessageStatus.DEFERRED,
        reason=HELD,
        next_attempt_at__isnull=True,
    ).count()


def held_messages_release(*, now: datetime) -> int:
    """Make due every held message whose merchant has a postal address now; returns how many.
    Each goes at once, or at the next opening of the merchant's sending hours in its shopper's
    zone where they apply to email, as it would have when written; and gets a timeline entry
    saying why it goes."""
    from notifications.outbox import sending_policy, shopper_zone  # the outbox imports us

    with transaction.atomic():
        released = list(
            Message.unscoped.select_for_update(skip_locked=True, of=("self",))
            .filter(status=MessageStatus.DEFERRED, reason=HELD, next_attempt_at__isnull=True)
            .exclude(merchant__postal_address__regex=BLANK)
            .select_related("merchant", "customer")
        )
        if not released:
            return 0
        policies: dict[int, SendingPolicy] = {}
        by_due: dict[datetime, list[int]] = defaultdict(list)
        for message in released:
            merchant = message.merchant
            if merchant.pk not in policies:
                policies[merchant.pk] = sending_policy(merchant)
            policy = policies[merchant.pk]
            zone = shopper_zone(message.customer, merchant)
            opening = None
            if policy.quiet_hours_for_email:
                opening = next_opening(now, zone, policy.send_from, policy.send_until)
            by_due[opening or now].append(message.pk)
        for due, pks in by_due.items():
            Message.unscoped.filter(pk__in=pks).update(
                next_attempt_at=due,
                deferred_until=due if due > now else None,
                detail=RELEASED_DETAIL,
                updated_at=now,
            )
        MessageEvent.unscoped.bulk_create(
            MessageEvent(
                merchant_id=message.merchant_id,
                message_id=message.pk,
                status=MessageStatus.DEFERRED,
                reason="released",
                detail=RELEASED_DETAIL,
                occurred_at=now,
            )
            for message in released
        )
    return len(released)
