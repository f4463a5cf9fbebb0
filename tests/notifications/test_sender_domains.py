"""A custom From on the platform's email provider needs a verified domain (its TXT token or the
platform's DKIM key, looked up through a resolver the test passes in: no network); until then
mail goes from the platform's address under the merchant's name, replies to the merchant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from django.core import mail
from django.urls import reverse

from notifications import delivery
from notifications.models import ChannelSettings, Message, MessageStatus, SenderDomain
from notifications.sender import DnsLookupFailed, sender_domain_check, sender_domain_record
from postpurchase.errors import DomainError
from tests.factories import MerchantFactory
from tests.notifications.test_delivery import FakeEsp

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


class FakeResolver:
    """TXT records by name; a name mapped to an exception raises it."""

    def __init__(self, records: dict[str, list[str] | Exception]):
        self.records = records
        self.asked: list[str] = []

    def txt(self, name: str) -> list[str]:
        self.asked.append(name)
        found = self.records.get(name, [])
        if isinstance(found, Exception):
            raise found
        return found


class PublishedResolver:
    """The DNS as a test publishes it in ``records`` (named by ``SENDER_DNS_RESOLVER``)."""

    records: ClassVar[dict[str, list[str]]] = {}

    def txt(self, name: str) -> list[str]:
        return list(self.records.get(name, []))


@pytest.fixture
def platform_mail(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "Post-purchase <no-reply@platform.example>"
    settings.SITE_URL = "https://app.example"
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def merchant(db):
    return MerchantFactory(
        name="Demo Outfitters",
        sender_name="Demo Outfitters",
        sender_email="hello@demo.example",
        support_email="",
        timezone="UTC",
    )


def queued_email(merchant, key="order:1") -> Message:
    return Message.unscoped.create(
        merchant=merchant,
        idempotency_key=key,
        channel="email",
        category="transactional",
        to="ada@example.com",
        subject="Your order",
        text="Thanks",
        html="<p>Thanks</p>",
        status=MessageStatus.QUEUED,
        claim="c1",
        next_attempt_at=NOON,
        created_at=NOON,
        updated_at=NOON,
    )


def deliver(merchant, message):
    delivery.messages_deliver(
        merchant=merchant, message_ids=[message.pk], claim="c1", now=NOON + timedelta(seconds=1)
    )


def test_an_unverified_domain_sends_from_the_platform_with_the_merchant_as_reply_to(
    merchant, platform_mail
):
    # given
    message = queued_email(merchant)
    # when
    deliver(merchant, message)
    # then
    [email] = platform_mail
    assert email.from_email == "Demo Outfitters <no-reply@platform.example>"
    assert email.reply_to == ["hello@demo.example"]


def test_the_txt_token_verifies_the_domain_and_mail_goes_from_the_merchant(merchant, platform_mail):
    # given
    name, value = sender_domain_record(merchant, "demo.example")
    resolver = FakeResolver({name: ["v=spf1 -all", value]})
    # when
    row = sender_domain_check(merchant=merchant, resolver=resolver, now=NOON)
    deliver(merchant, queued_email(merchant))
    # then
    assert name == "_postpurchase.demo.example"
    assert value.startswith("postpurchase-verification=") and len(value) == 58
    assert resolver.asked == ["_postpurchase.demo.example"]
    assert (row.domain, row.method, row.verified_at, row.checked_at) == (
        "demo.example",
        "txt",
        NOON,
        NOON,
    )
    assert row.check_detail == "Found the TXT record at _postpurchase.demo.example."
    [email] = platform_mail
    assert email.from_email == "Demo Outfitters <hello@demo.example>"


def test_another_merchants_token_does_not_verify(merchant, platform_mail):
    # given: the record another merchant would publish for the same domain
    other = MerchantFactory(sender_email="hi@demo.example")
    name, other_value = sender_domain_record(other, "demo.example")
    # when
    row = sender_domain_check(
        merchant=merchant, resolver=FakeResolver({name: [other_value]}), now=NOON
    )
    deliver(merchant, queued_email(merchant))
    # then
    assert (row.verified_at, row.method) == (None, "")
    assert row.check_detail == (
        f"Not verified yet: _postpurchase.demo.example has {other_value[:80]!r}."
    )
    [email] = platform_mail
    assert email.from_email == "Demo Outfitters <no-reply@platform.example>"


def test_the_platforms_dkim_key_published_under_the_domain_verifies_it(merchant, settings):
    # given: the key split by whitespace, as DNS hosts split long records
    settings.SENDER_DKIM_SELECTOR = "pp1"
    settings.SENDER_DKIM_PUBLIC_KEY = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC7"
    resolver = FakeResolver(
        {
            "pp1._domainkey.demo.example": [
                "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3 DQEBAQUAA4GNADCBiQKBgQC7"
            ]
        }
    )
    # when
    row = sender_domain_check(merchant=merchant, resolver=resolver, now=NOON)
    # then
    assert resolver.asked == ["_postpurchase.demo.example", "pp1._domainkey.demo.example"]
    assert (row.method, row.verified_at) == ("dkim", NOON)
    assert row.check_detail == "Found our DKIM key at pp1._domainkey.demo.example."


def test_a_failed_lookup_keeps_the_answer_and_a_record_taken_down_unverifies(merchant):
    # given: verified
    name, value = sender_domain_record(merchant, "demo.example")
    sender_domain_check(merchant=merchant, resolver=FakeResolver({name: [value]}), now=NOON)
    later = NOON + timedelta(days=1)
    # when: the DNS does not answer
    failed = sender_domain_check(
        merchant=merchant, resolver=FakeResolver({name: DnsLookupFailed("Timeout")}), now=later
    )
    # then
    assert (failed.verified_at, failed.method, failed.checked_at) == (NOON, "txt", later)
    assert failed.check_detail == "The DNS lookup failed (Timeout); try again."
    # when: the record is gone
    gone = sender_domain_check(merchant=merchant, resolver=FakeResolver({}), now=later)
    # then
    assert (gone.verified_at, gone.method) == (None, "")
    assert SenderDomain.unscoped.filter(merchant=merchant).count() == 1


def test_a_merchant_without_a_sender_address_has_nothing_to_check(db):
    # given
    merchant = MerchantFactory(sender_email="")
    # when
    with pytest.raises(DomainError) as raised:
        sender_domain_check(merchant=merchant, resolver=FakeResolver({}), now=NOON)
    # then
    assert raised.value.fields == {
        "sender_email": [
            {
                "code": "sender_address_missing",
                "message": "Set a sender address in your brand settings first.",
            }
        ]
    }
    assert SenderDomain.unscoped.count() == 0


def test_through_its_own_esp_the_merchants_address_is_the_from_unverified(merchant, settings):
    # given: the merchant's own Postmark account (a local stand-in)
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    esp = FakeEsp()
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "pm", "api_url": esp.url}),
    )
    # when
    deliver(merchant, queued_email(merchant))
    esp.server.shutdown()
    # then
    [request] = esp.requests
    assert (request["From"], request["ReplyTo"]) == (
        "Demo Outfitters <hello@demo.example>",
        "hello@demo.example",
    )


def test_the_settings_page_shows_the_record_to_publish_and_the_from_in_use(
    client, merchant, member_of, settings
):
    # given
    settings.DEFAULT_FROM_EMAIL = "Post-purchase <no-reply@platform.example>"
    client.force_login(member_of(merchant, "owner", email="owner@demo.example"))
    name, value = sender_domain_record(merchant, "demo.example")
    # when
    page = client.get(reverse("dashboard:settings_messages")).content.decode()
    # then
    assert '<span class="badge badge--warning" data-sender-state>Domain not verified</span>' in page
    assert "<code data-from>Demo Outfitters &lt;no-reply@platform.example&gt;</code>" in page
    assert f"<code>{name}</code>" in page and f"<code>{value}</code>" in page


def test_check_now_in_settings_verifies_the_published_record(client, merchant, member_of, settings):
    # given: the record published
    settings.DEFAULT_FROM_EMAIL = "Post-purchase <no-reply@platform.example>"
    settings.SENDER_DNS_RESOLVER = f"{__name__}.PublishedResolver"
    name, value = sender_domain_record(merchant, "demo.example")
    PublishedResolver.records = {name: [value]}
    client.force_login(member_of(merchant, "owner", email="owner@demo.example"))
    # when
    response = client.post(reverse("dashboard:settings_messages_sender_check"))
    page = client.get(reverse("dashboard:settings_messages")).content.decode()
    # then
    assert response["Location"] == reverse("dashboard:settings_messages") + "#sender"
    assert SenderDomain.unscoped.get(merchant=merchant).method == "txt"
    assert '<span class="badge badge--success" data-sender-state>Domain verified</span>' in page
    assert "<code data-from>Demo Outfitters &lt;hello@demo.example&gt;</code>" in page
    PublishedResolver.records = {}
