"""What must hold when things go wrong in a hand-off: a merchant's provider never runs on the
platform's credentials, an unexpected error fails one message and not the run, a slow run
hands back what it did not start, a late report ends a retry, and the cap counts a deferred
message from when it went."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from notifications import delivery
from notifications.models import ChannelSettings, Message, MessageEvent, SendingPolicy
from notifications.reports import Report, report_record
from notifications.services import message_send, message_template_save
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.test_delivery import FakeEsp, accepted
from tests.notifications.twilio_http import recording

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def shop(db, settings):
    settings.SITE_URL = "https://app.example"
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    settings.SMS_LOG_ONLY = False
    merchant = MerchantFactory(sender_email="hello@demo.example", timezone="UTC", country="US")
    customer = CustomerFactory(
        merchant=merchant,
        email="ada@example.com",
        phone="+14155550123",
        timezone="UTC",
        email_marketing_consent=True,
    )
    return merchant, customer


def template(merchant, channel="email", key="", category="transactional"):
    variant = (
        {"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}
        if channel == "email"
        else {"locale": "en", "sms_body": "Hi"}
    )
    return message_template_save(
        merchant=merchant,
        payload={
            "key": key or f"t-{channel}",
            "name": "T",
            "channel": channel,
            "category": category,
            "variants": [variant],
        },
    )


def send(merchant, customer, tmpl, key, now=NOON):
    return message_send(
        merchant=merchant,
        template=tmpl,
        customer=customer,
        context={},
        idempotency_key=key,
        now=now,
    )


@pytest.fixture
def esp():
    fake = FakeEsp()
    yield fake
    fake.server.shutdown()


def test_the_platforms_esp_gets_its_credentials_and_a_merchants_never_does(shop, settings, esp):
    # given: the platform sends through Postmark with its token; a second merchant chose
    # Postmark too but gave no token of its own
    settings.EMAIL_BACKEND = "notifications.platform_email.PlatformEmailBackend"
    settings.PLATFORM_EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.PLATFORM_EMAIL_OPTIONS = {"server_token": "PLATFORM-TOKEN", "api_url": esp.url}
    settings.ANYMAIL = {}
    merchant, customer = shop
    esp.answers.append(accepted("p-1"))
    ours = send(merchant, customer, template(merchant), "a")
    other = MerchantFactory()
    ChannelSettings.unscoped.create(
        merchant=other, email_provider="postmark", email_credentials=json.dumps({})
    )
    theirs = send(other, CustomerFactory(merchant=other), template(other), "b")

    # when
    delivery.messages_deliver(merchant=merchant, message_ids=[ours.pk], claim=ours.claim, now=NOON)
    delivery.messages_deliver(merchant=other, message_ids=[theirs.pk], claim=theirs.claim, now=NOON)

    # then
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, ours.provider, ours.provider_message_id) == (
        "sent",
        "anymail:postmark",
        "p-1",
    )
    assert (theirs.status, theirs.reason) == ("failed", "not_configured")
    assert len(esp.requests) == 1


def test_an_esp_credential_in_anymail_settings_stops_the_process_at_start(tmp_path):
    # given
    env = {"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "ANYMAIL_POSTMARK_SERVER_TOKEN": "x"}

    # when
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**env, "DJANGO_SETTINGS_MODULE": "postpurchase.settings"},
        capture_output=True,
        text=True,
        check=False,
    )

    # then
    assert result.returncode == 1
    assert "ANYMAIL_POSTMARK_SERVER_TOKEN: give the platform's email provider" in result.stderr


def test_an_unexpected_error_fails_one_message_and_the_run_goes_on(shop, settings):
    # given: Twilio's client blows up in a way nobody classified; an email follows in the run
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "t" * 32
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    merchant, customer = shop
    text = send(merchant, customer, template(merchant, "sms"), "sms")
    email = send(merchant, customer, template(merchant), "email")
    Message.unscoped.filter(pk=email.pk).update(claim=text.claim)

    with recording(settings) as twilio:
        twilio.answers.append(RuntimeError("boom"))

        # when
        delivery.messages_deliver(
            merchant=merchant, message_ids=[text.pk, email.pk], claim=text.claim, now=NOON
        )

    # then
    text.refresh_from_db()
    email.refresh_from_db()
    assert (text.status, text.reason, text.detail) == ("failed", "error", "RuntimeError: boom")
    assert email.status == "sent"


def test_a_slow_run_hands_back_what_it_did_not_start(shop, settings):
    # given: three emails; the clock passes the send budget after the first
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    merchant, customer = shop
    tmpl = template(merchant)
    messages = [send(merchant, customer, tmpl, f"k{i}") for i in range(3)]
    claim = messages[0].claim
    Message.unscoped.filter(pk__in=[m.pk for m in messages]).update(claim=claim)
    ticks = iter([0.0, 0.0, delivery.SEND_BUDGET.total_seconds() + 1])

    # when
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[m.pk for m in messages],
        claim=claim,
        now=NOON,
        clock=lambda: next(ticks),
    )

    # then: the first went; the other two are queued, due now, their attempt not counted
    rows = list(
        Message.unscoped.filter(pk__in=[m.pk for m in messages])
        .order_by("pk")
        .values_list("status", "attempts", "next_attempt_at", "claim")
    )
    assert rows == [
        ("sent", 1, None, ""),
        ("queued", 0, NOON, ""),
        ("queued", 0, NOON, ""),
    ]


def test_a_report_that_a_timed_out_send_went_after_all_ends_its_retry(shop, settings, esp):
    # given: the ESP took too long, the send counted as failed and waits to be retried
    merchant, customer = shop
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "pm", "api_url": esp.url}),
    )
    esp.answers.append((503, {"ErrorCode": 100, "Message": "Timeout"}))
    message = send(merchant, customer, template(merchant), "k")
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[message.pk],
        claim=message.claim,
        now=NOON,
        rng=random.Random(7),
    )
    assert Message.unscoped.get(pk=message.pk).status == "deferred"

    # when: its delivery report arrives
    report_record(
        message=message,
        report=Report(status="delivered", note="delivered", event_id="e1", occurred_at=NOON),
    )

    # then
    message.refresh_from_db()
    assert (message.status, message.reason, message.next_attempt_at, message.deferred_until) == (
        "delivered",
        "",
        None,
        None,
    )
    assert delivery.messages_due_sweep(now=NOON + timedelta(days=1)) == []


def test_a_deferred_marketing_message_counts_from_when_it_went(shop, settings):
    # given: one marketing message a day; P1 went at noon, P2 was deferred to the next noon and
    # went then
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    merchant, customer = shop
    SendingPolicy.unscoped.create(merchant=merchant, marketing_cap=1, cap_window_hours=24)
    promo = template(merchant, key="promo", category="marketing")
    first = send(merchant, customer, promo, "p1")
    delivery.messages_deliver(
        merchant=merchant, message_ids=[first.pk], claim=first.claim, now=NOON
    )
    second = send(merchant, customer, promo, "p2", now=NOON + timedelta(hours=1))
    assert second.deferred_until == NOON + timedelta(hours=24)
    Message.unscoped.filter(pk=second.pk).update(claim="c2")
    delivery.messages_deliver(
        merchant=merchant, message_ids=[second.pk], claim="c2", now=NOON + timedelta(hours=24)
    )

    # when: a third is asked for an hour after the second went
    third = send(merchant, customer, promo, "p3", now=NOON + timedelta(hours=25, minutes=1))

    # then: it waits for the second to leave the window
    assert (third.status, third.deferred_until) == ("deferred", NOON + timedelta(hours=48))
    assert MessageEvent.unscoped.filter(message=second, status="sent").count() == 1


def test_requests_errors_from_twilio_are_retried(shop, settings):
    # given
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "0" * 32, "t" * 32
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    merchant, customer = shop
    text = send(merchant, customer, template(merchant, "sms"), "sms")

    with recording(settings) as twilio:
        twilio.answers.append(requests.ReadTimeout("read timed out"))

        # when
        delivery.messages_deliver(
            merchant=merchant, message_ids=[text.pk], claim=text.claim, now=NOON
        )

    # then
    text.refresh_from_db()
    assert (text.status, text.reason) == ("deferred", "retry")
