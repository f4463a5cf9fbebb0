"""Who a test send may go to: the merchant's own team, never a stranger.

- A test email goes to a team member's sign-in address (the account's email: the member proved
  it when the account was made or invited).
- A test text goes to a number a member verified: a six-digit code texted to it and typed back
  within ``CODE_TTL`` (``verified_phone_add``, then ``verified_phone_confirm``). Codes are kept
  hashed; each number gets ``CODE_COOLDOWN`` between codes and ``CODES_PER_DAY``, a code takes
  ``MAX_WRONG`` wrong guesses, and a merchant starts at most ``NEW_NUMBERS_PER_HOUR`` numbers'
  verifications an hour. On the platform's Twilio the number must be in the merchant's
  countries, like any text.
- A merchant makes at most ``TEST_SENDS_PER_HOUR`` test sends an hour (``send_test_throttle``).
"""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from notifications import channels, platform_limits
from notifications.errors import NotificationsErrorCode
from notifications.models import Channel, ChannelSettings, Message, VerifiedPhone
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import to_e164

CODE_TTL = timedelta(minutes=10)
CODE_COOLDOWN = timedelta(seconds=60)
CODES_PER_DAY = 5
MAX_WRONG = 5
NEW_NUMBERS_PER_HOUR = 10


def team_emails(merchant: Merchant) -> list[str]:
    """The sign-in addresses of the merchant's active members, lower-cased."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(memberships__merchant=merchant, is_active=True)
    return sorted({email.lower() for email in users.values_list("email", flat=True) if email})


def team_phones(merchant: Merchant) -> list[str]:
    return list(
        VerifiedPhone.unscoped.filter(merchant=merchant, verified_at__isnull=False)
        .order_by("phone")
        .values_list("phone", flat=True)
    )


def team_recipient_check(*, merchant: Merchant, channel: str, to: str) -> None:
    """Refuse a test to anyone but the team (``to`` as stored: lower-cased email, E.164)."""
    if channel == Channel.EMAIL and to.lower() not in team_emails(merchant):
        raise DomainError(
            NotificationsErrorCode.RECIPIENT_NOT_VERIFIED,
            "Test emails go only to your team's own addresses (a member's sign-in email).",
            field="to",
        )
    if channel == Channel.SMS and to not in team_phones(merchant):
        raise DomainError(
            NotificationsErrorCode.RECIPIENT_NOT_VERIFIED,
            "Test texts go only to numbers your team verified: add this one under "
            "Settings › Messages › Test phones first.",
            field="to",
        )


def send_test_throttle(*, merchant: Merchant, now: datetime) -> None:
    """Refuse a test send past the hourly limit. Call inside the transaction that writes the
    test: the merchant's row is locked, so two tests at once count one after the other."""
    Merchant.objects.select_for_update(no_key=True).filter(pk=merchant.pk).first()
    limit = settings.TEST_SENDS_PER_HOUR
    recent = Message.unscoped.filter(
        merchant=merchant,
        idempotency_key__startswith="test:",
        created_at__gt=now - timedelta(hours=1),
    ).count()
    if recent >= limit:
        raise DomainError(
            NotificationsErrorCode.THROTTLED,
            f"At most {limit} test sends an hour; try again later.",
            field="to",
        )


# --- verified phones --------------------------------------------------------------------------


def _code_hash(merchant: Merchant, phone: str, code: str) -> str:
    return salted_hmac(
        "notifications.verified_phone", f"{merchant.pk}:{phone}:{code}", algorithm="sha256"
    ).hexdigest()


def _phone(merchant: Merchant, phone: str) -> str:
    try:
        return to_e164(phone, merchant.country or None)
    except ValueError:
        raise DomainError(
            NotificationsErrorCode.INVALID,
            "must be a phone number, such as +14155550123",
            field="phone",
        ) from None


def _may_send_code(merchant: Merchant, row: VerifiedPhone, now: datetime) -> None:
    if row.code_sent_at and now - row.code_sent_at < CODE_COOLDOWN:
        seconds = math.ceil((CODE_COOLDOWN - (now - row.code_sent_at)).total_seconds())
        raise DomainError(
            NotificationsErrorCode.THROTTLED,
            f"Wait {seconds} s before asking for another code.",
            field="phone",
        )
    if row.codes_window_start is None or now - row.codes_window_start >= timedelta(days=1):
        row.codes_sent, row.codes_window_start = 0, now
    if row.codes_sent >= CODES_PER_DAY:
        raise DomainError(
            NotificationsErrorCode.THROTTLED,
            f"At most {CODES_PER_DAY} codes a day for one number.",
            field="phone",
        )
    if row.code_sent_at is None or now - row.code_sent_at >= timedelta(hours=1):
        started = (
            VerifiedPhone.unscoped.filter(
                merchant=merchant, code_sent_at__gt=now - timedelta(hours=1)
            )
            .exclude(pk=row.pk)
            .count()
        )
        if started >= NEW_NUMBERS_PER_HOUR:
            raise DomainError(
                NotificationsErrorCode.THROTTLED,
                f"At most {NEW_NUMBERS_PER_HOUR} numbers an hour; try again later.",
                field="phone",
            )


def verified_phone_add(
    *, merchant: Merchant, phone: str, by=None, now: datetime | None = None
) -> VerifiedPhone:
    """Text a code to ``phone`` (through the merchant's SMS route) for a member to type back.
    A number already verified is returned as it is."""
    now = now or timezone.now()
    phone = _phone(merchant, phone)
    channel_settings = ChannelSettings.unscoped.filter(merchant=merchant).first()
    if platform_limits.sms_countries_apply(channel_settings):
        refusal = platform_limits.sms_country_refusal(merchant, phone)
        if refusal:
            raise DomainError(NotificationsErrorCode.COUNTRY_NOT_ALLOWED, refusal, field="phone")
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        VerifiedPhone.unscoped.get_or_create(merchant=merchant, phone=phone)
        row = VerifiedPhone.unscoped.select_for_update().get(merchant=merchant, phone=phone)
        if row.verified_at:
            return row
        _may_send_code(merchant, row, now)
        row.code_hash, row.code_sent_at, row.attempts = _code_hash(merchant, phone, code), now, 0
        row.codes_sent += 1
        row.added_by = by if getattr(by, "pk", None) else row.added_by
        row.save()
    body = (
        f"{code} is your code to receive test texts from {merchant.name}. It expires in 10 minutes."
    )
    outcome = channels.sms_send(route=channels.sms_route(channel_settings), to=phone, body=body)
    if not outcome.accepted:
        raise DomainError(
            NotificationsErrorCode.VERIFICATION_CODE_NOT_SENT,
            f"The code could not be texted: {outcome.detail}",
            field="phone",
        )
    return row


def verified_phone_confirm(
    *, merchant: Merchant, phone: str, code: str, now: datetime | None = None
) -> VerifiedPhone:
    """Verify ``phone`` with the code texted to it. A wrong code counts toward ``MAX_WRONG``."""
    now = now or timezone.now()
    phone = _phone(merchant, phone)
    code = "".join((code or "").split())
    with transaction.atomic():
        row = (
            VerifiedPhone.unscoped.select_for_update()
            .filter(merchant=merchant, phone=phone)
            .first()
        )
        if row is not None and row.verified_at:
            return row
        if row is None or not row.code_hash:
            raise DomainError(
                NotificationsErrorCode.VERIFICATION_CODE_NOT_REQUESTED,
                "Ask for a code for this number first.",
                field="code",
            )
        if row.attempts >= MAX_WRONG:
            raise DomainError(
                NotificationsErrorCode.VERIFICATION_CODE_LOCKED,
                "This code was guessed wrong too often: ask for a new one.",
                field="code",
            )
        if now - row.code_sent_at > CODE_TTL:
            raise DomainError(
                NotificationsErrorCode.VERIFICATION_CODE_EXPIRED,
                "This code has expired: ask for a new one.",
                field="code",
            )
        if not hmac.compare_digest(row.code_hash, _code_hash(merchant, phone, code)):
            row.attempts += 1
            row.save(update_fields=["attempts"])
            wrong = True
        else:
            row.verified_at, row.code_hash, wrong = now, "", False
            row.save(update_fields=["verified_at", "code_hash"])
    if wrong:  # raised after the commit, so the wrong guess stays counted
        left = MAX_WRONG - row.attempts
        raise DomainError(
            NotificationsErrorCode.VERIFICATION_CODE_WRONG,
            f"That is not the code ({left} tries left).",
            field="code",
        )
    return row


def verified_phone_remove(*, merchant: Merchant, phone_id: int) -> None:
    deleted, _ = VerifiedPhone.unscoped.filter(merchant=merchant, pk=phone_id).delete()
    if not deleted:
        raise DomainError(ErrorCode.NOT_FOUND, "No such number.")
