"""Limits on what a merchant sends through the platform's own providers (a merchant with its own
ESP or Twilio account answers to that provider instead).

- A daily quota per channel (``PLATFORM_EMAIL_DAILY_QUOTA``, ``PLATFORM_SMS_DAILY_QUOTA``),
  counted per merchant and local day in ``PlatformSendCount``. A run of the hand-off takes the
  slots it needs in one locked update before sending; a message past the quota is held
  (deferred to the merchant's next midnight, reason ``daily_quota``), not lost, and its attempt
  is not counted. Slots of messages a run did not get to are given back.
- Texts on the platform's Twilio account go only to the merchant's country and
  ``PLATFORM_SMS_COUNTRIES``; any other number fails with reason ``country_not_allowed`` (with
  no account at all, in the embedded mode, texts only reach the log and go anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.db import transaction
from django.db.models import F

from notifications import channels
from notifications.channels import SendOutcome
from notifications.errors import NotificationsErrorCode
from notifications.models import Channel, Message, PlatformSendCount
from postpurchase.tenancy.models import Merchant

# Why a message was held (``Message.reason``). A number refused here is refused with the same
# word when a team member adds it as a test phone (the error code), so it is spelled once.
QUOTA_REASON = "daily_quota"
COUNTRY_REASON = str(NotificationsErrorCode.COUNTRY_NOT_ALLOWED)


def on_platform(channel: str, channel_settings) -> bool:
    """Whether ``channel``'s messages go through the platform's provider for this merchant."""
    if channel == Channel.EMAIL:
        return not (channel_settings is not None and channel_settings.email_provider)
    return not (channel_settings is not None and channel_settings.has_own_sms)


def daily_quota(channel: str) -> int:
    """Messages a merchant may hand to the platform's provider per local day (0: no limit)."""
    if channel == Channel.EMAIL:
        return settings.PLATFORM_EMAIL_DAILY_QUOTA
    return settings.PLATFORM_SMS_DAILY_QUOTA


def _zone(merchant: Merchant) -> ZoneInfo:
    try:
        return ZoneInfo(merchant.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quota_day(merchant: Merchant, now: datetime) -> tuple[date, datetime]:
    """The merchant's local day at ``now`` and the moment the next one starts."""
    zone = _zone(merchant)
    local = now.astimezone(zone)
    next_day = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
    return local.date(), next_day.astimezone(now.tzinfo)


def quota_take(*, merchant: Merchant, channel: str, wanted: int, now: datetime) -> int:
    """Take up to ``wanted`` of today's slots; returns how many were granted."""
    quota = daily_quota(channel)
    if wanted <= 0 or quota <= 0:
        return max(wanted, 0)
    day, _ = quota_day(merchant, now)
    with transaction.atomic():
        PlatformSendCount.unscoped.get_or_create(merchant=merchant, channel=channel, day=day)
        row = PlatformSendCount.unscoped.select_for_update().get(
            merchant=merchant, channel=channel, day=day
        )
        granted = max(0, min(wanted, quota - row.count))
        if granted:
            row.count += granted
            row.save(update_fields=["count"])
    return granted


def quota_give_back(*, merchant: Merchant, channel: str, count: int, now: datetime) -> None:
    if count <= 0 or daily_quota(channel) <= 0:
        return
    day, _ = quota_day(merchant, now)
    PlatformSendCount.unscoped.filter(
        merchant=merchant, channel=channel, day=day, count__gte=count
    ).update(count=F("count") - count)


def sms_countries_apply(channel_settings) -> bool:
    """Texts are limited to the merchant's countries on the platform's own Twilio account (not
    on a merchant's account, nor when texts only go to the log: no account at all)."""
    return (
        on_platform(Channel.SMS, channel_settings)
        and channels.sms_route(channel_settings).configured
    )


def sms_allowed_countries(merchant: Merchant) -> list[str]:
    return sorted({c for c in [merchant.country, *settings.PLATFORM_SMS_COUNTRIES] if c})


def sms_country_refusal(merchant: Merchant, to: str) -> str:
    """Why ``to`` may not be texted through the platform's Twilio ("" when it may)."""
    allowed = sms_allowed_countries(merchant)
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(to, None)) or "?"
    except phonenumbers.NumberParseException:
        region = "?"
    if region in allowed:
        return ""
    countries = ", ".join(allowed) or "no country (set your store's country)"
    return (
        f"Texts through our Twilio account go to numbers in {countries} only; {to} is in "
        f"{region}. Use your own Twilio account to text other countries."
    )


@dataclass
class PlatformAllowance:
    """A run's decisions for the platform's providers: messages held or refused, by id, and
    the slots taken, by channel."""

    merchant: Merchant
    held: dict[int, SendOutcome] = field(default_factory=dict)
    granted: dict[str, set[int]] = field(default_factory=dict)

    def give_back(self, messages: list[Message], *, now: datetime) -> None:
        """Return the slots of messages the run did not attempt."""
        for channel, ids in self.granted.items():
            unused = sum(1 for message in messages if message.pk in ids)
            quota_give_back(merchant=self.merchant, channel=channel, count=unused, now=now)


def platform_allowance(
    *, merchant: Merchant, messages: list[Message], channel_settings, now: datetime
) -> PlatformAllowance:
    """Which of ``messages`` (claimed, about to be sent) the platform's limits hold back."""
    allowance = PlatformAllowance(merchant)
    _, reset_at = quota_day(merchant, now)
    for channel in Channel.values:
        if not on_platform(channel, channel_settings):
            continue
        candidates = [m for m in messages if m.channel == channel]
        if channel == Channel.SMS and sms_countries_apply(channel_settings):
            for message in candidates:
                refusal = sms_country_refusal(merchant, message.to)
                if refusal:
                    allowance.held[message.pk] = SendOutcome(
                        False, "twilio", reason=COUNTRY_REASON, detail=refusal
                    )
            candidates = [m for m in candidates if m.pk not in allowance.held]
        granted = quota_take(merchant=merchant, channel=channel, wanted=len(candidates), now=now)
        allowance.granted[channel] = {m.pk for m in candidates[:granted]}
        quota = daily_quota(channel)
        local = reset_at.astimezone(_zone(merchant)).strftime("%Y-%m-%d %H:%M %Z")
        detail = (
            f"Held: the daily limit of {quota} {channel} messages on our provider is reached; "
            f"it goes from {local}. Use your own provider to send more."
        )
        for message in candidates[granted:]:
            allowance.held[message.pk] = SendOutcome(
                False, "platform", reason=QUOTA_REASON, detail=detail, hold_until=reset_at
            )
    return allowance
