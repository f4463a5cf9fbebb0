"""Sending on the platform's providers: a daily quota per merchant (past it messages wait for
the merchant's next day, with the reason in the log) and texts only to the merchant's
countries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from notifications import delivery
from notifications.models import (
    ChannelSettings,
    Message,
    MessageEvent,
    MessageStatus,
    PlatformSendCount,
)
from tests.notifications.twilio_http import recording

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # 11:00 in New York
NEXT_DAY = datetime(2026, 6, 3, 4, 0, tzinfo=UTC)  # midnight in New York


@pytest.fixture
def platform_mail(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SITE_URL = "https://app.example"
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def platform_twilio(settings):
    settings.SITE_URL = "https://app.example"
    settings.TWILIO_ACCOUNT_SID = "AC" + "ffeeddccbbaa99887766554433221100"
    settings.TWILIO_AUTH_TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    with recording(settings) as twilio:
        yield twilio


def queued(merchant, channel: str, to: str, key: str) -> Message:
    content = {"sms": "Shipped"} if channel == "sms" else {"subject": "Hi", "text": "Hi"}
    return Message.unscoped.create(
        merchant=merchant,
        idempotency_key=key,
        channel=channel,
        category="transactional",
        to=to,
        status=MessageStatus.QUEUED,
        claim="c1",
        next_attempt_at=NOON,
        created_at=NOON,
        updated_at=NOON,
        **content,
    )


def deliver(merchant, messages, now=NOON, claim="c1"):
    delivery.messages_deliver(
        merchant=merchant, message_ids=[m.pk for m in messages], claim=claim, now=now
    )


def test_past_the_daily_quota_an_email_waits_for_the_merchants_next_day(
    merchant_a, platform_mail, settings
):
    # given
    settings.PLATFORM_EMAIL_DAILY_QUOTA = 2
    messages = [queued(merchant_a, "email", f"c{i}@example.com", f"k{i}") for i in range(3)]
    # when
    deliver(merchant_a, messages)
    # then
    held = Message.unscoped.get(pk=messages[2].pk)
    assert [m.to[0] for m in platform_mail] == ["c0@example.com", "c1@example.com"]
    assert (held.status, held.reason, held.next_attempt_at, held.deferred_until) == (
        "deferred",
        "daily_quota",
        NEXT_DAY,
        NEXT_DAY,
    )
    assert held.detail == (
        "Held: the daily limit of 2 email messages on our provider is reached; it goes from "
        "2026-06-03 00:00 EDT. Use your own provider to send more."
    )
    assert (held.attempts, held.first_attempt_at) == (0, None)  # a hold is not an attempt
    assert list(MessageEvent.unscoped.filter(message=held).values_list("status", "reason")) == [
        ("sending", ""),
        ("deferred", "daily_quota"),
    ]
    assert PlatformSendCount.unscoped.get(merchant=merchant_a).count == 2
    # when: the next day's sweep claims it
    assert delivery.messages_due_sweep(now=NEXT_DAY - timedelta(seconds=1)) == []
    [due] = delivery.messages_due_sweep(now=NEXT_DAY)
    deliver(merchant_a, [held], now=NEXT_DAY, claim=Message.unscoped.get(pk=due).claim)
    # then
    assert Message.unscoped.get(pk=held.pk).status == "sent"
    counts = PlatformSendCount.unscoped.filter(merchant=merchant_a).order_by("day")
    assert [(str(row.day), row.count) for row in counts] == [("2026-06-02", 2), ("2026-06-03", 1)]


def test_the_quota_is_each_merchants_own(merchant_a, merchant_b, platform_mail, settings):
    # given: merchant A used its whole day
    settings.PLATFORM_EMAIL_DAILY_QUOTA = 1
    deliver(merchant_a, [queued(merchant_a, "email", "a@example.com", "a1")])
    # when
    deliver(merchant_b, [queued(merchant_b, "email", "b@example.com", "b1")])
    # then
    assert [m.to for m in platform_mail] == [["a@example.com"], ["b@example.com"]]


def test_a_merchants_own_provider_has_no_platform_quota(merchant_a, settings):
    # given
    settings.PLATFORM_EMAIL_DAILY_QUOTA = 1
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    from tests.notifications.test_delivery import FakeEsp

    esp = FakeEsp()
    ChannelSettings.unscoped.create(
        merchant=merchant_a,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "pm", "api_url": esp.url}),
    )
    messages = [queued(merchant_a, "email", f"c{i}@example.com", f"k{i}") for i in range(2)]
    # when
    deliver(merchant_a, messages)
    esp.server.shutdown()
    # then
    assert [m.status for m in Message.unscoped.order_by("pk")] == ["sent", "sent"]
    assert PlatformSendCount.unscoped.count() == 0


def test_texts_on_our_twilio_go_only_to_the_merchants_countries(
    merchant_a, platform_twilio, settings
):
    # given: merchant A is in the US; the platform also allows Canada
    settings.PLATFORM_SMS_COUNTRIES = ["CA"]
    us, ca, gb = (
        queued(merchant_a, "sms", "+14155550123", "us"),
        queued(merchant_a, "sms", "+16045550123", "ca"),
        queued(merchant_a, "sms", "+447400123456", "gb"),
    )
    # when
    deliver(merchant_a, [us, ca, gb])
    # then
    assert [r.data["To"] for r in platform_twilio.requests] == ["+14155550123", "+16045550123"]
    refused = Message.unscoped.get(pk=gb.pk)
    assert (refused.status, refused.reason, refused.detail) == (
        "failed",
        "country_not_allowed",
        "Texts through our Twilio account go to numbers in CA, US only; +447400123456 is in GB. "
        "Use your own Twilio account to text other countries.",
    )
    assert PlatformSendCount.unscoped.get(merchant=merchant_a, channel="sms").count == 2


def test_past_the_daily_sms_quota_a_text_is_held(merchant_a, platform_twilio, settings):
    # given
    settings.PLATFORM_SMS_DAILY_QUOTA = 1
    first, second = (
        queued(merchant_a, "sms", "+14155550123", "k1"),
        queued(merchant_a, "sms", "+14155550124", "k2"),
    )
    # when
    deliver(merchant_a, [first, second])
    # then
    assert len(platform_twilio.requests) == 1
    held = Message.unscoped.get(pk=second.pk)
    assert (held.status, held.reason, held.next_attempt_at) == ("deferred", "daily_quota", NEXT_DAY)


def test_a_run_that_stops_early_gives_back_the_slots_it_did_not_use(
    merchant_a, platform_mail, settings
):
    # given: three emails; the clock passes the send budget after the first
    settings.PLATFORM_EMAIL_DAILY_QUOTA = 10
    messages = [queued(merchant_a, "email", f"c{i}@example.com", f"k{i}") for i in range(3)]
    ticks = iter([0.0] + [0.0] * 2 + [delivery.SEND_BUDGET.total_seconds() + 1] * 10)
    # when
    delivery.messages_deliver(
        merchant=merchant_a,
        message_ids=[m.pk for m in messages],
        claim="c1",
        now=NOON,
        clock=lambda: next(ticks),
    )
    # then
    sent = Message.unscoped.filter(status="sent").count()
    assert sent < 3
    assert PlatformSendCount.unscoped.get(merchant=merchant_a).count == sent
    assert len(platform_mail) == sent
