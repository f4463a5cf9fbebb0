"""The webhooks app's part of an erasure (``orders.privacy``, registered in
``WebhooksConfig.ready``): the outbound deliveries about a customer and their attempts' logs.

Erased: personal values in each delivery's body (the event's payload as it was frozen for the
merchant's endpoint: an integrator's custom event may carry contact details), and any response
excerpt or error of an attempt that quotes the person. A delivery still being retried goes on
with the erased body. Kept: which event went to which endpoint, when, and how it fared.

There is no export section: a delivery is a copy of an event, which the orders part exports.
What the merchant's own endpoints stored is theirs to erase (``customer.redacted`` tells them).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import reduce
from operator import or_

from django.db.models import Q

from orders.privacy import PrivacyTarget
from postpurchase.tenancy.models import Merchant
from webhooks.models import WebhookAttempt, WebhookDelivery

BATCH = 500


def _body_scrub(body: str, target: PrivacyTarget) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return target.scrub_text(body)
    scrubbed = target.scrub(data)
    if scrubbed == data:
        return body
    return json.dumps(scrubbed, separators=(",", ":"), ensure_ascii=False)


def webhook_deliveries_erase(
    *, merchant: Merchant, target: PrivacyTarget, now: datetime
) -> dict[str, int]:
    """The webhooks part's eraser: how many deliveries changed (their body or an attempt)."""
    about = Q(event__customer_id__in=target.customer_ids)
    if target.contains:  # a delivery whose event is gone (or a test) may still quote them
        about |= Q(event__isnull=True) & reduce(
            or_, (Q(body__icontains=needle) for needle in sorted(target.contains))
        )
    deliveries = WebhookDelivery.objects.filter(about)
    changed: list[WebhookDelivery] = []
    for delivery in deliveries.only("id", "body").iterator(chunk_size=BATCH):
        body = _body_scrub(delivery.body, target)
        if body != delivery.body:
            delivery.body = body
            changed.append(delivery)
    WebhookDelivery.objects.bulk_update(changed, ["body"], batch_size=BATCH)
    attempts = [
        attempt
        for attempt in WebhookAttempt.objects.filter(delivery__in=deliveries).only(
            "id", "delivery_id", "response_excerpt", "error"
        )
        if target.mentions(attempt.response_excerpt) or target.mentions(attempt.error)
    ]
    for attempt in attempts:
        attempt.response_excerpt = target.scrub_text(attempt.response_excerpt)
        attempt.error = target.scrub_text(attempt.error)
    if attempts:
        WebhookAttempt.objects.bulk_update(attempts, ["response_excerpt", "error"])
    touched = {d.pk for d in changed} | {attempt.delivery_id for attempt in attempts}
    return {"webhook_deliveries": len(touched)}
