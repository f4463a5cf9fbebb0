"""Processing inbound deliveries in a task: the attempt counted first, the work in a savepoint
under the delivery's row lock, each outcome settled (retried with backoff, or not); Shopify
order deliveries waiting together taken as one batch of the orders engine; and the sweep that
re-finds lost or failed ones (``postpurchase.outbox``)."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models.fields.json import KT
from django.utils import timezone

from connectors import handlers
from connectors.models import DeliverySource, DeliveryStatus, InboundDelivery
from connectors.shopify import ORDER_TOPICS
from postpurchase.errors import DomainError
from postpurchase.outbox import Backoff, sweep
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

logger = logging.getLogger(__name__)

# A delivery not settled this long after it was received (or last tried) is assumed lost.
PROCESS_GRACE = timedelta(minutes=2)
# A failed delivery is retried after 30 s, 1 m, 2 m, 4 m, … up to 6 h, each less up to a quarter.
RETRY_BACKOFF = Backoff(base=timedelta(seconds=30), factor=2, cap=timedelta(hours=6))
MAX_ATTEMPTS = 10
SWEEP_BATCH = 500
BATCH_MAX = 100  # Shopify order deliveries processed together (inbound_delivery_process)
SETTLED_FIELDS = ("status", "last_error", "processed_at", "next_attempt_at")
SETTLED = (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED)


def delivery_enqueue(delivery_id: int, merchant_id: int) -> None:
    from connectors.tasks import inbound_delivery_process_task

    try:
        inbound_delivery_process_task.delay(delivery_id=delivery_id, merchant_id=merchant_id)
    except Exception:
        # The broker is down: the sweep finds the delivery once its grace period is over.
        logger.warning(
            "Could not enqueue inbound delivery %s; the sweep will retry",
            delivery_id,
            exc_info=True,
        )


def _settle_failure(delivery: InboundDelivery, message: str, *, retry: bool, now: datetime):
    delivery.status = DeliveryStatus.FAILED
    delivery.last_error = message[:4000]
    if retry and delivery.attempts < MAX_ATTEMPTS:
        delivery.next_attempt_at = now + RETRY_BACKOFF.delay(delivery.attempts)
    else:
        delivery.next_attempt_at = None


def _attempt_claim(merchant: Merchant, delivery_id: int, now: datetime) -> str | list[int]:
    """Count the attempt in a transaction of its own, committed before the work starts, so a
    delivery that kills its worker (out of memory, a time limit) still runs out of attempts.
    Its next try is due after the backoff, should this one never settle it. Returns the status
    when there is nothing to do, else the ids of the deliveries claimed: this one, and, for a
    Shopify order delivery on its first attempt, the other first-attempt order deliveries
    waiting (``_companions``), whose attempts are counted with it."""
    with transaction.atomic(), merchant_scope(merchant):
        delivery = (
            InboundDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "busy"
        if not _waiting(delivery):
            return delivery.status
        if delivery.attempts >= MAX_ATTEMPTS:
            _settle_failure(
                delivery,
                f"Gave up after {delivery.attempts} attempts; the last one never finished.",
                retry=False,
                now=now,
            )
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return delivery.status
        claimed = [delivery.pk]
        if delivery.attempts == 0 and _batchable(delivery):
            claimed += _companions(delivery)
        attempts = delivery.attempts + 1  # every companion is on its first attempt too
        InboundDelivery.objects.filter(pk__in=claimed).update(
            attempts=attempts,
            next_attempt_at=now + max(PROCESS_GRACE, RETRY_BACKOFF.delay(attempts)),
        )
    return claimed


def _batchable(delivery: InboundDelivery) -> bool:
    return (
        delivery.source == DeliverySource.SHOPIFY
        and delivery.topic in ORDER_TOPICS
        and delivery.status == DeliveryStatus.RECEIVED
    )


def _companions(delivery: InboundDelivery) -> list[int]:
    """Up to ``BATCH_MAX - 1`` other Shopify order deliveries waiting their first attempt, in
    the order they came, each of a different order than the others and than ``delivery`` (a
    later delivery of the same order waits for its own task). Locked, skipping those another
    worker holds; only the ones claimed are locked, so no other task finds one busy and leaves
    it to a worker that will not process it."""
    waiting = (
        InboundDelivery.objects.filter(
            source=DeliverySource.SHOPIFY,
            topic__in=ORDER_TOPICS,
            status=DeliveryStatus.RECEIVED,
            attempts=0,
        )
        .exclude(pk=delivery.pk)
        .order_by("pk")
        .values_list("pk", KT("body__id"))[: BATCH_MAX * 2]
    )
    orders = {str(delivery.body.get("id"))}
    chosen = []
    for pk, order_id in waiting:
        # Text on PostgreSQL, a number on SQLite: compared as text.
        if order_id is not None and str(order_id) not in orders and len(chosen) < BATCH_MAX - 1:
            orders.add(str(order_id))
            chosen.append(pk)
    return list(
        InboundDelivery.objects.select_for_update(skip_locked=True)
        .filter(pk__in=chosen, status=DeliveryStatus.RECEIVED, attempts=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _settled(status: str, next_attempt_at: datetime | None) -> bool:
    """Done with for good: processed, ignored, or failed with no attempt to come."""
    return status in SETTLED or (status == DeliveryStatus.FAILED and not next_attempt_at)


def _waiting(delivery: InboundDelivery) -> bool:
    return not _settled(delivery.status, delivery.next_attempt_at)


def _handle(
    merchant: Merchant, delivery: InboundDelivery, now: datetime
) -> handlers.Outcome | Exception:
    """What the delivery came to, done in a savepoint: its outcome, or the error that undid
    it."""
    try:
        with transaction.atomic():
            return handlers.delivery_handle(merchant=merchant, delivery=delivery, now=now)
    except DomainError as error:
        return error
    except Exception as exc:
        logger.exception("Inbound delivery %s failed (attempt %s)", delivery.pk, delivery.attempts)
        return exc


def _settle(delivery: InboundDelivery, result: handlers.Outcome | Exception, now: datetime):
    """Record what the delivery came to. A ``DomainError`` is permanent (not retried) unless it
    says the delivery came before what it builds on; any other error is retried with backoff
    until ``MAX_ATTEMPTS``."""
    if isinstance(result, DomainError):
        _settle_failure(delivery, result.message, retry=handlers.is_early(result), now=now)
    elif isinstance(result, Exception):
        _settle_failure(delivery, f"{type(result).__name__}: {result}", retry=True, now=now)
    elif result.retry:
        _settle_failure(delivery, result.note, retry=True, now=now)
    else:
        delivery.status = result.status
        delivery.last_error = result.note
        delivery.processed_at = now
        delivery.next_attempt_at = None


def delivery_process_locked(
    *, merchant: Merchant, delivery: InboundDelivery, now: datetime, count_attempt: bool
) -> str:
    """Process a delivery whose row the caller has locked, in a savepoint, and settle it
    (``_settle``). Returns the status."""
    if count_attempt:
        delivery.attempts += 1
    _settle(delivery, _handle(merchant, delivery, now), now)
    delivery.save()
    return delivery.status


def _batch_process_locked(
    merchant: Merchant, deliveries: list[InboundDelivery], now: datetime
) -> None:
    """Process Shopify order deliveries whose rows the caller has locked, each of a different
    order, and settle each as it would have been settled alone. Those that carry only their
    order go through the orders engine as one batch; the others (fulfillments beside the
    order) go one by one."""
    plain: list[tuple[InboundDelivery, dict]] = []
    orders: set[str] = set()  # the external ids of the orders in ``plain``
    after: list[InboundDelivery] = []  # a second delivery of an order in the batch goes after it
    for delivery in deliveries:
        try:
            payload = handlers.shopify_order_plain(merchant=merchant, delivery=delivery)
        except DomainError as error:
            _settle(delivery, error, now)
            continue
        if payload is None:
            _settle(delivery, _handle(merchant, delivery, now), now)
        elif payload["external_id"] in orders:
            after.append(delivery)
        else:
            orders.add(payload["external_id"])
            plain.append((delivery, payload))
    if plain:
        try:
            with transaction.atomic():
                outcomes = handlers.shopify_orders_ingest(
                    merchant=merchant, payloads=[payload for _, payload in plain], now=now
                )
        except Exception as exc:
            logger.exception("A batch of %s inbound order deliveries failed", len(plain))
            outcomes = [exc] * len(plain)
        for (delivery, _), outcome in zip(plain, outcomes, strict=True):
            _settle(delivery, outcome, now)
    for delivery in after:
        _settle(delivery, _handle(merchant, delivery, now), now)
    # One statement for each outcome the batch came to (mostly one: processed, no note).
    alike: dict[tuple, list[int]] = defaultdict(list)
    for delivery in deliveries:
        alike[tuple(getattr(delivery, name) for name in SETTLED_FIELDS)].append(delivery.pk)
    for values, pks in alike.items():
        InboundDelivery.objects.filter(pk__in=pks).update(
            **dict(zip(SETTLED_FIELDS, values, strict=True))
        )


def inbound_delivery_process(
    *, merchant: Merchant, delivery_id: int, now: datetime | None = None
) -> str:
    """Process one delivery (map it and call the orders and privacy services), once.

    The attempt is counted first, in its own committed transaction. Then the delivery's row
    lock is held throughout the work, so two workers never process it side by side; the work
    runs in a savepoint, so a failure leaves nothing half-written. Returns the status.

    A Shopify order delivery on its first attempt takes the other order deliveries waiting
    theirs with it (up to ``BATCH_MAX``, each of a different order) and runs them as one batch
    of the orders engine: when webhooks come faster than one worker takes them one at a time
    (a sale, a store's backfill), the queue is worked off at the engine's batch speed. Their
    own tasks then find them settled. A batch that killed its worker is not batched again:
    each of its deliveries, on its second attempt, goes alone."""
    now = now or timezone.now()
    with merchant_scope(merchant):
        # A delivery a batch has settled (its own task comes after): said without a lock.
        seen = InboundDelivery.objects.filter(pk=delivery_id).values_list(
            "status", "next_attempt_at"
        )[:1]
        for status, next_attempt_at in seen:
            if _settled(status, next_attempt_at):
                return status
    claimed = _attempt_claim(merchant, delivery_id, now)
    if isinstance(claimed, str):
        return claimed
    with transaction.atomic(), merchant_scope(merchant):
        held = list(
            InboundDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=claimed)
            .order_by("pk")
        )
        delivery = next((d for d in held if d.pk == delivery_id), None)
        if delivery is None:
            return "busy"  # another worker took it between the two transactions
        if not _waiting(delivery):
            return delivery.status
        batch = [d for d in held if _waiting(d)]
        if len(batch) == 1:
            return delivery_process_locked(
                merchant=merchant, delivery=delivery, now=now, count_attempt=False
            )
        _batch_process_locked(merchant, batch, now)
        return delivery.status


def inbound_delivery_sweep(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH):
    """Enqueue every delivery due a (re)try: a task lost after receipt, or a failure whose
    backoff is over (``postpurchase.outbox.sweep``). Each one's ``next_attempt_at`` moves a grace
    period on, so it is not enqueued again while its task waits in the queue. An inactive
    merchant's deliveries wait for its reactivation. Returns the ids enqueued."""

    def enqueue(merchant_id: int, delivery_ids: list[int]) -> None:
        for delivery_id in delivery_ids:
            delivery_enqueue(delivery_id, merchant_id)

    return sweep(
        InboundDelivery.unscoped.all(),
        now=now or timezone.now(),
        lease=PROCESS_GRACE,
        batch=batch_size,
        enqueue=enqueue,
    )
