"""A merchant's ESP credentials reach anymail only through its provider's allowlist: refused by
name at save, dropped at send (rows written before the allowlist) and in the report view."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from notifications import delivery
from notifications.channels import email_connection
from notifications.models import ChannelSettings, Message, MessageStatus
from notifications.settings_services import channel_settings_save
from postpurchase.errors import DomainError
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.provider_callbacks import (
    SITE,
    WEBHOOK_SECRET,
    postmark_delivery,
    postmark_post,
    sent,
)

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
CALLS: list[tuple] = []


def record_call(*args, **kwargs):
    """Stands for ``os.mkdir``: what an import path in stored credentials would have run."""
    CALLS.append((args, kwargs))
    return "recorded"


class FakeMailgun:
    """A local stand-in for Mailgun's messages API: records each raw request."""

    def __init__(self):
        self.requests: list[tuple[str, bytes]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests.append((self.path, body))
                payload = json.dumps({"id": "<20260602.1@mg.demo.example>", "message": "Queued"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v3/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def mailgun(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True  # the stand-in listens on 127.0.0.1
    fake = FakeMailgun()
    yield fake
    fake.server.shutdown()


@pytest.fixture(autouse=True)
def no_calls():
    CALLS.clear()


def queued_email(merchant, to: str) -> Message:
    return Message.unscoped.create(
        merchant=merchant,
        idempotency_key="order:1",
        channel="email",
        category="transactional",
        to=to,
        subject="Your order",
        text="Thanks",
        html="<p>Thanks</p>",
        status=MessageStatus.QUEUED,
        claim="c1",
        next_attempt_at=NOON,
        created_at=NOON,
        updated_at=NOON,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("idna_encoder", "os.mkdir"),
        ("debug_api_requests", "1"),
        ("send_defaults", "{}"),
        ("requests_timeout", "0.001"),
    ],
)
def test_a_setting_outside_mailgun_s_allowlist_is_refused_by_name(merchant_a, key, value):
    # when
    with pytest.raises(DomainError) as raised:
        channel_settings_save(
            merchant=merchant_a,
            data={"email_provider": "mailgun", "email_credentials": {"api_key": "k", key: value}},
        )
    # then
    assert raised.value.fields == {
        f"email_credentials.{key}": [
            {
                "code": "credential_not_allowed",
                "message": "is not a Mailgun setting "
                "(it takes api_key, sender_domain, api_url, webhook_signing_key)",
            }
        ]
    }
    assert raised.value.message.startswith(f"email_credentials.{key}: is not a Mailgun setting")
    assert list(ChannelSettings.unscoped.values()) == []


def test_a_stored_import_path_is_ignored_at_send_and_nothing_is_imported(db, mailgun):
    # given: a row saved before the allowlist, holding a dotted path anymail would import
    merchant = MerchantFactory(sender_email="hello@demo.example")
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="mailgun",
        email_credentials=json.dumps(
            {
                "api_key": "key-1",
                "sender_domain": "mg.demo.example",
                "api_url": mailgun.url,
                "idna_encoder": "tests.notifications.test_esp_credentials.record_call",
                "debug_api_requests": "1",
            }
        ),
    )
    message = queued_email(merchant, "ada@bücher.example")

    # when: an address with a non-ASCII domain, which needs the IDNA encoder
    delivery.messages_deliver(
        merchant=merchant, message_ids=[message.pk], claim="c1", now=NOON + timedelta(seconds=1)
    )

    # then: anymail's own encoder ran, ours was never imported or called
    assert CALLS == []
    message.refresh_from_db()
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "anymail:mailgun",
        "<20260602.1@mg.demo.example>",
    )
    [(path, body)] = mailgun.requests
    assert path == "/v3/mg.demo.example/messages"
    assert parse_qs(body.decode())["to"] == ["ada@xn--bcher-kva.example"]


def test_debug_api_requests_never_reaches_anymail(db, mailgun, capsys):
    # given
    merchant = MerchantFactory()
    row = ChannelSettings(
        merchant=merchant,
        email_provider="mailgun",
        email_credentials=json.dumps(
            {"api_key": "key-1", "api_url": mailgun.url, "debug_api_requests": "1"}
        ),
    )

    # when
    backend, provider = email_connection(row)

    # then: the backend built with anymail's safe defaults, whatever the row says
    assert provider == "anymail:mailgun"
    assert (backend.debug_api_requests, backend.idna_encoder) == (False, "idna2008")
    assert (backend.api_key, backend.api_url) == ("key-1", mailgun.url)
    assert backend.send_defaults == {}


def test_a_stored_row_without_its_required_key_fails_the_message_as_not_configured(db):
    # given
    merchant = MerchantFactory()
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="mailgun",
        email_credentials=json.dumps({"idna_encoder": "os.mkdir"}),
    )
    message = queued_email(merchant, "ada@example.com")

    # when
    delivery.messages_deliver(
        merchant=merchant, message_ids=[message.pk], claim="c1", now=NOON + timedelta(seconds=1)
    )

    # then
    message.refresh_from_db()
    assert (message.status, message.reason, message.detail) == (
        "failed",
        "not_configured",
        "Mailgun needs api_key: set it in Settings",
    )


def test_a_secret_left_blank_keeps_the_stored_one_and_a_blank_plain_setting_clears(merchant_a):
    # given
    channel_settings_save(
        merchant=merchant_a,
        data={
            "email_provider": "mailgun",
            "email_credentials": {"api_key": "key-1", "sender_domain": "mg.alpha.example"},
        },
    )
    # when
    channel_settings_save(
        merchant=merchant_a,
        data={
            "email_provider": "mailgun",
            "email_credentials": {"api_key": "", "sender_domain": ""},
        },
    )
    # then
    row = ChannelSettings.unscoped.get(merchant=merchant_a)
    assert json.loads(row.email_credentials) == {"api_key": "key-1"}


def test_the_report_view_gets_only_the_allowed_keys(db, client, settings):
    # given: a row saved before the allowlist, one of whose keys names an attribute of
    # anymail's view (its signal)
    settings.SITE_URL = SITE
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    merchant = MerchantFactory()
    customer = CustomerFactory(merchant=merchant, email="ada@example.com")
    email = sent(merchant, customer, channel="email")
    Message.unscoped.filter(pk=email.pk).update(
        provider="anymail:postmark", provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483"
    )
    secret = "u" * 16 + ":" + "p" * 48
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "pm", "signal": "hijacked"}),
        email_webhook_secret=secret,
    )
    url = reverse(
        "notifications_webhooks:email_postmark_merchant", kwargs={"merchant_slug": merchant.slug}
    )

    # when
    response = postmark_post(client, url, postmark_delivery(email), credentials=secret)

    # then
    assert response.status_code == 200
    assert Message.unscoped.get(pk=email.pk).status == "delivered"
