"""Writes for tenancy: merchants, memberships and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from postpurchase.errors import DomainError
from postpurchase.tenancy.errors import TenancyErrorCode
from postpurchase.tenancy.lifecycle import deactivation_handlers
from postpurchase.tenancy.models import ApiKey, ApiKeyScope, Membership, Merchant, User
from postpurchase.tenancy.permissions import Role

API_KEY_PREFIX = "ppk"
# last_used_at is written at most this often per key, so authentication stays a read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    plaintext: str  # shown once, never stored


def _hash_secret(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is as safe as a slow one here and keeps
    # each API request cheap (the same reasoning GitHub and Stripe tokens follow).
    return hashlib.sha256(secret.encode()).hexdigest()


def merchant_create(
    *,
    slug: str,
    name: str,
    owner: User | None = None,
    **attributes,
) -> Merchant:
    merchant = Merchant(slug=slug, name=name, **attributes)
    merchant.full_clean()
    with transaction.atomic():
        merchant.save()
        if owner is not None:
            Membership.objects.create(user=owner, merchant=merchant, role=Role.OWNER)
    return merchant


def merchant_deactivate(*, merchant: Merchant, now: datetime | None = None) -> dict[str, int]:
    """Turn a merchant off: nothing of theirs leaves the platform from now on.

    In one transaction, with the merchant's row locked: ``is_active`` goes false, and every
    registered handler stops what was still to go (messages due a send are cancelled with the
    reason ``merchant_deactivated``, live journeys are paused, pending webhook deliveries are
    cancelled). Tasks already queued refuse to run (``merchant_task``), sweeps and ticks skip
    the merchant, and a send already claimed is checked again just before it goes. Calling it
    for an inactive merchant stops whatever was written since. Returns what each handler
    stopped, by its name."""
    now = now or timezone.now()
    with transaction.atomic():
        # FOR NO KEY UPDATE: a hand-off writing its timeline (a foreign key to this row) holds
        # its messages and wants a key-share lock here, which FOR UPDATE would make a deadlock
        locked = Merchant.objects.select_for_update(no_key=True).get(pk=merchant.pk)
        if locked.is_active:
            locked.is_active = False
            locked.save(update_fields=["is_active"])
        stopped = deactivation_handlers.run(merchant=locked, now=now)
    merchant.is_active = False
    for prefix, (_, api_key) in list(_recent_keys.items()):
        if api_key.merchant_id == merchant.pk:
            _recent_keys.pop(prefix, None)
    return stopped


def merchant_reactivate(*, merchant: Merchant) -> Merchant:
    """Turn a merchant back on. Only that: what deactivation stopped stays stopped (cancelled
    messages and deliveries are not sent; paused journeys wait for the merchant to resume
    each one). Work that was held, not cancelled (inbound store webhooks received meanwhile,
    events recorded) is picked up by the sweeps."""
    with transaction.atomic():
        locked = Merchant.objects.select_for_update(no_key=True).get(pk=merchant.pk)
        if not locked.is_active:
            locked.is_active = True
            locked.save(update_fields=["is_active"])
    merchant.is_active = True
    return merchant


def membership_set(*, user: User, merchant: Merchant, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(TenancyErrorCode.UNKNOWN_ROLE, f"Unknown role {role!r}.", field="role")
    membership, _ = Membership.objects.update_or_create(
        user=user, merchant=merchant, defaults={"role": role}
    )
    return membership


def api_key_create(
    *,
    merchant: Merchant,
    name: str,
    scope: str = ApiKeyScope.WRITE,
    created_by: User | None = None,
) -> IssuedApiKey:
    name = name.strip()
    if not name:
        raise DomainError(TenancyErrorCode.REQUIRED, "A key needs a name.", field="name")
    if scope not in ApiKeyScope.values:
        raise DomainError(
            TenancyErrorCode.UNKNOWN_SCOPE, f"Unknown scope {scope!r}.", field="scope"
        )
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        merchant=merchant,
        name=name,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        scope=scope,
        created_by=created_by,
    )
    return IssuedApiKey(api_key=api_key, plaintext=f"{API_KEY_PREFIX}_{prefix}_{secret}")


# Keys this process authenticated lately, by prefix: (when loaded, the key with its merchant).
# Saves a query on every API request; a revoked key or a deactivated merchant is refused by
# every process within API_KEY_CACHE_SECONDS (at once by the process that revoked it).
_recent_keys: dict[str, tuple[float, ApiKey]] = {}
RECENT_KEYS_MAX = 10_000
_clock = time.monotonic  # tests replace it


def _active_key(prefix: str) -> ApiKey | None:
    ttl = settings.API_KEY_CACHE_SECONDS
    held = _recent_keys.get(prefix)
    if held is not None and _clock() - held[0] < ttl:
        return held[1]
    api_key = (
        ApiKey.objects.select_related("merchant")
        .filter(prefix=prefix, revoked_at__isnull=True, merchant__is_active=True)
        .first()
    )
    if api_key is None or ttl <= 0:
        _recent_keys.pop(prefix, None)
        return api_key
    if len(_recent_keys) >= RECENT_KEYS_MAX:
        _recent_keys.clear()
    _recent_keys[prefix] = (_clock(), api_key)
    return api_key


def api_key_authenticate(*, plaintext: str, now: datetime | None = None) -> ApiKey | None:
    """The active key for ``plaintext``, or ``None``.

    Touches ``last_used_at`` at most once a minute, so authenticating stays a read."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    _, prefix, secret = parts
    api_key = _active_key(prefix)
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, _hash_secret(secret)):
        return None
    now = now or timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_key_revoke(*, api_key: ApiKey, now: datetime | None = None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = now or timezone.now()
        api_key.save(update_fields=["revoked_at"])
    _recent_keys.pop(api_key.prefix, None)
    return api_key


BRAND_FIELDS = (
    "name",
    "timezone",
    "currency",
    "country",
    "default_locale",
    "logo",
    "logo_url",
    "primary_colour",
    "accent_colour",
    "sender_name",
    "sender_email",
    "support_email",
    "support_url",
    "postal_address",
)


def merchant_brand_update(*, merchant: Merchant, data: dict[str, Any]) -> Merchant:
    """Apply the brand and sending-identity settings in ``data`` (other keys are refused).

    ``data["logo"]`` is a new image file (validated by the caller), stored through the field's
    storage when the merchant is saved, or ``None`` to remove the logo. The previous file is
    kept: emails already sent still point at it.
    """
    unknown = set(data) - set(BRAND_FIELDS)
    if unknown:
        raise DomainError(
            TenancyErrorCode.UNKNOWN_SETTING,
            f"Not a brand setting: {', '.join(sorted(unknown))}.",
        )
    for name, value in data.items():
        if name == "logo":
            merchant.logo = value or ""
        else:
            setattr(merchant, name, value)
    try:
        merchant.full_clean()
    except ValidationError as exc:
        fields = {
            name: [{"code": TenancyErrorCode.INVALID, "message": message} for message in messages]
            for name, messages in exc.message_dict.items()
        }
        raise DomainError(
            TenancyErrorCode.INVALID, "Some settings are not valid.", fields=fields
        ) from None
    merchant.save(update_fields=list(data))
    return merchant


def team_member_role_change(*, membership: Membership, role: str) -> Membership:
    """Give a member a new role, refusing to leave the merchant without an owner.

    The owners' rows are locked first, so two owners demoting each other at the same moment
    cannot both succeed."""
    with transaction.atomic():
        owner_ids = set(
            Membership.objects.select_for_update()
            .filter(merchant_id=membership.merchant_id, role=Role.OWNER)
            .values_list("pk", flat=True)
        )
        if role != Role.OWNER and owner_ids == {membership.pk}:
            raise DomainError(
                TenancyErrorCode.LAST_OWNER,
                "A merchant needs at least one owner: make someone else an owner first.",
                field="role",
            )
        return membership_set(user=membership.user, merchant=membership.merchant, role=role)
