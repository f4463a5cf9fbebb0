"""anymail's Postmark webhooks (JSON behind HTTP basic auth): tracking (delivered, bounced,
complained, unsubscribed, a late report, an email found by our id else Postmark's, an unknown
one dropped) and inbound (a reply to the List-Unsubscribe mailto)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from anymail import urls as anymail_urls
from django.urls import resolve

from notifications.links import preferences_token, unsubscribe_token
from notifications.models import Message, MessageEvent, Suppression
from orders.models import Customer
from tests.notifications.provider_callbacks import (
    POSTMARK_ID,
    POSTMARK_TRACKING,
    consent,
    metadata,
    postmark_delivery,
    postmark_post,
    sent,
    suppressions,
    timeline,
)

# Our site, the platform's Twilio account, Postmark's secret (tests/notifications/conftest.py).
pytestmark = pytest.mark.usefixtures("provider_settings")


# --- anymail: Postmark's tracking webhook ------------------------------------------------------


POSTMARK_INBOUND = "/webhooks/email/postmark/inbound/"


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
