"""The hand-off from the outbox to SMS: the real twilio client builds every request, sent
through twilio's own test seam (an ``HttpClient`` that records the request and answers from a
queue), with the clock passed in."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
import requests
from twilio.http.response import Response

from notifications import channels, delivery
from notifications.models import ChannelSettings, Message, MessageEvent, Suppression
from notifications.outbox import SendRequest, message_send_batch
from notifications.rendering import sample_context
from notifications.services import message_send, message_template_save
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.twilio_http import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGE_SID,
    RecordedRequest,
    error_resource,
    message_resource,
    recording,
)

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
AT = NOON + timedelta(seconds=1)
SHOP_NUMBER = "+14155550100"
SHOPPER_NUMBER = "+14155550123"
SERVICE_SID = "MG" + "00112233445566778899aabbccddeeff"
PLATFORM_SID = "AC" + "ffeeddccbbaa99887766554433221100"
PLATFORM_TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
BODY = "Demo Outfitters: Hi Ada, your order #1001 is on its way."


@pytest.fixture
def twilio(settings):
    settings.SITE_URL = "https://app.example"
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.SMS_LOG_ONLY = False
    with recording(settings) as client:
        yield client


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(  # in the US: our Twilio texts only the merchant's countries
        name="Demo Outfitters", support_email="help@demo.example", timezone="UTC", country="US"
    )
    customer = CustomerFactory(
        merchant=merchant,
        email="ada@example.com",
        phone=SHOPPER_NUMBER,
        timezone="UTC",
        sms_marketing_consent=True,
    )
    return merchant, customer


@pytest.fixture
def own_account(shop):
    merchant, _ = shop
    return ChannelSettings.unscoped.create(
        merchant=merchant,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        sms_from_number=SHOP_NUMBER,
    )


def sms_template(merchant):
    body = (
        "Demo Outfitters: Hi {{ customer.first_name }}, your order {{ order.number }}"
        " is on its way."
    )
    return message_template_save(
        merchant=merchant,
        payload={
            "key": "shipped_sms",
            "name": "Shipped (SMS)",
            "channel": "sms",
            "category": "transactional",
            "kind": "status",
            "variants": [{"locale": "en", "sms_body": body}],
        },
    )


def queued(merchant, customer) -> Message:
    """An SMS decided by ``message_send`` (claimed for its hand-off)."""
    context = {k: v for k, v in sample_context().items() if not k.endswith("_url")}
    return message_send(
        merchant=merchant,
        template=sms_template(merchant),
        customer=customer,
        context=context,
        idempotency_key="order:1001:shipped",
        now=NOON,
    )


def deliver(merchant, message, *, claim: str, now=AT) -> Message:
    delivery.messages_deliver(
        merchant=merchant, message_ids=[message.pk], claim=claim, now=now, rng=random.Random(7)
    )
    message.refresh_from_db()
    return message


def sent_through_twilio(merchant, customer) -> Message:
    """An SMS decided by ``message_send`` and handed over by ``messages_deliver``."""
    message = queued(merchant, customer)
    return deliver(merchant, message, claim=message.claim)


def timeline(message):
    return list(
        MessageEvent.unscoped.filter(message=message).order_by("id").values_list("status", "reason")
    )


def callback_url(message) -> str:
    return f"https://app.example/webhooks/sms/status/?message={message.pk}"


# --- accepted ---------------------------------------------------------------------------------


def test_a_text_goes_through_the_merchants_own_twilio_account(shop, own_account, twilio):
    # given
    merchant, customer = shop

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert message.sms == BODY
    assert twilio.requests == [
        RecordedRequest(
            method="POST",
            uri=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
            data={
                "To": SHOPPER_NUMBER,
                "From": SHOP_NUMBER,
                "Body": BODY,
                "StatusCallback": callback_url(message),
            },
            auth=(ACCOUNT_SID, AUTH_TOKEN),
        )
    ]
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "twilio",
        MESSAGE_SID,
    )
    assert (message.sent_at, message.attempts, message.next_attempt_at) == (AT, 1, None)
    assert timeline(message) == [("queued", ""), ("sending", ""), ("sent", "")]


def test_a_messaging_service_is_named_instead_of_a_number(shop, own_account, twilio):
    # given
    merchant, customer = shop
    own_account.sms_from_number = ""
    own_account.sms_messaging_service_sid = SERVICE_SID
    own_account.save()

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    [sent] = twilio.requests
    assert sent.data == {
        "To": SHOPPER_NUMBER,
        "MessagingServiceSid": SERVICE_SID,
        "Body": BODY,
        "StatusCallback": callback_url(message),
    }
    assert sent.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert message.status == "sent"


@pytest.mark.parametrize("own_settings", [None, {"email_provider": "postmark"}])
def test_without_an_account_of_its_own_a_merchant_texts_through_the_platforms(
    shop, twilio, settings, own_settings
):
    # given: no channel settings at all, or settings for email only
    merchant, customer = shop
    if own_settings is not None:
        ChannelSettings.unscoped.create(merchant=merchant, **own_settings)
    settings.TWILIO_ACCOUNT_SID = PLATFORM_SID
    settings.TWILIO_AUTH_TOKEN = PLATFORM_TOKEN
    settings.TWILIO_FROM_NUMBER = "+14155550199"
    twilio.answers.append(Response(201, message_resource(account_sid=PLATFORM_SID)))

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert twilio.requests == [
        RecordedRequest(
            method="POST",
            uri=f"https://api.twilio.com/2010-04-01/Accounts/{PLATFORM_SID}/Messages.json",
            data={
                "To": SHOPPER_NUMBER,
                "From": "+14155550199",
                "Body": BODY,
                "StatusCallback": callback_url(message),
            },
            auth=(PLATFORM_SID, PLATFORM_TOKEN),
        )
    ]
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "twilio",
        MESSAGE_SID,
    )


def test_with_no_account_anywhere_the_embedded_mode_logs_the_text(shop, twilio, settings):
    # given
    settings.SMS_LOG_ONLY = True
    merchant, customer = shop

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert twilio.requests == []
    assert (message.status, message.provider, message.provider_message_id) == ("sent", "log", "")


def test_with_no_account_anywhere_production_fails_the_text(shop, twilio):
    # given: SMS_LOG_ONLY is False (production's default)
    merchant, customer = shop

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert twilio.requests == []
    assert (message.status, message.reason, message.detail, message.provider) == (
        "failed",
        "not_configured",
        "No Twilio account is set for this store or the platform.",
        "twilio",
    )
    assert message.next_attempt_at is None
    assert timeline(message)[-1] == ("failed", "not_configured")


def test_a_platform_account_without_a_number_fails_the_text(shop, twilio, settings):
    # given
    settings.TWILIO_ACCOUNT_SID = PLATFORM_SID
    settings.TWILIO_AUTH_TOKEN = PLATFORM_TOKEN
    merchant, customer = shop

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert twilio.requests == []
    assert (message.status, message.reason, message.detail) == (
        "failed",
        "not_configured",
        "Set a sending number or a Messaging Service SID.",
    )


def test_the_real_twilio_client_gives_up_on_a_stalled_connection(settings):
    # given: no test seam
    settings.TWILIO_HTTP_CLIENT = ""
    route = channels.SmsRoute(ACCOUNT_SID, AUTH_TOKEN, SHOP_NUMBER, "", own=True)

    # when
    client = channels.twilio_client(route)

    # then
    assert (client.username, client.password) == (ACCOUNT_SID, AUTH_TOKEN)
    assert client.http_client.timeout == 30


# --- refused ----------------------------------------------------------------------------------


INVALID_TO = "The 'To' number +14155550123 is not a valid phone number."


def problem(status: int, code: int, title: str, detail: str) -> Response:
    """A refusal in the RFC 9457 shape, which twilio raises as ``TwilioServiceException``."""
    body = {
        "type": f"https://www.twilio.com/docs/api/errors/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    return Response(status, json.dumps(body))


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (
            error_resource(400, 21211, INVALID_TO),
            f"Twilio 21211: Unable to create record: {INVALID_TO}",
        ),
        (
            problem(400, 21211, "Invalid 'To' Phone Number", INVALID_TO),
            f"Twilio 21211: {INVALID_TO}",
        ),
    ],
    ids=["2010-api", "rfc9457"],
)
def test_a_number_twilio_cannot_text_fails_at_once(shop, own_account, twilio, answer, detail):
    # given
    merchant, customer = shop
    twilio.answers.append(answer)

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert (message.status, message.reason, message.next_attempt_at) == (
        "failed",
        "invalid_address",
        None,
    )
    assert message.detail == detail
    assert len(twilio.requests) == 1
    assert Suppression.unscoped.filter(merchant=merchant).count() == 0


def test_a_number_that_replied_stop_to_twilio_is_failed_and_suppressed(shop, own_account, twilio):
    # given: the shopper texted STOP to the number, straight to Twilio
    merchant, customer = shop
    twilio.answers.append(error_resource(400, 21610, "Attempt to send to unsubscribed recipient"))

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert (message.status, message.reason) == ("failed", "opted_out")
    assert list(
        Suppression.unscoped.filter(merchant=merchant).values_list("channel", "address", "reason")
    ) == [("sms", SHOPPER_NUMBER, "sms_stop")]


@pytest.mark.parametrize(
    "answer",
    [
        error_resource(429, 20429, "Too Many Requests"),
        error_resource(503, 20503, "Service Unavailable"),
        problem(503, 20503, "Service Unavailable", "The service is temporarily unavailable."),
        requests.ConnectionError(
            "HTTPSConnectionPool(host='api.twilio.com', port=443): Max retries exceeded"
        ),
    ],
    ids=["429", "503", "503-rfc9457", "connection-error"],
)
def test_a_transient_twilio_failure_is_retried_with_backoff(shop, own_account, twilio, answer):
    # given
    merchant, customer = shop
    twilio.answers.append(answer)

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    expected = AT + delivery.RETRY_BACKOFF.delay(1, rng=random.Random(7))
    assert (message.status, message.reason, message.provider) == ("deferred", "retry", "twilio")
    assert message.deferred_until == message.next_attempt_at == expected
    assert message.detail.startswith("provider_unavailable: ")
    assert timeline(message) == [("queued", ""), ("sending", ""), ("deferred", "retry")]

    # and when the retry comes due, it goes
    Message.unscoped.filter(pk=message.pk).update(claim="retry-claim")
    message = deliver(merchant, message, claim="retry-claim", now=expected)
    assert (message.status, message.provider_message_id, message.attempts) == (
        "sent",
        MESSAGE_SID,
        2,
    )
    assert len(twilio.requests) == 2


@pytest.mark.parametrize(
    "answer",
    [
        error_resource(401, 20003, "Authenticate"),
        error_resource(400, 21211, "The 'To' number is not a valid phone number."),
        error_resource(503, 20503, "Service Unavailable"),
        requests.ConnectionError("Connection refused"),
        Response(500, "<html>Internal error</html>"),
    ],
    ids=["401", "400", "503", "connection-error", "not-json"],
)
def test_the_auth_token_never_reaches_the_messages_detail(shop, own_account, twilio, answer):
    # given
    merchant, customer = shop
    twilio.answers.append(answer)

    # when
    message = sent_through_twilio(merchant, customer)

    # then
    assert message.status in ("failed", "deferred")
    assert message.detail
    assert AUTH_TOKEN not in message.detail
    details = MessageEvent.unscoped.filter(message=message).values_list("detail", flat=True)
    assert all(AUTH_TOKEN not in detail for detail in details)


# --- a run of texts -----------------------------------------------------------------------------


def texts_batch(merchant, count) -> list[Message]:
    """``count`` shoppers and a text to each, written together under one claim and handed over
    in one run."""
    tmpl = sms_template(merchant)
    customers = [
        CustomerFactory(merchant=merchant, phone=f"+1415555020{i}", timezone="UTC")
        for i in range(count)
    ]
    context = {k: v for k, v in sample_context().items() if not k.endswith("_url")}
    requests = [
        SendRequest(tmpl, customer, context, f"order:{i}:shipped")
        for i, customer in enumerate(customers)
    ]
    messages = message_send_batch(merchant=merchant, requests=requests, now=NOON)
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[m.pk for m in messages],
        claim=messages[0].claim,
        now=AT,
        rng=random.Random(7),
    )
    return list(Message.unscoped.filter(pk__in=[m.pk for m in messages]).order_by("pk"))


def test_a_run_of_texts_goes_through_one_twilio_client(shop, own_account, twilio):
    # given
    merchant, _ = shop
    sids = [f"SM{i:032x}" for i in range(3)]
    twilio.answers.extend(Response(201, message_resource(sid=sid)) for sid in sids)

    # when
    messages = texts_batch(merchant, 3)

    # then: one client made, three texts through it with the merchant's account
    assert len(twilio.clients) == 1
    assert [(r.data["To"], r.auth) for r in twilio.requests] == [
        (f"+1415555020{i}", (ACCOUNT_SID, AUTH_TOKEN)) for i in range(3)
    ]
    assert [(m.status, m.provider_message_id) for m in messages] == [("sent", sid) for sid in sids]
    assert [timeline(m) for m in messages] == [[("queued", ""), ("sending", ""), ("sent", "")]] * 3


@pytest.mark.parametrize(
    ("answer", "status", "reason", "clients"),
    [
        # the connection's state is unknown: the next text gets a new client
        (requests.ConnectionError("Connection reset by peer"), "deferred", "retry", 2),
        (error_resource(503, 20503, "Service Unavailable"), "deferred", "retry", 2),
        # Twilio answered in full about that one number: the client goes on
        (error_resource(400, 21211, "Invalid 'To' Phone Number"), "failed", "invalid_address", 1),
    ],
    ids=["connection-error", "503", "21211"],
)
def test_a_failed_text_costs_that_text_alone_and_the_run_goes_on(
    shop, own_account, twilio, answer, status, reason, clients
):
    # given: Twilio fails the second of three texts
    merchant, _ = shop
    twilio.answers.extend([Response(201, message_resource()), answer])

    # when
    messages = texts_batch(merchant, 3)

    # then
    assert [(m.status, m.reason) for m in messages] == [
        ("sent", ""),
        (status, reason),
        ("sent", ""),
    ]
    assert [r.data["To"] for r in twilio.requests] == [f"+1415555020{i}" for i in range(3)]
    assert len(twilio.clients) == clients


def test_an_sms_to_a_suppressed_number_is_not_sent(shop, own_account, twilio):
    # given: the number replied STOP between the decision and the hand-off
    merchant, customer = shop
    message = queued(merchant, customer)
    Suppression.unscoped.create(
        merchant=merchant, channel="sms", address=SHOPPER_NUMBER, reason="sms_stop"
    )

    # when
    message = deliver(merchant, message, claim=message.claim)

    # then
    assert (message.status, message.reason) == ("suppressed", "suppressed_sms_stop")
    assert twilio.requests == []
