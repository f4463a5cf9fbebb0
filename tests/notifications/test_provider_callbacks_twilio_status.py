"""Twilio's status callbacks, posted as Twilio posts them and signed with twilio's own
``RequestValidator``: a text moved to delivered once however often it is reported, a wrong or
missing signature, an unknown message or another merchant's token refused, a landline
suppressed, a late report moving nothing back, and the platform's account's texts."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from notifications.models import ChannelSettings, Message, MessageEvent
from tests.factories import MerchantFactory
from tests.notifications.provider_callbacks import (
    OTHER_SID,
    OTHER_TOKEN,
    PLATFORM_SID,
    PLATFORM_TOKEN,
    SHOP_NUMBER,
    SHOPPER_NUMBER,
    SITE,
    sent,
    suppressions,
    timeline,
    twilio_post,
)
from tests.notifications.twilio_http import ACCOUNT_SID, AUTH_TOKEN, MESSAGE_SID

# Our site, the platform's Twilio account, Postmark's secret (tests/notifications/conftest.py).
pytestmark = pytest.mark.usefixtures("provider_settings")


# --- Twilio ------------------------------------------------------------------------------------


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
