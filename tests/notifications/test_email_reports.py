"""Delivery reports from a merchant's own ESP account: its own URL and secret, and no report,
on either URL, can touch another merchant's messages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from notifications.models import ChannelSettings, Message
from notifications.settings_services import channel_settings_save
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.provider_callbacks import (
    POSTMARK_ID,
    POSTMARK_TRACKING,
    SITE,
    WEBHOOK_SECRET,
    basic_auth,
    postmark_delivery,
    postmark_post,
    sent,
)


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(name="Demo Outfitters", timezone="UTC")
    customer = CustomerFactory(merchant=merchant, email="ada@example.com", timezone="UTC")
    return merchant, customer


@pytest.fixture
def email(shop):
    """An email sent, as Postmark's API would have answered it."""
    merchant, customer = shop
    message = sent(merchant, customer, channel="email")
    Message.unscoped.filter(pk=message.pk).update(
        provider="anymail:postmark", provider_message_id=POSTMARK_ID
    )
    message.refresh_from_db()
    return message


@pytest.fixture
def own_postmark(shop):
    merchant, _ = shop
    return channel_settings_save(
        merchant=merchant,
        data={"email_provider": "postmark", "email_credentials": '{"server_token": "pm"}'},
    )


def merchant_url(merchant) -> str:
    return reverse(
        "notifications_webhooks:email_postmark_merchant", kwargs={"merchant_slug": merchant.slug}
    )


def test_choosing_an_own_provider_makes_a_report_secret_and_dropping_it_clears_it(shop):
    # given
    merchant, _ = shop

    # when
    row = channel_settings_save(
        merchant=merchant,
        data={"email_provider": "postmark", "email_credentials": '{"server_token": "pm"}'},
    )
    user, _, password = row.email_webhook_secret.partition(":")

    # then
    assert (len(user), len(password)) == (16, 48)
    assert ChannelSettings.unscoped.get(merchant=merchant).email_webhook_secret == (
        row.email_webhook_secret
    )
    row = channel_settings_save(merchant=merchant, data={"email_provider": ""})
    assert row.email_webhook_secret == ""


def test_a_merchants_own_report_url_takes_its_own_secret(client, email, own_postmark):
    # when
    wrong = postmark_post(client, merchant_url(email.merchant), postmark_delivery(email))
    right = postmark_post(
        client,
        merchant_url(email.merchant),
        postmark_delivery(email),
        credentials=own_postmark.email_webhook_secret,
    )

    # then
    assert (wrong.status_code, right.status_code) == (400, 200)
    assert Message.unscoped.get(pk=email.pk).status == "delivered"


def test_a_merchants_secret_cannot_report_on_another_merchants_message(client, email):
    # given: another merchant with its own Postmark, aiming at the first one's message
    other = MerchantFactory()
    row = channel_settings_save(
        merchant=other,
        data={"email_provider": "postmark", "email_credentials": '{"server_token": "x"}'},
    )

    # when
    response = postmark_post(
        client, merchant_url(other), postmark_delivery(email), credentials=row.email_webhook_secret
    )

    # then: accepted (the ESP must not retry) but nothing changed
    assert response.status_code == 200
    assert Message.unscoped.get(pk=email.pk).status == "sent"


def test_the_platform_url_cannot_report_on_a_message_of_a_merchant_with_its_own_esp(
    client, email, own_postmark
):
    # when
    response = postmark_post(client, POSTMARK_TRACKING, postmark_delivery(email))

    # then
    assert response.status_code == 200
    assert Message.unscoped.get(pk=email.pk).status == "sent"


@pytest.mark.parametrize("case", ["unknown merchant", "another provider", "no own provider"])
def test_a_merchant_report_url_answers_404_unless_it_is_that_merchants_provider(client, shop, case):
    # given
    merchant, _ = shop
    if case == "another provider":
        channel_settings_save(
            merchant=merchant,
            data={"email_provider": "sendgrid", "email_credentials": '{"api_key": "k"}'},
        )
    path = "/webhooks/email/postmark/m/nobody/" if case == "unknown merchant" else None

    # when
    response = client.post(
        path or merchant_url(merchant), data=json.dumps({}), content_type="application/json"
    )

    # then
    assert response.status_code == 404


def signed_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_the_settings_page_shows_the_report_url_to_those_who_may_change_settings(
    shop, own_postmark, member_of
):
    # given
    from postpurchase.tenancy.models import Role

    merchant, _ = shop
    owner = signed_in(member_of(merchant, Role.OWNER))
    viewer = signed_in(member_of(merchant, Role.VIEWER))
    secret = own_postmark.email_webhook_secret

    # when
    as_owner = owner.get(reverse("dashboard:settings_messages")).content.decode()
    as_viewer = viewer.get(reverse("dashboard:settings_messages")).content.decode()

    # then
    expected = f"https://{secret}@app.example/webhooks/email/postmark/m/{merchant.slug}/"
    assert expected in as_owner
    assert secret not in as_viewer


@pytest.mark.parametrize("own", [False, True], ids=["platform", "merchant"])
def test_a_report_nested_too_deeply_to_parse_is_400_not_500(client, shop, own_postmark, own):
    # given: the right secret, and a body Python's JSON parser cannot read (100,000 "[")
    merchant, _ = shop
    url = merchant_url(merchant) if own else reverse("notifications_webhooks:email_postmark")
    secret = own_postmark.email_webhook_secret if own else WEBHOOK_SECRET

    # when
    response = client.post(
        url,
        data="[" * 100_000,
        content_type="application/json",
        headers={"Authorization": basic_auth(secret)},
    )

    # then
    assert response.status_code == 400
    assert Message.unscoped.count() == 0
