"""What providers tell us after a send, posted as they post it: Twilio's status callbacks and
incoming texts (signed with twilio's own ``RequestValidator``), and anymail's Postmark
tracking and inbound webhooks (JSON behind HTTP basic auth)."""

from __future__ import annotations

import base64
import itertools
import json
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from anymail import urls as anymail_urls
from django.core import mail
from django.urls import resolve
from twilio.request_validator import RequestValidator

from notifications import delivery
from notifications.links import preferences_token, unsubscribe_token
from notifications.models import (
    ChannelSettings,
    InboundSms,
    Message,
    MessageEvent,
    MessageTemplate,
    Suppression,
)
from notifications.rendering import sample_context
from notifications.services import message_send, message_template_save
from orders.models import Customer
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.twilio_http import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGE_SID,
    RecordingHttpClient,
    recording,
)

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
AT = NOON + timedelta(seconds=1)
SITE = "https://app.example"
SHOP_NUMBER = "+14155550100"
SHOPPER_NUMBER = "+14155550123"
PLATFORM_SID = "AC" + "ffeeddccbbaa99887766554433221100"
PLATFORM_TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
PLATFORM_NUMBER = "+14155550199"
OTHER_SID = "AC" + "11112222333344445555666677778888"
OTHER_TOKEN = "99990000aaaabbbbccccddddeeeeffff"
REPLY_SID = "SM" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
WEBHOOK_SECRET = "user:pass"
POSTMARK_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE
    settings.TWILIO_ACCOUNT_SID = PLATFORM_SID
    settings.TWILIO_AUTH_TOKEN = PLATFORM_TOKEN
    settings.TWILIO_FROM_NUMBER = PLATFORM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.SMS_LOG_ONLY = False
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    mail.outbox = []
    with recording(settings):
        yield


@pytest.fixture
def twilio():
    """What was sent to Twilio's API (and what it will answer)."""
    return RecordingHttpClient


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
        email_marketing_consent=True,
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


def sent(merchant, customer, *, channel: str, key: str = "order:1001:shipped") -> Message:
    """A message decided by ``message_send`` and handed over by ``messages_deliver``."""
    variant = (
        {"locale": "en", "sms_body": "Your order {{ order.number }} is on its way."}
        if channel == "sms"
        else {"locale": "en", "subject": "On its way", "html_body": "<p>Shipped</p>"}
    )
    key_name = f"shipped_{channel}"
    template = MessageTemplate.unscoped.filter(merchant=merchant, key=key_name).first()
    template = template or message_template_save(
        merchant=merchant,
        payload={
            "key": key_name,
            "name": f"Shipped ({channel})",
            "channel": channel,
            "category": "transactional",
            "kind": "status",
            "variants": [variant],
        },
    )
    context = {k: v for k, v in sample_context().items() if not k.endswith("_url")}
    message = message_send(
        merchant=merchant,
        template=template,
        customer=customer,
        context=context,
        idempotency_key=key,
        now=NOON,
    )
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[message.pk],
        claim=message.claim,
        now=AT,
        rng=random.Random(7),
    )
    message.refresh_from_db()
    return message


def timeline(message):
    return list(
        MessageEvent.unscoped.filter(message=message)
        .order_by("id")
        .values_list("status", "reason", "detail", "provider_event_id")
    )


def consent(customer):
    customer = Customer.unscoped.get(pk=customer.pk)
    return customer.sms_marketing_consent, customer.sms_consent_source


def suppressions(merchant):
    return list(
        Suppression.unscoped.filter(merchant=merchant)
        .order_by("channel", "address")
        .values_list("channel", "address", "reason")
    )


# --- Twilio ------------------------------------------------------------------------------------


def twilio_post(client, url: str, params: dict[str, str], token: str, signature: str = ""):
    """POST ``params`` to ``url`` form-encoded, signed with ``token`` as Twilio signs."""
    signature = signature or RequestValidator(token).compute_signature(url, params)
    return client.post(
        url.removeprefix(SITE),
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


def status_params(status: str, *, account_sid=ACCOUNT_SID, error_code="") -> dict[str, str]:
    """Twilio's status callback parameters for an outbound text."""
    params = {
        "SmsSid": MESSAGE_SID,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": SHOPPER_NUMBER,
        "MessageSid": MESSAGE_SID,
        "AccountSid": account_sid,
        "From": SHOP_NUMBER,
        "ApiVersion": "2010-04-01",
    }
    if status == "delivered":
        params["RawDlrDoneDate"] = "2606021501"
    if error_code:
        params["ErrorCode"] = error_code
    return params


def the_callback_url(twilio) -> str:
    """The StatusCallback the send gave Twilio: where Twilio posts its reports."""
    return twilio.requests[-1].data["StatusCallback"]


def test_a_signed_delivery_report_moves_the_text_to_delivered(client, shop, own_account, twilio):
    # given
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")
    url = the_callback_url(twilio)

    # when
    response = twilio_post(client, url, status_params("delivered"), AUTH_TOKEN)

    # then
    assert url == f"https://app.example/webhooks/sms/status/?message={message.pk}"
    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.status, message.reason, message.provider_message_id) == (
        "delivered",
        "",
        MESSAGE_SID,
    )
    assert timeline(message)[-1] == ("delivered", "", "delivered", f"{MESSAGE_SID}:delivered")


def test_a_report_twilio_sends_twice_is_recorded_once(client, shop, own_account, twilio):
    # given
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")
    url = the_callback_url(twilio)
    twilio_post(client, url, status_params("delivered"), AUTH_TOKEN)

    # when
    again = twilio_post(client, url, status_params("delivered"), AUTH_TOKEN)

    # then
    assert again.status_code == 204
    assert [row[0] for row in timeline(message)] == ["queued", "sending", "sent", "delivered"]


@pytest.mark.parametrize(
    ("token", "signature"),
    [(OTHER_TOKEN, ""), (PLATFORM_TOKEN, ""), (AUTH_TOKEN, "bm90IGEgc2lnbmF0dXJl")],
    ids=["another-token", "the-platforms-token", "garbage"],
)
def test_a_report_with_a_wrong_signature_is_refused(
    client, shop, own_account, token, signature, twilio
):
    # given
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")
    before = timeline(message)

    # when
    response = twilio_post(
        client, the_callback_url(twilio), status_params("delivered"), token, signature
    )

    # then
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "sent"
    assert timeline(message) == before


def test_a_report_without_a_signature_is_refused(client, shop, own_account, twilio):
    # given
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")

    # when
    response = client.post(
        the_callback_url(twilio).removeprefix(SITE),
        data=urlencode(status_params("delivered")),
        content_type="application/x-www-form-urlencoded",
    )

    # then
    assert response.status_code == 403
    assert Message.unscoped.get(pk=message.pk).status == "sent"


def test_a_signature_for_another_message_is_refused(client, shop, own_account, twilio):
    # given: a valid report for one text, replayed against another's URL
    merchant, customer = shop
    first = sent(merchant, customer, channel="sms", key="a")
    first_url = the_callback_url(twilio)
    second = sent(merchant, customer, channel="sms", key="b")
    params = status_params("delivered")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(first_url, params)

    # when
    response = twilio_post(client, the_callback_url(twilio), params, AUTH_TOKEN, signature)

    # then
    assert response.status_code == 403
    assert Message.unscoped.get(pk=first.pk).status == "sent"
    assert Message.unscoped.get(pk=second.pk).status == "sent"


@pytest.mark.parametrize("ref", ["999999999", "99999999999999999999999", "abc", "", "email"])
def test_a_report_for_an_unknown_message_is_refused(client, shop, own_account, ref):
    # given: no such message, or an email's id
    merchant, customer = shop
    if ref == "email":
        ref = str(sent(merchant, customer, channel="email").pk)
    url = f"{SITE}/webhooks/sms/status/?message={ref}"
    events = MessageEvent.unscoped.count()

    # when
    response = twilio_post(client, url, status_params("delivered"), AUTH_TOKEN)

    # then
    assert response.status_code == 403
    assert MessageEvent.unscoped.count() == events


def test_another_merchants_token_cannot_report_on_a_text(client, shop, own_account, twilio):
    # given: another merchant with its own Twilio account
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")
    other = MerchantFactory()
    ChannelSettings.unscoped.create(
        merchant=other,
        twilio_account_sid=OTHER_SID,
        twilio_auth_token=OTHER_TOKEN,
        sms_from_number="+14155550177",
    )
    params = status_params("undelivered", account_sid=OTHER_SID, error_code="30006")

    # when
    response = twilio_post(client, the_callback_url(twilio), params, OTHER_TOKEN)

    # then
    assert response.status_code == 403
    assert Message.unscoped.get(pk=message.pk).status == "sent"
    assert suppressions(merchant) == []


def test_undelivered_to_a_landline_fails_the_text_and_suppresses_the_number(
    client, shop, own_account, twilio
):
    # given
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")
    params = status_params("undelivered", error_code="30006")

    # when
    response = twilio_post(client, the_callback_url(twilio), params, AUTH_TOKEN)

    # then
    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.status, message.reason, message.detail) == (
        "failed",
        "failed",
        "undelivered (Twilio error 30006)",
    )
    assert timeline(message)[-1] == (
        "failed",
        "",
        "undelivered (Twilio error 30006)",
        f"{MESSAGE_SID}:undelivered",
    )
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "bounce")]


def test_a_late_delivered_report_does_not_move_a_clicked_text_back(
    client, shop, own_account, twilio
):
    # given: the shopper clicked the text's link before Twilio's report came in
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")
    Message.unscoped.filter(pk=message.pk).update(status="clicked")

    # when
    response = twilio_post(client, the_callback_url(twilio), status_params("delivered"), AUTH_TOKEN)

    # then
    assert response.status_code == 204
    assert Message.unscoped.get(pk=message.pk).status == "clicked"
    assert timeline(message)[-1] == (
        "delivered",
        "status_kept",
        "delivered",
        f"{MESSAGE_SID}:delivered",
    )


def test_a_text_sent_through_the_platform_is_reported_with_the_platforms_token(
    client, shop, twilio
):
    # given: a merchant without its own account
    merchant, customer = shop
    message = sent(merchant, customer, channel="sms")
    params = status_params("delivered", account_sid=PLATFORM_SID)

    # when
    refused = twilio_post(client, the_callback_url(twilio), params, AUTH_TOKEN)
    accepted = twilio_post(client, the_callback_url(twilio), params, PLATFORM_TOKEN)

    # then
    assert twilio.requests[-1].auth == (PLATFORM_SID, PLATFORM_TOKEN)
    assert (refused.status_code, accepted.status_code) == (403, 204)
    assert Message.unscoped.get(pk=message.pk).status == "delivered"


# --- Twilio: replies ---------------------------------------------------------------------------

INBOUND = f"{SITE}/webhooks/sms/inbound/"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def reply_params(
    body: str, *, to=SHOP_NUMBER, sender=SHOPPER_NUMBER, account_sid=ACCOUNT_SID, sid=REPLY_SID
) -> dict[str, str]:
    """The parameters Twilio posts to a number's incoming-message webhook."""
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "94105",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": body,
        "FromCountry": "US",
        "To": to,
        "ToZip": "94105",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


REPLY_SIDS = itertools.count(1)


def reply(client, body: str, token: str = AUTH_TOKEN, **params):
    """A new text from the shopper: each one has its own MessageSid, as Twilio gives it."""
    params.setdefault("sid", f"SM{next(REPLY_SIDS):032x}")
    return twilio_post(client, INBOUND, reply_params(body, **params), token)


@pytest.mark.parametrize("body", ["STOP", " stop ", "Unsubscribe", "QUIT", "stop."])
def test_stop_opts_the_number_out(client, shop, own_account, body):
    # given
    merchant, customer = shop

    # when
    response = reply(client, body)

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response.content.decode() == EMPTY_TWIML  # Twilio confirms a STOP itself
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "sms_stop")]
    assert consent(customer) == (False, "sms_stop")


def test_start_after_stop_gives_back_what_stop_took(client, shop, own_account):
    # given
    merchant, customer = shop
    reply(client, "STOP")

    # when
    response = reply(client, "START")

    # then
    assert response.status_code == 200
    assert response.content.decode() == EMPTY_TWIML
    assert suppressions(merchant) == []
    assert consent(customer) == (True, "sms_start")


def test_start_does_not_lift_the_merchants_own_suppression(client, shop, own_account):
    # given: the merchant suppressed the number itself, then the shopper texted STOP
    merchant, _ = shop
    Suppression.unscoped.create(
        merchant=merchant, channel="sms", address=SHOPPER_NUMBER, reason="manual"
    )
    reply(client, "STOP")

    # when
    reply(client, "START")

    # then
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "manual")]


def test_start_gives_no_consent_that_stop_did_not_take(client, shop, own_account):
    # given: a shopper who never agreed to marketing texts
    merchant, customer = shop
    Customer.unscoped.filter(pk=customer.pk).update(
        sms_marketing_consent=False, sms_consent_source=""
    )
    reply(client, "STOP")

    # when
    reply(client, "START")

    # then
    assert consent(customer) == (False, "")
    assert suppressions(merchant) == []


def test_a_start_captured_and_replayed_after_stop_does_nothing(client, shop, own_account):
    # given: the shopper texted STOP, START, then STOP again; the START was captured on its way
    merchant, customer = shop
    reply(client, "STOP")
    start = reply_params("START", sid="SM" + "5" * 32)
    twilio_post(client, INBOUND, start, AUTH_TOKEN)
    reply(client, "STOP")

    # when: the captured START, its Twilio signature intact, is posted again
    replayed = twilio_post(client, INBOUND, start, AUTH_TOKEN)

    # then
    assert (replayed.status_code, replayed.content.decode()) == (200, EMPTY_TWIML)
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "sms_stop")]
    assert consent(customer) == (False, "sms_stop")
    assert list(
        InboundSms.unscoped.filter(merchant=merchant).order_by("id").values_list("keyword")
    ) == [("stop",), ("start",), ("stop",)]


def test_a_reply_is_answered_once_however_often_it_is_posted(client, shop, own_account):
    # given
    help_reply = reply_params("HELP", sid="SM" + "6" * 32)
    first = twilio_post(client, INBOUND, help_reply, AUTH_TOKEN)

    # when: Twilio's retry, or a replay
    again = twilio_post(client, INBOUND, help_reply, AUTH_TOKEN)

    # then
    assert first.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "Demo Outfitters: order and delivery texts. Help: help@demo.example. "
        "Reply STOP to opt out.</Message></Response>"
    )
    assert again.content.decode() == EMPTY_TWIML


def test_a_signed_reply_without_a_message_sid_is_not_acted_on(client, shop, own_account):
    # given: Twilio always sends MessageSid (and signs it); a request without one is not Twilio's
    merchant, customer = shop
    params = {
        k: v
        for k, v in reply_params("STOP").items()
        if k not in ("MessageSid", "SmsSid", "SmsMessageSid")
    }

    # when
    response = twilio_post(client, INBOUND, params, AUTH_TOKEN)

    # then
    assert (response.status_code, response.content.decode()) == (200, EMPTY_TWIML)
    assert suppressions(merchant) == []
    assert consent(customer) == (True, "")


def test_help_answers_with_the_merchants_help_text(client, shop, own_account):
    # given
    own_account.sms_help_text = "Demo Outfitters: help@demo.example or 415-555-0100. STOP to end."
    own_account.save()
    merchant, customer = shop

    # when
    response = reply(client, "help")

    # then
    assert response.status_code == 200
    assert response.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "Demo Outfitters: help@demo.example or 415-555-0100. STOP to end."
        "</Message></Response>"
    )
    assert suppressions(merchant) == []
    assert consent(customer) == (True, "")


def test_help_without_a_help_text_answers_with_the_default(client, shop, own_account):
    # when
    response = reply(client, "HELP")

    # then
    assert response.content.decode() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        "Demo Outfitters: order and delivery texts. Help: help@demo.example. "
        "Reply STOP to opt out.</Message></Response>"
    )


@pytest.mark.parametrize("token", [OTHER_TOKEN, PLATFORM_TOKEN])
def test_a_reply_with_a_wrong_signature_is_refused(client, shop, own_account, token):
    # given
    merchant, customer = shop

    # when
    response = reply(client, "STOP", token)

    # then
    assert response.status_code == 403
    assert suppressions(merchant) == []
    assert consent(customer) == (True, "")


def test_a_reply_concerns_only_the_merchant_whose_number_it_went_to(client, shop, own_account):
    # given: the same shopper buys from a merchant with its own account and from one on the
    # platform's that texted them
    merchant, _ = shop
    own = MerchantFactory()
    ChannelSettings.unscoped.create(
        merchant=own,
        twilio_account_sid=OTHER_SID,
        twilio_auth_token=OTHER_TOKEN,
        sms_from_number="+14155550177",
    )
    own_customer = CustomerFactory(merchant=own, phone=SHOPPER_NUMBER, sms_marketing_consent=True)
    platform = MerchantFactory()
    platform_customer = CustomerFactory(
        merchant=platform, phone=SHOPPER_NUMBER, timezone="UTC", sms_marketing_consent=True
    )
    sent(platform, platform_customer, channel="sms")

    # when
    response = reply(client, "STOP")

    # then
    assert response.status_code == 200
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "sms_stop")]
    assert (suppressions(own), consent(own_customer)) == ([], (True, ""))
    assert (suppressions(platform), consent(platform_customer)) == ([], (True, ""))


def test_a_reply_to_the_platforms_number_opts_out_the_merchants_that_texted_it(client, shop):
    # given: a merchant on the platform's account that texted the shopper, one that never
    # did, and one with its own account that knows the same number
    merchant, customer = shop
    sent(merchant, customer, channel="sms")
    stranger = MerchantFactory()
    own = MerchantFactory()
    ChannelSettings.unscoped.create(
        merchant=own,
        twilio_account_sid=OTHER_SID,
        twilio_auth_token=OTHER_TOKEN,
        sms_from_number="+14155550177",
    )
    own_customer = CustomerFactory(merchant=own, phone=SHOPPER_NUMBER, sms_marketing_consent=True)

    # when
    response = reply(client, "STOP", PLATFORM_TOKEN, to=PLATFORM_NUMBER, account_sid=PLATFORM_SID)

    # then
    assert response.status_code == 200
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "sms_stop")]
    assert consent(customer) == (False, "sms_stop")
    assert suppressions(stranger) == []
    assert (suppressions(own), consent(own_customer)) == ([], (True, ""))


def test_a_merchant_typing_in_the_platforms_account_sid_cannot_take_its_replies(client, shop):
    # given: a merchant on the platform's account that texted the shopper, and another that
    # entered the platform's Account SID with an auth token of its own
    merchant, customer = shop
    sent(merchant, customer, channel="sms")
    squatter = MerchantFactory()
    ChannelSettings.unscoped.create(
        merchant=squatter,
        twilio_account_sid=PLATFORM_SID,
        twilio_auth_token=OTHER_TOKEN,
        sms_from_number=PLATFORM_NUMBER,
    )
    platform_reply = {"to": PLATFORM_NUMBER, "account_sid": PLATFORM_SID}

    # when: a reply forged with the squatter's token, then the shopper's real one
    forged = reply(client, "STOP", OTHER_TOKEN, **platform_reply)
    untouched = (suppressions(merchant), consent(customer))
    real = reply(client, "STOP", PLATFORM_TOKEN, **platform_reply)

    # then
    assert untouched == ([], (True, ""))
    assert (forged.status_code, real.status_code) == (200, 200)
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "sms_stop")]
    assert consent(customer) == (False, "sms_stop")


def test_a_merchant_typing_in_another_merchants_account_sid_cannot_reach_its_shoppers(client, shop):
    # given: a squatter entered the merchant's Account SID and number (before the merchant
    # did), with an auth token of its own
    merchant, customer = shop
    squatter = MerchantFactory()
    ChannelSettings.unscoped.create(
        merchant=squatter,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=OTHER_TOKEN,
        sms_from_number=SHOP_NUMBER,
    )
    ChannelSettings.unscoped.create(
        merchant=merchant,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        sms_from_number=SHOP_NUMBER,
    )

    # when
    forged = reply(client, "STOP", OTHER_TOKEN)
    untouched = (suppressions(merchant), consent(customer))
    real = reply(client, "STOP", AUTH_TOKEN)

    # then
    assert untouched == ([], (True, ""))
    assert (forged.status_code, real.status_code) == (200, 200)
    assert suppressions(merchant) == [("sms", SHOPPER_NUMBER, "sms_stop")]
    assert consent(customer) == (False, "sms_stop")


# --- anymail: Postmark's tracking webhook ------------------------------------------------------

POSTMARK_TRACKING = "/webhooks/email/postmark/"
POSTMARK_INBOUND = "/webhooks/email/postmark/inbound/"


def basic_auth(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def postmark_post(client, path: str, payload: dict, credentials: str = WEBHOOK_SECRET):
    return client.post(
        path,
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": basic_auth(credentials)},
    )


@pytest.fixture
def email(shop):
    """An email the platform's backend sent, as Postmark's API would have answered it."""
    merchant, customer = shop
    message = sent(merchant, customer, channel="email")
    Message.unscoped.filter(pk=message.pk).update(
        provider="anymail:postmark", provider_message_id=POSTMARK_ID
    )
    message.refresh_from_db()
    return message


def metadata(message) -> dict[str, str]:
    return {"message_id": str(message.pk), "merchant_id": str(message.merchant_id)}


def postmark_delivery(message, **changes) -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": POSTMARK_ID,
        "Recipient": "ada@example.com",
        "Tag": "status",
        "DeliveredAt": "2026-06-02T15:00:04.9070259Z",
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": metadata(message),
        **changes,
    }


def postmark_bounce(message, record_type="Bounce", type_="HardBounce", **changes) -> dict:
    return {
        "RecordType": record_type,
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": type_,
        "TypeCode": 1 if type_ == "HardBounce" else 512,
        "Name": "Hard bounce" if type_ == "HardBounce" else "Spam complaint",
        "Tag": "status",
        "MessageID": POSTMARK_ID,
        "Metadata": metadata(message),
        "ServerID": 23,
        "Description": "The server was unable to deliver your message "
        "(ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "ada@example.com",
        "From": "hello@demo.example",
        "BouncedAt": "2026-06-02T15:00:05.1230000Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "On its way",
        **changes,
    }


def postmark_engagement(message, record_type: str) -> dict:
    payload = {
        "RecordType": record_type,
        "MessageStream": "outbound",
        "Metadata": metadata(message),
        "Recipient": "ada@example.com",
        "MessageID": POSTMARK_ID,
        "ReceivedAt": "2026-06-02T15:10:00.0000000Z",
        "Platform": "WebMail",
        "Tag": "status",
        "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "OS": {"Name": "Windows 10", "Family": "Windows", "Company": "Microsoft Corporation"},
        "Client": {"Name": "Chrome 120", "Family": "Chrome", "Company": "Google"},
        "Geo": {"CountryISOCode": "US", "Country": "United States", "City": "San Francisco"},
    }
    if record_type == "Open":
        payload.update(FirstOpen=True, ReadSeconds=5)
    else:
        payload.update(ClickLocation="HTML", OriginalLink="https://demo.example/orders/1001")
    return payload


def test_a_postmark_delivery_moves_the_email_to_delivered(client, email):
    # when
    response = postmark_post(client, POSTMARK_TRACKING, postmark_delivery(email))

    # then
    assert response.status_code == 200
    email.refresh_from_db()
    assert email.status == "delivered"
    [event] = MessageEvent.unscoped.filter(message=email, status="delivered")
    assert (event.reason, event.detail, event.provider_event_id) == (
        "",
        "delivered - smtp;250 2.0.0 OK",
        "",
    )
    assert event.occurred_at == datetime(2026, 6, 2, 15, 0, 4, 907025, tzinfo=UTC)


def test_a_postmark_hard_bounce_bounces_the_email_and_suppresses_the_address(client, email):
    # when
    response = postmark_post(client, POSTMARK_TRACKING, postmark_bounce(email))
    again = postmark_post(client, POSTMARK_TRACKING, postmark_bounce(email))

    # then
    assert (response.status_code, again.status_code) == (200, 200)
    email.refresh_from_db()
    note = (
        "bounced - The server was unable to deliver your message (ex: unknown user, mailbox not"
        " found). - smtp;550 5.1.1 The email account that you tried to reach does not exist."
    )
    assert (email.status, email.reason, email.detail) == ("bounced", "bounced", note)
    assert timeline(email)[3:] == [("bounced", "", note, "4323372036854775807")]
    assert suppressions(email.merchant) == [("email", "ada@example.com", "bounce")]


def test_a_postmark_spam_complaint_suppresses_the_address(client, email):
    # when
    response = postmark_post(
        client,
        POSTMARK_TRACKING,
        postmark_bounce(email, record_type="SpamComplaint", type_="SpamComplaint"),
    )

    # then
    assert response.status_code == 200
    email.refresh_from_db()
    assert (email.status, email.reason) == ("complained", "complained")
    assert suppressions(email.merchant) == [("email", "ada@example.com", "complaint")]


def test_a_late_delivery_report_leaves_a_clicked_email_clicked(client, email):
    # when
    for payload in (
        postmark_engagement(email, "Open"),
        postmark_engagement(email, "Click"),
        postmark_delivery(email),
    ):
        assert postmark_post(client, POSTMARK_TRACKING, payload).status_code == 200

    # then
    email.refresh_from_db()
    assert email.status == "clicked"
    assert [row[:2] for row in timeline(email)[3:]] == [
        ("opened", ""),
        ("clicked", ""),
        ("delivered", "status_kept"),
    ]
    assert suppressions(email.merchant) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"MessageID": "00000000-0000-0000-0000-000000000000"},  # our id is enough
        {"Metadata": {}},  # without our metadata (a report about an older email)
    ],
    ids=["by-metadata", "by-postmark-id"],
)
def test_an_email_is_found_by_our_id_else_by_postmarks(client, email, changes):
    # given
    payload = postmark_delivery(email, **changes)

    # when
    response = postmark_post(client, POSTMARK_TRACKING, payload)

    # then
    assert response.status_code == 200
    assert Message.unscoped.get(pk=email.pk).status == "delivered"


@pytest.mark.parametrize("credentials", ["user:wrong", "someone:pass", ""])
def test_a_postmark_report_with_wrong_basic_auth_is_refused(client, email, credentials):
    # given
    before = timeline(email)

    # when
    response = postmark_post(client, POSTMARK_TRACKING, postmark_bounce(email), credentials)

    # then
    assert response.status_code == 400
    email.refresh_from_db()
    assert email.status == "sent"
    assert timeline(email) == before
    assert suppressions(email.merchant) == []


def test_a_postmark_unsubscribe_withdraws_email_consent(client, email):
    # given: the shopper unsubscribed through Postmark's own link
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": POSTMARK_ID,
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": "2026-06-02T15:30:00Z",
        "Recipient": "ada@example.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "status",
        "Metadata": metadata(email),
    }

    # when
    response = postmark_post(client, POSTMARK_TRACKING, payload)

    # then
    assert response.status_code == 200
    assert email_consent(email.customer) == (False, "esp_postmark")
    assert Message.unscoped.get(pk=email.pk).status == "sent"


@pytest.mark.parametrize(
    "name", [p.name for p in anymail_urls.urlpatterns if p.name != "mandrill_tracking_webhook"]
)
def test_every_anymail_webhook_has_its_address(name):
    # given
    [pattern] = [p for p in anymail_urls.urlpatterns if p.name == name]
    esp = name.removesuffix("_webhook").removesuffix("_tracking").removesuffix("_inbound")
    path = f"/webhooks/email/{esp}/" + ("inbound/" if "_inbound_" in name else "")

    # when
    found = resolve(path)

    # then
    assert found.func.view_class is pattern.callback.view_class


def test_a_report_about_an_unknown_email_is_accepted_and_dropped(client, email):
    # given: neither our id nor Postmark's is known
    payload = postmark_bounce(
        email, MessageID="00000000-0000-0000-0000-000000000000", Metadata={"message_id": "0"}
    )
    events = MessageEvent.unscoped.count()

    # when
    response = postmark_post(client, POSTMARK_TRACKING, payload)

    # then: 200, or Postmark would retry it for days
    assert response.status_code == 200
    assert MessageEvent.unscoped.count() == events
    assert Suppression.unscoped.count() == 0
    assert Message.unscoped.get(pk=email.pk).status == "sent"


# --- anymail: Postmark's inbound webhook (a reply to the List-Unsubscribe mailto) -------------


def postmark_inbound(subject: str) -> dict:
    return {
        "FromName": "Ada Lovelace",
        "MessageStream": "inbound",
        "From": "ada@example.com",
        "FromFull": {"Email": "ada@example.com", "Name": "Ada Lovelace", "MailboxHash": ""},
        "To": "unsubscribe@app.example",
        "ToFull": [{"Email": "unsubscribe@app.example", "Name": "", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "Bcc": "",
        "BccFull": [],
        "OriginalRecipient": "unsubscribe@app.example",
        "Subject": subject,
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "MailboxHash": "",
        "Date": "Tue, 2 Jun 2026 15:20:00 +0000",
        "TextBody": "",
        "HtmlBody": "",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": [
            {"Name": "Return-Path", "Value": "<ada@example.com>"},
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "X-Spam-Score", "Value": "-0.1"},
        ],
        "Attachments": [],
    }


def email_consent(customer):
    customer = Customer.unscoped.get(pk=customer.pk)
    return customer.email_marketing_consent, customer.email_consent_source


def test_a_reply_to_the_unsubscribe_mailto_withdraws_email_consent(client, shop):
    # given
    merchant, customer = shop
    token = unsubscribe_token(merchant_id=merchant.pk, customer_id=customer.pk, channel="email")

    # when
    response = postmark_post(client, POSTMARK_INBOUND, postmark_inbound(f"unsubscribe {token}"))

    # then
    assert response.status_code == 200
    assert email_consent(customer) == (False, "unsubscribe_mailto")
    assert consent(customer) == (True, "")


@pytest.mark.parametrize(
    "subject",
    ["unsubscribe {token}x", "unsubscribe", "Re: your order", "unsubscribe {other}"],
    ids=["tampered", "no-token", "not-an-unsubscribe", "a-preferences-token"],
)
def test_a_reply_without_a_valid_token_changes_nothing(client, shop, subject):
    # given
    merchant, customer = shop
    token = unsubscribe_token(merchant_id=merchant.pk, customer_id=customer.pk, channel="email")
    other = preferences_token(merchant_id=merchant.pk, customer_id=customer.pk)

    # when
    response = postmark_post(
        client, POSTMARK_INBOUND, postmark_inbound(subject.format(token=token, other=other))
    )

    # then
    assert response.status_code == 200
    assert email_consent(customer) == (True, "")


def test_an_inbound_email_with_wrong_basic_auth_is_refused(client, shop):
    # given
    merchant, customer = shop
    token = unsubscribe_token(merchant_id=merchant.pk, customer_id=customer.pk, channel="email")

    # when
    response = postmark_post(
        client, POSTMARK_INBOUND, postmark_inbound(f"unsubscribe {token}"), "user:wrong"
    )

    # then
    assert response.status_code == 400
    assert email_consent(customer) == (True, "")
