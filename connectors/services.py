"""Writes of the connectors app: the merchant's webhook secrets, receiving a delivery (verify,
record, enqueue), processing it in a task, and the sweep that re-finds lost or failed ones
(``postpurchase.outbox``).

Receiving is kept small so the sender gets its answer fast: the signature is checked before
anything is stored, the delivery row is the inbox (its unique constraint dedupes the sender's
retries), and the work is done by ``inbound_delivery_process`` after commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import DataError, IntegrityError, transaction
from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils import timezone

from connectors import handlers
from connectors.errors import ConnectorsErrorCode
from connectors.models import DeliverySource, DeliveryStatus, InboundConfig, InboundDelivery
from connectors.shopify import (
    ORDER_TOPICS,
    TOPICS,
    shopify_body_fits_topic,
    shopify_shop_domain,
)
from connectors.signatures import (
    shopify_secret_fingerprints,
    shopify_signature_valid,
    tracking_signature_valid,
)
from connectors.tracking import tracking_delivery_id
from postpurchase.crypto import random_secret
from postpurchase.errors import DomainError
from postpurchase.outbox import Backoff, sweep
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

logger = logging.getLogger(__name__)

# How long a replaced secret keeps verifying (Shopify says a new app secret can take up to an
# hour to be used for signing; carriers' systems are updated by hand).
PREVIOUS_SECRET_GRACE = timedelta(hours=24)
# A delivery not settled this long after it was received (or last tried) is assumed lost.
PROCESS_GRACE = timedelta(minutes=2)
# A failed delivery is retried after 30 s, 1 m, 2 m, 4 m, … up to 6 h, each less up to a quarter.
RETRY_BACKOFF = Backoff(base=timedelta(seconds=30), factor=2, cap=timedelta(hours=6))
MAX_ATTEMPTS = 10
SWEEP_BATCH = 500
BATCH_MAX = 100  # Shopify order deliveries processed together (inbound_delivery_process)
SETTLED_FIELDS = ("status", "last_error", "processed_at", "next_attempt_at")
SETTLED = (DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED)
TRACKING_SECRET_PREFIX = "trk_"  # noqa: S105 (a prefix, not a secret)
TRACKING_TOPIC = "tracking/update"
SHOPIFY_HEADERS = ("X-Shopify-Shop-Domain", "X-Shopify-API-Version", "X-Shopify-Triggered-At")


def _signature_invalid() -> DomainError:
    # One message for an unknown merchant, a missing secret and a wrong signature alike.
    return DomainError(
        ConnectorsErrorCode.SIGNATURE_INVALID, "The webhook signature is missing or invalid."
    )


def _body_invalid(message: str) -> DomainError:
    return DomainError(ConnectorsErrorCode.BODY_INVALID, message)


# --- secrets ----------------------------------------------------------------------------------


def _config_locked(merchant: Merchant) -> InboundConfig:
    InboundConfig.unscoped.get_or_create(merchant=merchant)
    return InboundConfig.unscoped.select_for_update().get(merchant=merchant)


def _shopify_secret_check(secret: str) -> str:
    secret = (secret or "").strip()
    if not 8 <= len(secret) <= 255 or any(ch.isspace() for ch in secret):
        raise DomainError(
            ConnectorsErrorCode.INVALID,
            "Paste the secret exactly as Shopify shows it (8 to 255 characters, no spaces).",
            field="secret",
        )
    return secret


def _shopify_domain_check(shop_domain: str) -> str:
    domain = shopify_shop_domain(shop_domain)
    if not domain:
        raise DomainError(
            ConnectorsErrorCode.INVALID,
            "Enter your store's Shopify domain, such as your-store.myshopify.com.",
            field="shop_domain",
        )
    return domain


def _secret_in_use() -> DomainError:
    return DomainError(
        ConnectorsErrorCode.SECRET_IN_USE,
        "Another store on this platform uses this secret. Paste the secret Shopify shows for "
        "this store's own webhooks or app.",
        field="secret",
    )


def shopify_secret_set(
    *, merchant: Merchant, secret: str, shop_domain: str, now: datetime | None = None
):
    """Connect the merchant's Shopify store: its shop domain (deliveries naming another shop are
    refused) and its app's shared secret, which no other merchant may hold. The secret it
    replaces keeps verifying for a while."""
    secret = _shopify_secret_check(secret)
    domain = _shopify_domain_check(shop_domain)
    fingerprints = shopify_secret_fingerprints(secret)
    now = now or timezone.now()
    with transaction.atomic():
        config = _config_locked(merchant)
        taken = InboundConfig.unscoped.filter(shopify_secret_fingerprint__in=fingerprints)
        if taken.exclude(merchant=merchant).exists():
            raise _secret_in_use()
        if config.shopify_secret and config.shopify_secret != secret:
            config.shopify_previous_secret = config.shopify_secret
            config.shopify_previous_expires_at = now + PREVIOUS_SECRET_GRACE
        config.shopify_secret = secret
        config.shopify_secret_fingerprint = fingerprints[0]
        config.shopify_secret_hint = secret[-4:]
        config.shopify_secret_set_at = now
        config.shopify_shop_domain = domain
        config.shopify_disconnected_at = None
        config.updated_at = now
        try:
            with transaction.atomic():
                config.save()
        except IntegrityError:  # another merchant saved the same secret meanwhile
            raise _secret_in_use() from None
    return config


def tracking_secret_rotate(
    *, merchant: Merchant, now: datetime | None = None
) -> tuple[InboundConfig, str]:
    """Generate a new tracking secret and return it (the only time it is shown); the previous
    one keeps verifying for a while, so the sender can switch without losing deliveries."""
    now = now or timezone.now()
    secret = TRACKING_SECRET_PREFIX + random_secret(32)
    with transaction.atomic():
        config = _config_locked(merchant)
        if config.tracking_secret:
            config.tracking_previous_secret = config.tracking_secret
            config.tracking_previous_expires_at = now + PREVIOUS_SECRET_GRACE
        config.tracking_secret = secret
        config.tracking_secret_set_at = now
        config.updated_at = now
        config.save()
    return config, secret


def _secrets(config: InboundConfig | None, prefix: str, now: datetime) -> list[str]:
    if config is None:
        return []
    found = [getattr(config, f"{prefix}_secret")]
    expires_at = getattr(config, f"{prefix}_previous_expires_at")
    if expires_at is not None and expires_at > now:
        found.append(getattr(config, f"{prefix}_previous_secret"))
    return [secret for secret in found if secret]


def _config_for_slug(merchant_slug: str) -> tuple[Merchant | None, InboundConfig | None]:
    merchant = Merchant.objects.filter(slug=merchant_slug, is_active=True).first()
    if merchant is None:
        return None, None
    return merchant, InboundConfig.unscoped.filter(merchant=merchant).first()


# --- receiving --------------------------------------------------------------------------------


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _parse_body(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: nested too deeply for Python's parser (100,000 "["): the sender's error
        raise _body_invalid("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise _body_invalid("The body must be a JSON object.")
    return data


def _record(
    merchant: Merchant, *, source: str, delivery_id: str, topic: str, body: dict, **fields
) -> tuple[InboundDelivery, bool]:
    """Insert the delivery; a repeat of one we hold (the same delivery id, or the same body
    where its digest is kept) returns that one and ``False``."""
    now = fields.pop("now")
    status = fields.pop("status", DeliveryStatus.RECEIVED)
    delivery = InboundDelivery(
        merchant=merchant,
        source=source,
        delivery_id=delivery_id,
        topic=topic,
        body=body,
        status=status,
        received_at=now,
        next_attempt_at=now + PROCESS_GRACE if status == DeliveryStatus.RECEIVED else None,
        processed_at=None if status == DeliveryStatus.RECEIVED else now,
        **fields,
    )
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:
        same = Q(delivery_id=delivery_id)
        if delivery.body_sha256:
            same |= Q(body_sha256=delivery.body_sha256)
        existing = (
            InboundDelivery.unscoped.filter(same, merchant=merchant, source=source)
            .order_by("pk")
            .first()
        )
        if existing is None:
            raise
        return existing, False
    except DataError:  # text PostgreSQL cannot hold, such as a NUL character
        raise _body_invalid("The body holds text that cannot be stored.") from None
    if status == DeliveryStatus.RECEIVED:
        transaction.on_commit(lambda: _enqueue(delivery.pk, merchant.pk))
    return delivery, True


def _shopify_topic_check(topic: str, data: dict, headers: Mapping[str, str]) -> None:
    """Refuse a body that is not the topic's resource, or that names another shop than the
    one the delivery came from: the topic and the shop domain are headers, which Shopify's
    signature does not cover."""
    if topic in TOPICS and not shopify_body_fits_topic(topic, data):
        raise DomainError(ConnectorsErrorCode.TOPIC_MISMATCH, f"The body is not a {topic} payload.")
    header_domain = (headers.get("X-Shopify-Shop-Domain") or "").strip().lower()
    body_domain = str(data.get("shop_domain") or "").strip().lower()
    if "shop_domain" in data and header_domain and body_domain != header_domain:
        raise DomainError(
            ConnectorsErrorCode.TOPIC_MISMATCH,
            f"The {topic} body names another shop than X-Shopify-Shop-Domain.",
        )


def _shop_mismatch() -> DomainError:
    return DomainError(
        ConnectorsErrorCode.SHOP_MISMATCH,
        "X-Shopify-Shop-Domain does not name the store this connection is for.",
    )


def _shop_bind(config: InboundConfig, headers: Mapping[str, str]) -> None:
    """Take the delivery only from the connection's own store. A connection made before the
    shop domain was asked for binds to the store of its first valid delivery, under the
    config's row lock, so two first deliveries from two shops cannot both bind."""
    domain = shopify_shop_domain(headers.get("X-Shopify-Shop-Domain"))
    if not domain:
        raise _shop_mismatch()
    if config.shopify_shop_domain:  # bound already: no lock, deliveries are not serialized
        if config.shopify_shop_domain != domain:
            raise _shop_mismatch()
        return
    bound = (
        InboundConfig.unscoped.select_for_update()
        .filter(pk=config.pk)
        .values_list("shopify_shop_domain", flat=True)
        .get()
    )
    if not bound:
        InboundConfig.unscoped.filter(pk=config.pk).update(shopify_shop_domain=domain)
    elif bound != domain:
        raise _shop_mismatch()


def shopify_delivery_receive(
    *, merchant_slug: str, body: bytes, headers: Mapping[str, str], now: datetime | None = None
) -> tuple[InboundDelivery, bool]:
    """Verify and record a Shopify webhook. Raises ``signature_invalid`` (nothing stored) for an
    unknown merchant, a merchant with no secret or a wrong signature, and ``shop_mismatch``
    (nothing stored) for a signed body from another store than the connection's. A body we
    already hold, under whatever webhook id, is a duplicate."""
    now = now or timezone.now()
    merchant, config = _config_for_slug(merchant_slug)
    secrets = _secrets(config, "shopify", now)
    if not secrets or not shopify_signature_valid(
        secrets=secrets, body=body, header=headers.get("X-Shopify-Hmac-Sha256")
    ):
        raise _signature_invalid()
    data = _parse_body(body)
    webhook_id = (headers.get("X-Shopify-Webhook-Id") or "").strip()
    topic = (headers.get("X-Shopify-Topic") or "").strip()
    if not webhook_id or not topic or len(webhook_id) > 255 or len(topic) > 100:
        raise _body_invalid("X-Shopify-Webhook-Id and X-Shopify-Topic are required.")
    _shopify_topic_check(topic, data, headers)
    extra: dict = {
        "headers": {name: headers[name] for name in SHOPIFY_HEADERS if name in headers},
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    if topic not in TOPICS:
        extra |= {"status": DeliveryStatus.IGNORED, "last_error": f"{topic} is not a topic we use."}
    with transaction.atomic():
        _shop_bind(config, headers)
        return _record(
            merchant,
            source=DeliverySource.SHOPIFY,
            delivery_id=webhook_id,
            topic=topic,
            body=data,
            now=now,
            **extra,
        )


def tracking_delivery_receive(
    *, merchant_slug: str, body: bytes, headers: Mapping[str, str], now: datetime | None = None
) -> tuple[InboundDelivery, bool]:
    """Verify and record a carrier tracking webhook (signature and timestamp checked first)."""
    now = now or timezone.now()
    merchant, config = _config_for_slug(merchant_slug)
    secrets = _secrets(config, "tracking", now)
    if not secrets or not tracking_signature_valid(
        secrets=secrets, body=body, header=headers.get("X-Tracking-Signature"), now=now
    ):
        raise _signature_invalid()
    data = _parse_body(body)
    try:
        delivery_id = tracking_delivery_id(data)
    except DomainError as error:
        raise _body_invalid(error.message) from None
    with transaction.atomic():
        return _record(
            merchant,
            source=DeliverySource.TRACKING,
            delivery_id=delivery_id,
            topic=TRACKING_TOPIC,
            body=data,
            now=now,
        )


def _enqueue(delivery_id: int, merchant_id: int) -> None:
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


# --- processing -------------------------------------------------------------------------------


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
        if order_id is not None and order_id not in orders and len(chosen) < BATCH_MAX - 1:
            orders.add(order_id)
            chosen.append(pk)
    return list(
        InboundDelivery.objects.select_for_update(skip_locked=True)
        .filter(pk__in=chosen, status=DeliveryStatus.RECEIVED, attempts=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _waiting(delivery: InboundDelivery) -> bool:
    if delivery.status in SETTLED:
        return False
    return not (delivery.status == DeliveryStatus.FAILED and not delivery.next_attempt_at)


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
    for delivery in deliveries:
        try:
            payload = handlers.shopify_order_plain(merchant=merchant, delivery=delivery)
        except DomainError as error:
            _settle(delivery, error, now)
            continue
        if payload is None:
            _settle(delivery, _handle(merchant, delivery, now), now)
        else:
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
            if status in SETTLED or (status == DeliveryStatus.FAILED and not next_attempt_at):
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
            _enqueue(delivery_id, merchant_id)

    return sweep(
        InboundDelivery.unscoped.all(),
        now=now or timezone.now(),
        lease=PROCESS_GRACE,
        batch=batch_size,
        enqueue=enqueue,
    )
