"""Outbound webhooks: endpoints, the fan-out from the event log, and sending with retries.

The fan-out is a consumer of the event log (``webhooks.fanout``): inside the consumer's
transaction it writes one ``WebhookDelivery`` per enabled, subscribed endpoint, so an event
committed is an event delivered even if a worker dies. Sends are rows, not broker timers:

- a delivery due a send is *claimed* (a token in ``claim``, ``next_attempt_at`` moved one
  ``LEASE`` on) by the fan-out itself or by the beat-driven sweep (``SELECT … FOR UPDATE SKIP
  LOCKED``, ``postpurchase.outbox``), and a send task is enqueued with the token after commit;
- the task consumes the token with one conditional ``UPDATE`` before it sends, so two workers
  holding the same message (a re-delivery) send one request, not two. The same ``UPDATE``
  counts the attempt and starts a fresh lease, so a send in flight is never claimed again: the
  lease outlasts the task's hard time limit, and a request is cut off after ``DEADLINE``;
- the result is logged as a ``WebhookAttempt`` and the next attempt scheduled after
  ``RETRY_BACKOFF``, up to ``RETRY_WINDOW`` after the first or ``MAX_ATTEMPTS``; then the
  delivery is failed;
- a worker lost mid-send leaves ``next_attempt_at`` at the end of the lease, so the sweep claims
  the delivery again: delivery is at least once, and ``webhook-id`` lets receivers dedupe. The
  lost attempt still counts, and the sweep fails a delivery whose attempt at or after the
  deadline (or whose last allowed attempt) never finished.

An endpoint whose attempts have all failed for ``DISABLE_AFTER`` (at least
``DISABLE_AFTER_FAILURES`` in a row), or that answers ``410 Gone``, is disabled, its pending
deliveries are cancelled, and its merchant's owners and admins are told by email.

Rows are locked endpoint first, delivery second, everywhere, so no two paths deadlock.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.models import Customer
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from postpurchase.outbox import Backoff, give_up_exhausted, sweep
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import current_merchant
from webhooks import signing
from webhooks.concurrency import send_slot_release, send_slot_take
from webhooks.destinations import destination_check
from webhooks.errors import WebhooksErrorCode
from webhooks.event_types import TEST_EVENT_TYPE, event_types_clean
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.notifications import endpoint_disabled_notify
from webhooks.transport import HttpOutcome, http_post

logger = logging.getLogger(__name__)

CONSUMER_NAME = "webhooks.fanout"
# How long a claim keeps a delivery from the sweep: from the claim to the send, and from the
# send to its record. It must outlast the task's hard time limit (300 s, postpurchase/celery.py;
# the worker is killed by then) and a request (``DEADLINE``, 25 s), so a slow send in flight is
# never claimed and sent a second time.
LEASE = timedelta(minutes=10)
# A failed attempt is retried after 30 s, 2 m, 8 m, 32 m, 2 h 8 m, then every 6 h, each less up
# to a quarter at random (docs/webhooks.md shows receivers this schedule).
RETRY_BACKOFF = Backoff(base=timedelta(seconds=30), factor=4, cap=timedelta(hours=6))
RETRY_WINDOW = timedelta(hours=24)
MAX_ATTEMPTS = 15  # the schedule makes 10 or 11; lost attempts retried each lease stop here
GAVE_UP_UNFINISHED = "Gave up: the last attempt never finished."
DISABLE_AFTER_FAILURES = 10
DISABLE_AFTER = timedelta(hours=24)
PREVIOUS_SECRET_GRACE = timedelta(hours=24)
SWEEP_BATCH = 200
# A send over its merchant's in-flight cap hands its claim back and waits this long (then the
# sweep claims it again); no attempt is counted.
OVER_CAP_DEFER = timedelta(seconds=5)
DESCRIPTION_MAX = 200
UPDATABLE = frozenset({"url", "description", "event_types", "enabled"})


def _message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _body(event_type: str, occurred_at: datetime, data: Mapping[str, Any]) -> str:
    payload = {"type": event_type, "timestamp": _iso(occurred_at), "data": data}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def _description_clean(value: Any) -> str:
    description = (value or "").strip() if isinstance(value, str | None) else None
    if description is None or len(description) > DESCRIPTION_MAX:
        raise DomainError(
            WebhooksErrorCode.INVALID,
            f"Keep the description under {DESCRIPTION_MAX} characters.",
            field="description",
        )
    return description


# --- endpoints ------------------------------------------------------------------------------


def webhook_endpoint_create(
    *,
    merchant: Merchant,
    url: str,
    event_types: list[str],
    description: str = "",
    now: datetime | None = None,
) -> WebhookEndpoint:
    """A new, enabled endpoint with a fresh secret (``endpoint.secret``: show it once). A
    merchant has at most ``WEBHOOKS_MAX_ENDPOINTS_PER_MERCHANT`` endpoints."""
    now = now or timezone.now()
    endpoint = WebhookEndpoint(
        merchant=merchant,
        url=destination_check(url),
        description=_description_clean(description),
        event_types=event_types_clean(event_types),
        secret=signing.secret_generate(),
        created_at=now,
        updated_at=now,
    )
    with transaction.atomic():
        # the merchant's row serialises its creations, so two at once cannot pass the cap
        Merchant.objects.select_for_update(no_key=True).get(pk=merchant.pk)
        _endpoint_count_check(merchant)
        endpoint.save()
    return endpoint


def _endpoint_count_check(merchant: Merchant) -> None:
    most = settings.WEBHOOKS_MAX_ENDPOINTS_PER_MERCHANT
    if WebhookEndpoint.unscoped.filter(merchant=merchant).count() >= most:
        raise DomainError(
            WebhooksErrorCode.ENDPOINT_LIMIT_REACHED,
            f"A store can have at most {most} webhook endpoints: delete one you no longer use "
            "(one endpoint can subscribe to many event types).",
            field="url",
        )


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, data: Mapping[str, Any], now: datetime | None = None
) -> WebhookEndpoint:
    """Change any of ``url``, ``description``, ``event_types`` and ``enabled``."""
    unknown = sorted(set(data) - UPDATABLE)
    if unknown:
        raise DomainError(
            WebhooksErrorCode.NOT_UPDATABLE, f"{unknown[0]!r} cannot be changed.", field=unknown[0]
        )
    changes = _endpoint_changes(data)  # before the lock: checking a URL waits on DNS
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if changes.get("url", endpoint.url) != endpoint.url:
            # another receiver: the old one's failures say nothing about it
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
        for field, value in changes.items():
            setattr(endpoint, field, value)
        endpoint.updated_at = now
        endpoint.save()
        enabled = data.get("enabled", endpoint.enabled)
        if enabled and not endpoint.enabled:
            endpoint = webhook_endpoint_enable(endpoint=endpoint, now=now)
        elif not enabled and endpoint.enabled:
            endpoint = webhook_endpoint_disable(
                endpoint=endpoint, reason="Disabled by the merchant.", now=now
            )
    return endpoint


def _endpoint_changes(data: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned values of the fields ``data`` changes (besides ``enabled``)."""
    cleaners = {
        "url": destination_check,
        "description": _description_clean,
        "event_types": event_types_clean,
    }
    return {field: clean(data[field]) for field, clean in cleaners.items() if field in data}


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, now: datetime | None = None):
    """Enable an endpoint with a clean bill of health (its failure streak starts again)."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.enabled = True
        endpoint.disabled_at = None
        endpoint.disabled_reason = ""
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        endpoint.updated_at = now
        endpoint.save()
    return endpoint


def webhook_endpoint_disable(
    *, endpoint: WebhookEndpoint, reason: str, now: datetime | None = None
) -> WebhookEndpoint:
    """Stop sending to an endpoint; its pending deliveries are cancelled."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if endpoint.enabled:
            _disable(endpoint, reason=reason, now=now)
            endpoint.save()
    return endpoint


def _disable(endpoint: WebhookEndpoint, *, reason: str, now: datetime) -> None:
    """With the endpoint's row locked: mark it disabled (the caller saves it), cancel what
    was still to be sent."""
    endpoint.enabled = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason
    endpoint.updated_at = now
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None, claim="", finished_at=now
    )


def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, now: datetime | None = None
) -> WebhookEndpoint:
    """A new secret (``endpoint.secret``: show it once). The old one keeps signing beside it
    for ``PREVIOUS_SECRET_GRACE``, so receivers can switch without dropping a delivery."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + PREVIOUS_SECRET_GRACE
        endpoint.secret = signing.secret_generate()
        endpoint.updated_at = now
        endpoint.save()
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its deliveries and their log."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def secrets_in_use(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    in_use = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and expires > now:
        in_use.append(endpoint.previous_secret)
    return in_use


# --- fan-out --------------------------------------------------------------------------------


def _event_data(event: Event) -> dict[str, Any]:
    customer = None
    if event.customer_id is not None:
        external_id = (
            Customer.unscoped.filter(pk=event.customer_id)
            .values_list("external_id", flat=True)
            .first()
        )
        customer = {"id": event.customer_id, "external_id": external_id}
    return {**event.payload, "event_id": event.pk, "customer": customer}


def webhook_deliveries_for_event(*, event: Event, now: datetime | None = None) -> list[int]:
    """The event-log consumer: one delivery per enabled endpoint subscribed to ``event.type``,
    once (a second run finds them there). Returns the ids of the deliveries it created; each is
    claimed and its send enqueued after commit."""
    return webhook_deliveries_for_events(events=[event], now=now)


def webhook_deliveries_for_events(*, events: list[Event], now: datetime | None = None) -> list[int]:
    """``webhook_deliveries_for_event`` for a batch of one merchant's events: the endpoints read
    once, every delivery written in one statement, each send enqueued after commit."""
    now = now or timezone.now()
    endpoints = list(WebhookEndpoint.objects.filter(enabled=True).order_by("pk"))
    claim = uuid.uuid4().hex
    deliveries = [
        WebhookDelivery(
            merchant_id=event.merchant_id,
            endpoint=endpoint,
            event=event,
            event_type=event.type,
            message_id=_message_id(),
            body=_body(event.type, event.occurred_at, _event_data(event)),
            claim=claim,
            next_attempt_at=now + LEASE,
            created_at=now,
        )
        for event in events
        for endpoint in endpoints
        if endpoint.wants(event.type)
    ]
    if not deliveries:
        return []
    # the unique (merchant, endpoint, event) keeps a rerun a no-op
    WebhookDelivery.unscoped.bulk_create(deliveries, ignore_conflicts=True)
    created = list(
        WebhookDelivery.objects.filter(event__in=[e.pk for e in events], claim=claim)
        .order_by("pk")
        .values_list("pk", "merchant_id")
    )
    transaction.on_commit(lambda: [_enqueue_send(pk, claim, merchant) for pk, merchant in created])
    return [pk for pk, _ in created]


def webhooks_fan_out(event: Event) -> None:
    """The handler registered with the event log (``WebhooksConfig.ready``)."""
    webhook_deliveries_for_event(event=event)


def webhooks_fan_out_many(events: list[Event]) -> None:
    """The batch handler registered with the event log (``WebhooksConfig.ready``)."""
    webhook_deliveries_for_events(events=events)


def webhook_endpoint_send_test(
    *, endpoint: WebhookEndpoint, now: datetime | None = None
) -> WebhookDelivery:
    """Send a ``webhook.test`` event to one endpoint, through the same path as real events."""
    if not endpoint.enabled:
        raise DomainError(
            WebhooksErrorCode.ENDPOINT_DISABLED, "Enable the endpoint to send it a test event."
        )
    now = now or timezone.now()
    data = {"endpoint_id": endpoint.pk, "message": "A test event: your endpoint works."}
    claim = uuid.uuid4().hex
    delivery = WebhookDelivery.unscoped.create(
        merchant_id=endpoint.merchant_id,
        endpoint=endpoint,
        event=None,
        event_type=TEST_EVENT_TYPE,
        message_id=_message_id(),
        body=_body(TEST_EVENT_TYPE, now, data),
        claim=claim,
        next_attempt_at=now + LEASE,
        created_at=now,
    )
    merchant_id = endpoint.merchant_id
    transaction.on_commit(lambda: _enqueue_send(delivery.pk, claim, merchant_id))
    return delivery


def _enqueue_send(delivery_id: int, claim: str, merchant_id: int) -> None:
    from webhooks.tasks import webhook_delivery_send_task

    try:
        webhook_delivery_send_task.delay(
            delivery_id=delivery_id, claim=claim, merchant_id=merchant_id
        )
    except Exception:
        # The broker is down: the claim's lease runs out and the sweep claims it again.
        logger.warning(
            "Could not enqueue webhook delivery %s; the sweep will", delivery_id, exc_info=True
        )


def webhook_deliveries_sweep(
    *, now: datetime | None = None, batch_size: int = SWEEP_BATCH
) -> list[int]:
    """Claim every delivery due an attempt (a retry, or a claim whose lease ran out) and enqueue
    its send, after failing those whose last allowed attempt never finished. Rows another
    sweeper holds are skipped. Returns the ids claimed."""
    now = now or timezone.now()
    _deliveries_give_up_unfinished(now=now, batch_size=batch_size)
    claim = uuid.uuid4().hex

    def enqueue(merchant_id: int, delivery_ids: list[int]) -> None:
        for delivery_id in delivery_ids:
            _enqueue_send(delivery_id, claim, merchant_id)

    return sweep(
        WebhookDelivery.unscoped.filter(status=DeliveryStatus.PENDING, endpoint__enabled=True),
        now=now,
        lease=LEASE,
        batch=batch_size,
        mark={"claim": claim},
        enqueue=enqueue,
    )


def _deliveries_give_up_unfinished(*, now: datetime, batch_size: int) -> list[int]:
    """Fail the due deliveries whose lease ran out on an attempt that never finished (its worker
    died) when that attempt was the last one allowed: made at or after the retry window's end,
    or the ``MAX_ATTEMPTS``-th. Rows another sweeper holds are skipped."""
    exhausted = Q(attempts__gte=MAX_ATTEMPTS) | Q(
        last_attempt_at__gte=F("first_attempt_at") + RETRY_WINDOW
    )
    rows = give_up_exhausted(
        WebhookDelivery.unscoped.filter(exhausted, status=DeliveryStatus.PENDING),
        now=now,
        batch=batch_size,
        values={
            "status": DeliveryStatus.FAILED,
            "next_attempt_at": None,
            "claim": "",
            "last_error": GAVE_UP_UNFINISHED,
            "finished_at": now,
        },
    )
    return [pk for pk, _ in rows]


# --- sending --------------------------------------------------------------------------------


def webhook_delivery_send(
    *,
    delivery_id: int,
    claim: str,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> WebhookAttempt | None:
    """Make the one attempt ``claim`` stands for. Returns the attempt, or ``None`` when the
    claim was already used or replaced (another worker has it), the endpoint is disabled, or
    the merchant already has its most requests in flight (the delivery is then deferred by
    ``OVER_CAP_DEFER``, its claim handed back and no attempt counted)."""
    now = now or timezone.now()
    slot = send_slot_take(merchant_id=current_merchant().pk)
    if slot is None:
        _claim_defer(delivery_id=delivery_id, claim=claim, now=now)
        return None
    try:
        number = _claim_take(delivery_id=delivery_id, claim=claim, now=now)
        if number is None:
            return None
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
        endpoint = delivery.endpoint
        if not endpoint.enabled:
            return None  # disabling cancels pending deliveries; this one lost that race
        body = delivery.body.encode("utf-8")
        headers = _signed_headers(delivery, endpoint, body=body, now=now)
        outcome = http_post(url=endpoint.url, body=body, headers=headers)
    finally:
        send_slot_release(slot)
    return _attempt_record(
        delivery_id=delivery.pk, number=number, outcome=outcome, now=now, rng=rng
    )


def _claim_take(*, delivery_id: int, claim: str, now: datetime) -> int | None:
    """Consume ``claim`` and count the attempt it stands for, before anything is sent: returns
    the attempt's number, or ``None`` when the claim is not (or no longer) the delivery's.

    The attempt counts even if its worker dies before recording it, so the retry window and
    ``MAX_ATTEMPTS`` still end a delivery whose sends keep crashing; and a fresh lease keeps the
    sweep off the delivery while the request is in flight."""
    if not claim:
        return None
    with transaction.atomic():
        taken = WebhookDelivery.objects.filter(
            pk=delivery_id, claim=claim, status=DeliveryStatus.PENDING
        ).update(
            claim="",
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce("first_attempt_at", now),
            last_attempt_at=now,
            next_attempt_at=now + LEASE,
        )
        if not taken:
            return None
        return WebhookDelivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)


def _claim_defer(*, delivery_id: int, claim: str, now: datetime) -> None:
    """Hand ``claim`` back unused: the sweep claims the delivery again after
    ``OVER_CAP_DEFER``."""
    WebhookDelivery.objects.filter(
        pk=delivery_id, claim=claim, status=DeliveryStatus.PENDING
    ).update(claim="", next_attempt_at=now + OVER_CAP_DEFER)


def _signed_headers(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, *, body: bytes, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header(
            secrets_in_use=secrets_in_use(endpoint, now=now),
            message_id=delivery.message_id,
            timestamp=timestamp,
            body=body,
        ),
    }


def _attempt_record(
    *,
    delivery_id: int,
    number: int,
    outcome: HttpOutcome,
    now: datetime,
    rng: random.Random | None,
) -> WebhookAttempt | None:
    with transaction.atomic():
        endpoint_id = (
            WebhookDelivery.objects.filter(pk=delivery_id)
            .values_list("endpoint_id", flat=True)
            .first()
        )
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            return None  # deleted while we were sending
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        attempt = WebhookAttempt.unscoped.create(
            merchant_id=delivery.merchant_id,
            delivery=delivery,
            number=number,
            attempted_at=now,
            succeeded=outcome.succeeded,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.response_excerpt,
            error=outcome.error,
        )
        delivery.first_attempt_at = delivery.first_attempt_at or now
        delivery.last_attempt_at = now
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if delivery.status == DeliveryStatus.PENDING:
            _schedule(delivery, outcome, now=now, rng=rng)
        delivery.save()
        _health_record(endpoint, delivery, outcome, now=now)
        endpoint.save()
    return attempt


def _schedule(
    delivery: WebhookDelivery, outcome: HttpOutcome, *, now: datetime, rng: random.Random | None
) -> None:
    """Success ends the delivery; a failure schedules the next attempt, or gives up once the
    retry window since the first attempt is over (the last attempt falls on its end) or
    ``MAX_ATTEMPTS`` were made."""
    deadline = delivery.first_attempt_at + RETRY_WINDOW
    gave_up = now >= deadline or delivery.attempts >= MAX_ATTEMPTS
    if outcome.succeeded or outcome.status_code == 410 or gave_up:
        delivery.status = DeliveryStatus.SUCCEEDED if outcome.succeeded else DeliveryStatus.FAILED
        delivery.next_attempt_at = None
        delivery.finished_at = now
    else:
        delay = RETRY_BACKOFF.delay(delivery.attempts, rng=rng)
        if outcome.retry_after is not None:  # the receiver asked for a pause (429, 503)
            delay = max(delay, timedelta(seconds=outcome.retry_after))
        delivery.next_attempt_at = min(now + delay, deadline)


def _health_record(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, outcome: HttpOutcome, *, now: datetime
) -> None:
    """Keep the endpoint's failure streak (its row is locked) and disable it when the rule
    says so."""
    if outcome.succeeded:
        endpoint.consecutive_failures = 0
        endpoint.failing_since = None
        endpoint.last_success_at = max(filter(None, [endpoint.last_success_at, now]))
        return
    endpoint.consecutive_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.last_failure_at = now
    if not endpoint.enabled:
        return
    if outcome.status_code == 410:
        reason = f"The endpoint answered 410 Gone on {_iso(now)}: it asked not to be sent more."
    elif (
        endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES
        and now - endpoint.failing_since >= DISABLE_AFTER
    ):
        reason = (
            f"Every delivery attempt since {_iso(endpoint.failing_since)} failed "
            f"({endpoint.consecutive_failures} in a row); the last: "
            f"{outcome.error or 'no response'}."
        )
    else:
        return
    _disable(endpoint, reason=reason, now=now)
    endpoint_id = endpoint.pk
    transaction.on_commit(lambda: endpoint_disabled_notify(endpoint_id=endpoint_id))
