"""The Message-ID of the emails we send names our site (the host of ``SITE_URL``), not the
machine's own name (Django's default, often ``localhost``), through the real outbox and Django's
own MIME building (the locmem backend keeps what would go out)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from notifications import delivery
from notifications.channels import email_build
from notifications.rendering import sample_context
from notifications.services import message_send, message_template_save
from tests.factories import CustomerFactory, MerchantFactory

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
MESSAGE_ID = re.compile(r"<[^<>@\s]+@([^<>@\s]+)>")


@pytest.fixture
def locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    return mail.outbox


def domain_of(email) -> str:
    match = MESSAGE_ID.fullmatch(email.message()["Message-ID"])
    assert match is not None
    return match.group(1)


def test_an_email_from_the_outbox_has_a_message_id_on_the_sites_host(db, settings, locmem):
    # given
    settings.SITE_URL = "https://app.example.com:8443/"
    merchant = MerchantFactory(sender_email="hello@demo.example", timezone="UTC")
    customer = CustomerFactory(merchant=merchant, email="ada@example.com", timezone="UTC")
    variant = {"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}
    template = message_template_save(
        merchant=merchant,
        payload={
            "key": "confirmation",
            "name": "Confirmation",
            "channel": "email",
            "category": "transactional",
            "kind": "transactional",
            "variants": [variant],
        },
    )
    context = {k: v for k, v in sample_context().items() if not k.endswith("_url")}
    message = message_send(
        merchant=merchant,
        template=template,
        customer=customer,
        context=context,
        idempotency_key="order:1",
        now=NOON,
    )
    # when
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[message.pk],
        claim=message.claim,
        now=NOON + timedelta(seconds=1),
        rng=random.Random(7),
    )
    # then
    [email] = locmem
    assert domain_of(email) == "app.example.com"


@pytest.mark.parametrize(
    ("site_url", "domain"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1"),
        ("https://Mail.Example.COM", "mail.example.com"),
        ("https://bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_the_message_id_domain_is_the_site_urls_host_in_ascii(settings, site_url, domain):
    # given
    settings.SITE_URL = site_url
    # when
    email = email_build(
        subject="Hi",
        text="Hi",
        html="",
        to="ada@example.com",
        from_email="hello@demo.example",
        reply_to="",
        headers={},
        metadata={},
        tags=[],
    )
    # then
    assert domain_of(email) == domain


def test_each_email_gets_its_own_message_id(settings):
    # given
    settings.SITE_URL = "https://app.example.com"
    fields = {
        "subject": "Hi",
        "text": "Hi",
        "html": "",
        "to": "ada@example.com",
        "from_email": "hello@demo.example",
        "reply_to": "",
        "headers": {},
        "metadata": {},
        "tags": [],
    }
    # when
    first, second = email_build(**fields), email_build(**fields)
    # then
    assert first.message()["Message-ID"] != second.message()["Message-ID"]


def test_a_password_reset_email_has_a_message_id_on_the_sites_host(client, settings, owner_a):
    # given: Django builds this one itself, with no Message-ID of ours
    settings.SITE_URL = "https://app.example.com"

    # when
    response = client.post("/app/password-reset/", {"email": owner_a.email})

    # then
    assert response.status_code == 302
    assert [domain_of(email) for email in mail.outbox] == ["app.example.com"]
