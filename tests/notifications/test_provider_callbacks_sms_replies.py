"""Incoming texts (replies to our texts), signed as Twilio signs them: STOP, START and HELP with
exactly what each gives or takes back, answered once, refused with a wrong signature, and only
ever about the merchant (or the merchants) whose number the reply went to."""

from __future__ import annotations

import itertools

import pytest

from notifications.models import ChannelSettings, InboundSms, Suppression
from orders.models import Customer
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.provider_callbacks import (
    OTHER_SID,
    OTHER_TOKEN,
    PLATFORM_NUMBER,
    PLATFORM_SID,
    PLATFORM_TOKEN,
    SHOP_NUMBER,
    SHOPPER_NUMBER,
    SITE,
    consent,
    sent,
    suppressions,
    twilio_post,
)
from tests.notifications.twilio_http import ACCOUNT_SID, AUTH_TOKEN

# Our site, the platform's Twilio account, Postmark's secret (tests/notifications/conftest.py).
pytestmark = pytest.mark.usefixtures("provider_settings")


REPLY_SID = "SM" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


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
