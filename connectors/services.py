"""Writes of the connectors app: the merchant's webhook secrets and receiving a delivery
(verify, record, enqueue). Processing it, and the sweep that re-finds lost or failed ones, are
``connectors.processing``.

Receiving is kept small so the sender gets its answer fast: the signature is checked before
anything is stored, the delivery row is the inbox (its unique constraint dedupes the sender's
retries), and the work is done by ``connectors.processing.inbound_delivery_process`` after
commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import DataError, IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from connectors.errors import ConnectorsErrorCode
from connectors.models import DeliverySource, DeliveryStatus, InboundConfig, InboundDelivery
from connectors.processing import PROCESS_GRACE, delivery_enqueue
from connectors.shopify import (
    TOPICS,
    shopify_body_fits_topic,
    shopify_shop_domain,
)
from connectors.signatures import (
    aftership_signature_valid,
    easypost_signature_valid,
    shippo_token_valid,
    shopify_secret_fingerprints,
    shopify_signature_valid,
    tracking_signature_valid,
)
from connectors.tracking import tracking_delivery_id
from connectors.tracking_feeds import FEED_TOPICS, FEEDS, NAMES, feed_event
from postpurchase.crypto import random_secret
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant

logger = logging.getLogger(__name__)

# How long a replaced secret keeps verifying (Shopify says a new app secret can take up to an
# hour to be used for signing; carriers' systems are updated by hand).
PREVIOUS_SECRET_GRACE = timedelta(hours=24)
TRACKING_SECRET_PREFIX = "trk_"  # noqa: S105 (a prefix, not a secret)
TRACKING_TOPIC = "tracking/update"
SHIPPO_TOKEN_PREFIX = "shp_"  # noqa: S105 (a prefix, not a secret)
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


def _feed_check(vendor: str) -> str:
    if vendor not in FEEDS:
        raise DomainError(
            ConnectorsErrorCode.INVALID, f"{vendor!r} is not a tracking service we take"
        )
    return vendor


def _feed_secret_store(merchant: Merchant, vendor: str, secret: str, now: datetime):
    """Store ``secret`` as the vendor's, under the config's row lock; the one it replaces keeps
    verifying for ``PREVIOUS_SECRET_GRACE``."""
    with transaction.atomic():
        config = _config_locked(merchant)
        current = getattr(config, f"{vendor}_secret")
        if current and current != secret:
            setattr(config, f"{vendor}_previous_secret", current)
            setattr(config, f"{vendor}_previous_expires_at", now + PREVIOUS_SECRET_GRACE)
        setattr(config, f"{vendor}_secret", secret)
        setattr(config, f"{vendor}_secret_set_at", now)
        config.updated_at = now
        config.save()
    return config


def feed_secret_set(
    *, merchant: Merchant, vendor: str, secret: str, now: datetime | None = None
) -> InboundConfig:
    """Keep the webhook secret the merchant set in EasyPost or copied from AfterShip
    (Settings → Webhooks there), so that service's deliveries verify here. Never logged."""
    vendor = _feed_check(vendor)
    if vendor == "shippo":
        raise DomainError(
            ConnectorsErrorCode.INVALID,
            "Shippo does not sign its webhooks: generate a Shippo token instead.",
            field="secret",
        )
    secret = (secret or "").strip()
    if not 8 <= len(secret) <= 255 or any(ch.isspace() for ch in secret):
        raise DomainError(
            ConnectorsErrorCode.INVALID,
            f"Paste the webhook secret exactly as {NAMES[vendor]} has it (8 to 255 "
            "characters, no spaces).",
            field="secret",
        )
    return _feed_secret_store(merchant, vendor, secret, now or timezone.now())


def shippo_token_rotate(
    *, merchant: Merchant, now: datetime | None = None
) -> tuple[InboundConfig, str]:
    """Generate the token Shippo's webhook URL carries (``?token=``) and return it, the only
    time it is shown; the previous one keeps working for a while."""
    token = SHIPPO_TOKEN_PREFIX + random_secret(32)
    return _feed_secret_store(merchant, "shippo", token, now or timezone.now()), token


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
        transaction.on_commit(lambda: delivery_enqueue(delivery.pk, merchant.pk))
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


def _feed_authentic(
    vendor: str, secrets: list[str], body: bytes, headers: Mapping[str, str], token: str | None
) -> bool:
    if vendor == "easypost":
        return easypost_signature_valid(
            secrets=secrets, body=body, header=headers.get("X-Hmac-Signature")
        )
    if vendor == "aftership":
        return aftership_signature_valid(
            secrets=secrets, body=body, header=headers.get("aftership-hmac-sha256")
        )
    return shippo_token_valid(secrets=secrets, token=token)


def feed_delivery_receive(
    *,
    vendor: str,
    merchant_slug: str,
    body: bytes,
    headers: Mapping[str, str],
    token: str | None = None,
    now: datetime | None = None,
) -> tuple[InboundDelivery, bool]:
    """Verify and record a webhook of EasyPost, Shippo or AfterShip (``tracking_feeds.FEEDS``)
    sent to the merchant's URL for it: EasyPost's and AfterShip's signatures, Shippo's URL
    token, each checked against the secret the merchant keeps for that service, before anything
    is stored (``signature_invalid`` otherwise). A tracking update is recorded and processed as
    our own tracking webhook's are; any other event of the service is recorded as *ignored*,
    its body not kept. Deduped on the service's event id and on the body's digest."""
    now = now or timezone.now()
    vendor = _feed_check(vendor)
    merchant, config = _config_for_slug(merchant_slug)
    secrets = _secrets(config, vendor, now)
    if not secrets or not _feed_authentic(vendor, secrets, body, headers, token):
        raise _signature_invalid()
    data = _parse_body(body)
    digest = hashlib.sha256(body).hexdigest()
    try:
        event = feed_event(vendor, data, body_sha256=digest)
    except DomainError as error:
        raise _body_invalid(error.message) from None
    extra: dict = {"body_sha256": digest}
    if not event.tracking:
        # Nothing of it is used: only its name is kept, not what it says (addresses, rates).
        data = {"event": event.name}
        extra |= {
            "status": DeliveryStatus.IGNORED,
            "last_error": f"{NAMES[vendor]} event {event.name or '(unnamed)'} is not a "
            "tracking update.",
        }
    with transaction.atomic():
        return _record(
            merchant,
            source=DeliverySource.TRACKING,
            delivery_id=event.delivery_id,
            topic=FEED_TOPICS[vendor],
            body=data,
            now=now,
            **extra,
        )
