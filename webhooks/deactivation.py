"""A deactivated merchant's outbound webhooks: pending deliveries are cancelled.

Registered with ``postpurchase.tenancy.lifecycle`` (``WebhooksConfig.ready``) and run by
``merchant_deactivate`` inside its transaction. Reactivation does not bring them back: the
receiver gets the events recorded after it.
"""

from __future__ import annotations

from datetime import datetime

from postpurchase.tenancy.models import Merchant
from webhooks.models import DeliveryStatus, WebhookDelivery

DEACTIVATED = "Cancelled: the merchant was deactivated."


def merchant_webhook_deliveries_cancel(*, merchant: Merchant, now: datetime) -> int:
    """For ``merchant_deactivate``: cancel the merchant's pending deliveries (a request in
    flight finishes and is logged; it is not retried). Returns how many."""
    return WebhookDelivery.unscoped.filter(merchant=merchant, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED,
        next_attempt_at=None,
        claim="",
        last_error=DEACTIVATED,
        finished_at=now,
    )
