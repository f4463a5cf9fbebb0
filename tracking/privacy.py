"""The tracking app's part of a customer's erasure and export (``orders.privacy``): the update
subscriptions made on their orders' tracking pages or at their addresses (an address is
theirs; a page view count or a product pairing names no one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from orders.privacy import PrivacyTarget
from postpurchase.tenancy.models import Merchant
from tracking.models import TrackingSubscription
from tracking.updates import masked_address


def _subscriptions(target: PrivacyTarget) -> QuerySet[TrackingSubscription]:
    return TrackingSubscription.objects.filter(
        Q(order_id__in=target.order_ids) | Q(address__in=target.addresses)
    )


def tracking_erase(*, merchant: Merchant, target: PrivacyTarget, now: datetime) -> dict[str, int]:
    return {"tracking_subscriptions": _subscriptions(target).delete()[0]}


def tracking_export(*, merchant: Merchant, target: PrivacyTarget) -> dict[str, Any]:
    return {
        "tracking_subscriptions": [
            {
                "order_id": s.order_id,
                "channel": s.channel,
                # someone else's address (a gift's recipient) is theirs: shown masked
                "address": s.address if s.address in target.addresses else masked_address(s),
                "consent_text": s.consent_text,
                "source": s.source,
                "consented_at": s.consented_at.isoformat(),
                "stopped_at": s.stopped_at.isoformat() if s.stopped_at else None,
            }
            for s in _subscriptions(target).order_by("consented_at", "pk")
        ]
    }
