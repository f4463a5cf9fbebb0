"""The hand-off from the outbox to email: anymail's test backend for what leaves, a local HTTP
server standing in for an ESP's API (through anymail's real Postmark backend) for the failures,
claims and the sweep for who sends, and the clock passed in."""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from notifications import delivery
from notifications.links import UNSUBSCRIBE_SALT, token_read
from notifications.models import ChannelSettings, Message, MessageEvent, Suppression
from notifications.outbox import SendRequest, message_send_batch
from notifications.rendering import sample_context
from notifications.services import message_send, message_template_save
from tests.factories import CustomerFactory, MerchantFactory

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def anymail_test(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SITE_URL = "https://app.example"
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(
        name="Demo Outfitters",
        sender_name="Demo Outfitters",
        sender_email="hello@demo.example",
        support_email="help@demo.example",
        timezone="UTC",
    )
    customer = CustomerFactory(
        merchant=merchant,
        email="ada@example.com",
        phone="+14155550123",
        timezone="UTC",
        email_marketing_consent=True,
        sms_marketing_consent=True,
    )
    return merchant, customer


def template(merchant, *, key="confirmation", category="transactional", kind="transactional"):
    variant = {"locale": "en", "subject": "Hi {{ customer.first_name }}", "html_body": "<p>Hi</p>"}
    payload = {"key": key, "name": key, "channel": "email", "category": category, "kind": kind}
    return message_template_save(merchant=merchant, payload={**payload, "variants": [variant]})


def queued(merchant, customer, tmpl, key="order:1", now=NOON) -> Message:
    # the sample's links left out: the shopper's own signed ones go in
    context = {k: v for k, v in sample_context().items() if not k.endswith("_url")}
    return message_send(
        merchant=merchant,
        template=tmpl,
        customer=customer,
        context=context,
        idempotency_key=key,
        now=now,
    )


def deliver(merchant, message, now=NOON + timedelta(seconds=1), claim=None):
    return delivery.messages_deliver(
        merchant=merchant,
        message_ids=[message.pk],
        claim=claim or message.claim,
        now=now,
        rng=random.Random(7),
    )


def timeline(message):
    return list(
        MessageEvent.unscoped.filter(message=message)
        .order_by("occurred_at", "id")
        .values_list("status", "reason")
    )


def test_a_queued_email_goes_out_with_the_merchants_identity(shop, anymail_test):
    # given
    merchant, customer = shop
    message = queued(merchant, customer, template(merchant))

    # when
    handled = deliver(merchant, message)

    # then
    assert [m.pk for m in handled] == [message.pk]
    message.refresh_from_db()
    assert (message.status, message.provider, message.provider_message_id, message.attempts) == (
        "sent",
        "anymail:test",
        "0",
        1,
    )
    assert message.sent_at == NOON + timedelta(seconds=1)
    assert (message.claim, message.next_attempt_at) == ("", None)
    [email] = anymail_test
    # through our provider, from our address until the merchant's domain is verified
    assert email.from_email == "Demo Outfitters <no-reply@localhost>"
    assert email.reply_to == ["help@demo.example"]
    assert email.to == ["ada@example.com"]
    assert email.subject == "Hi Ada"
    assert email.body == message.text
    assert email.alternatives[0].content == message.html
    assert email.alternatives[0].mimetype == "text/html"
    assert email.anymail_test_params["metadata"] == {
        "message_id": str(message.pk),
        "merchant_id": str(merchant.pk),
    }
    assert email.anymail_test_params["tags"] == ["transactional"]
    assert "List-Unsubscribe" not in email.extra_headers
    assert timeline(message) == [("queued", ""), ("sending", ""), ("sent", "")]


def test_marketing_email_carries_one_click_unsubscribe_headers(shop, anymail_test, settings):
    # given
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@app.example"
    merchant, customer = shop
    tmpl = template(merchant, key="winback", category="marketing", kind="re_engagement")
    message = queued(merchant, customer, tmpl)

    # when
    deliver(merchant, message)

    # then
    [email] = anymail_test
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = email.extra_headers["List-Unsubscribe"].split(", ")
    prefix = f"<https://app.example/s/{merchant.slug}/unsubscribe/"
    assert https.startswith(prefix) and https.endswith("/>")
    token = https.removeprefix(prefix).removesuffix("/>")
    assert token_read(token, salt=UNSUBSCRIBE_SALT) == {
        "m": merchant.pk,
        "c": customer.pk,
        "ch": "email",
    }
    assert mailto.startswith("<mailto:unsubscribe@app.example?subject=unsubscribe%20")
    # the frame's footer links to the same page
    assert f"https://app.example/s/{merchant.slug}/unsubscribe/" in email.alternatives[0].content


def test_a_claim_is_used_once_so_a_redelivered_task_sends_nothing(shop, anymail_test):
    # given
    merchant, customer = shop
    message = queued(merchant, customer, template(merchant))
    claim = message.claim
    deliver(merchant, message, claim=claim)

    # when: the broker hands the same task over again, and a stranger's claim arrives
    again = deliver(merchant, message, claim=claim)
    other = deliver(merchant, message, claim="f" * 32)

    # then
    assert (again, other) == ([], [])
    assert len(anymail_test) == 1
    assert Message.unscoped.get(pk=message.pk).attempts == 1


def test_another_merchants_task_cannot_take_a_message(shop, anymail_test):
    # given
    merchant, customer = shop
    message = queued(merchant, customer, template(merchant))
    other = MerchantFactory()

    # when
    handled = deliver(other, message)

    # then
    assert handled == []
    assert Message.unscoped.get(pk=message.pk).status == "queued"
    assert anymail_test == []


def test_an_address_suppressed_after_the_decision_is_not_sent_to(shop, anymail_test):
    # given: the customer's address bounced elsewhere between the decision and the hand-off
    merchant, customer = shop
    message = queued(merchant, customer, template(merchant))
    Suppression.unscoped.create(
        merchant=merchant, channel="email", address="ada@example.com", reason="bounce"
    )

    # when
    deliver(merchant, message)

    # then
    message.refresh_from_db()
    assert (message.status, message.reason) == ("suppressed", "suppressed_bounce")
    assert anymail_test == []
    assert timeline(message)[-1] == ("suppressed", "suppressed_bounce")


def test_consent_withdrawn_before_the_hand_off_stops_a_marketing_email(shop, anymail_test):
    # given
    merchant, customer = shop
    tmpl = template(merchant, key="winback", category="marketing", kind="re_engagement")
    message = queued(merchant, customer, tmpl)
    customer.email_marketing_consent = False
    customer.save()

    # when
    deliver(merchant, message)

    # then
    assert Message.unscoped.get(pk=message.pk).reason == "no_consent"
    assert anymail_test == []


def test_the_sweep_claims_due_messages_and_skips_the_rest(shop, anymail_test, monkeypatch):
    # given: a message deferred to 21:00, one queued whose task was lost (lease over), one sent
    merchant, customer = shop
    tmpl = template(merchant)
    deferred = queued(merchant, customer, tmpl, key="a")
    Message.unscoped.filter(pk=deferred.pk).update(
        status="deferred", claim="", next_attempt_at=NOON + timedelta(hours=6)
    )
    lost = queued(merchant, customer, tmpl, key="b")
    done = queued(merchant, customer, tmpl, key="c")
    deliver(merchant, done)
    enqueued = []
    monkeypatch.setattr(
        delivery,
        "_enqueue",
        lambda ids, claim, m, bulk=False: enqueued.append((ids, m)),
    )

    # when: the lost one's lease is over, the deferral not yet
    at = NOON + delivery.LEASE + timedelta(seconds=1)
    early = delivery.messages_due_sweep(now=at)
    deliver(merchant, lost, now=at, claim=Message.unscoped.get(pk=lost.pk).claim)
    late = delivery.messages_due_sweep(now=NOON + timedelta(hours=6))

    # then
    assert early == [lost.pk]
    assert late == [deferred.pk]
    assert enqueued == [([lost.pk], merchant.pk), ([deferred.pk], merchant.pk)]
    claim = Message.unscoped.get(pk=deferred.pk).claim
    deliver(merchant, deferred, now=NOON + timedelta(hours=6), claim=claim)
    assert Message.unscoped.get(pk=deferred.pk).status == "sent"


# --- failures, through anymail's real Postmark backend against a local API --------------------


class FakeEsp:
    """A local stand-in for Postmark's API: answers from a queue, records requests and the
    client address (host, port) of the connection each came on. With ``keep_alive`` it speaks
    HTTP/1.1 and keeps a connection open for the client's next request."""

    def __init__(self, keep_alive: bool = False):
        self.answers: list[tuple[int, dict]] = []
        self.requests: list[dict] = []
        self.connections: list[tuple[str, int]] = []
        esp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                esp.requests.append(body)
                esp.connections.append(self.client_address)
                # with nothing queued, Postmark's answer to an accepted email
                accepted = {"ErrorCode": 0, "Message": "OK", "To": body.get("To", "")}
                accepted["MessageID"] = f"pm-{len(esp.requests)}"
                status, answer = esp.answers.pop(0) if esp.answers else (200, accepted)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(params=[False], ids=["http1.0"])
def postmark(request, shop, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True  # the fake API listens on 127.0.0.1
    esp = FakeEsp(keep_alive=request.param)
    merchant, _ = shop
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "pm-token", "api_url": esp.url}),
    )
    yield esp
    esp.server.shutdown()


def accepted(message_id="pm-1"):
    return 200, {"ErrorCode": 0, "Message": "OK", "MessageID": message_id, "To": "ada@example.com"}


def test_a_merchants_own_esp_is_used_with_its_credentials(shop, postmark):
    # given
    merchant, customer = shop
    postmark.answers.append(accepted("b7bc2f4a"))
    message = queued(merchant, customer, template(merchant))

    # when
    deliver(merchant, message)

    # then
    message.refresh_from_db()
    assert (message.status, message.provider, message.provider_message_id) == (
        "sent",
        "anymail:postmark",
        "b7bc2f4a",
    )
    [sent] = postmark.requests
    assert (sent["From"], sent["To"], sent["Subject"]) == (
        "Demo Outfitters <hello@demo.example>",
        "ada@example.com",
        "Hi Ada",
    )
    assert sent["Metadata"] == {"message_id": str(message.pk), "merchant_id": str(merchant.pk)}


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_transient_esp_failure_is_retried_with_backoff(shop, postmark, status):
    # given
    merchant, customer = shop
    postmark.answers.append((status, {"ErrorCode": 100, "Message": "Try later"}))
    message = queued(merchant, customer, template(merchant))
    at = NOON + timedelta(seconds=1)

    # when
    deliver(merchant, message, now=at)

    # then
    message.refresh_from_db()
    expected = at + delivery.RETRY_BACKOFF.delay(1, rng=random.Random(7))
    assert (message.status, message.reason) == ("deferred", "retry")
    assert message.deferred_until == message.next_attempt_at == expected
    assert message.detail.startswith("provider_unavailable: ")
    assert timeline(message) == [("queued", ""), ("sending", ""), ("deferred", "retry")]

    # and when the retry comes due, the sweep hands it over again and it goes
    postmark.answers.append(accepted())
    Message.unscoped.filter(pk=message.pk).update(claim="retry-claim")
    deliver(merchant, message, now=expected, claim="retry-claim")
    message.refresh_from_db()
    assert (message.status, message.attempts, len(postmark.requests)) == ("sent", 2, 2)


@pytest.mark.parametrize(
    ("answer", "reason", "suppressed", "detail"),
    [
        # Postmark's words for an address that hard-bounced before
        (
            "You tried to send to a recipient that has been marked as inactive.\n"
            " Found inactive addresses: ada@example.com.\n Inactive recipients are ones that"
            " have generated a hard bounce or a spam complaint.",
            "rejected",
            ["bounce"],
            "The provider refused ada@example.com (rejected).",
        ),
        (
            "Invalid 'From' address: 'hello@demo.example'.",
            "provider_refused",
            [],
            "Postmark API response 422 (Unprocessable Entity)",
        ),
    ],
)
def test_a_permanent_esp_refusal_fails_at_once_with_the_providers_reason(
    shop, postmark, answer, reason, suppressed, detail
):
    # given
    merchant, customer = shop
    code = 406 if "inactive" in answer else 300
    postmark.answers.append((422, {"ErrorCode": code, "Message": answer}))
    message = queued(merchant, customer, template(merchant))

    # when
    deliver(merchant, message)

    # then
    message.refresh_from_db()
    assert (message.status, message.reason, message.next_attempt_at) == ("failed", reason, None)
    assert message.detail.startswith(detail)
    assert "pm-token" not in message.detail
    assert (
        list(
            Suppression.unscoped.filter(merchant=merchant, address="ada@example.com").values_list(
                "reason", flat=True
            )
        )
        == suppressed
    )


def test_an_unreachable_esp_is_a_transient_failure(shop, postmark):
    # given: nothing listens at the API's address any more
    merchant, customer = shop
    postmark.server.shutdown()
    postmark.server.server_close()
    message = queued(merchant, customer, template(merchant))

    # when
    deliver(merchant, message)

    # then
    message.refresh_from_db()
    assert (message.status, message.reason) == ("deferred", "retry")


def test_retries_stop_after_the_last_attempt(shop, postmark):
    # given: the ninth failure is behind it
    merchant, customer = shop
    message = queued(merchant, customer, template(merchant))
    Message.unscoped.filter(pk=message.pk).update(attempts=delivery.MAX_ATTEMPTS - 1)
    postmark.answers.append((503, {"ErrorCode": 100, "Message": "Down"}))

    # when
    deliver(merchant, message)

    # then
    message.refresh_from_db()
    assert (message.status, message.reason, message.attempts) == (
        "failed",
        "provider_unavailable",
        delivery.MAX_ATTEMPTS,
    )


@pytest.mark.parametrize("postmark", [True], ids=["keep-alive"], indirect=True)
@pytest.mark.parametrize(
    ("answers", "statuses", "connections"),
    [
        ([], ["sent", "sent", "sent"], 1),
        # after a 503 the session is closed: the third email goes on a new connection
        (
            [accepted(), (503, {"ErrorCode": 100, "Message": "Down"})],
            ["sent", "deferred", "sent"],
            2,
        ),
    ],
    ids=["accepted", "503"],
)
def test_a_run_reuses_one_connection_to_the_merchants_esp(
    shop, postmark, answers, statuses, connections
):
    # given: three emails to three shoppers, written together under one claim
    merchant, _ = shop
    postmark.answers.extend(answers)
    tmpl = template(merchant)
    customers = [
        CustomerFactory(merchant=merchant, email=f"shopper{i}@example.com", timezone="UTC")
        for i in range(3)
    ]
    messages = message_send_batch(
        merchant=merchant,
        requests=[
            SendRequest(tmpl, c, {"customer": {"first_name": "Ada"}}, f"order:{i}")
            for i, c in enumerate(customers)
        ],
        now=NOON,
    )

    # when
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[m.pk for m in messages],
        claim=messages[0].claim,
        now=NOON + timedelta(seconds=1),
        rng=random.Random(7),
    )

    # then
    assert [r["To"] for r in postmark.requests] == [f"shopper{i}@example.com" for i in range(3)]
    assert len(set(postmark.connections)) == connections
    assert [
        status
        for status in Message.unscoped.filter(pk__in=[m.pk for m in messages])
        .order_by("pk")
        .values_list("status", flat=True)
    ] == statuses


@pytest.mark.parametrize(
    "api_url",
    [
        "http://10.0.0.5/",
        "https://attacker.example/",  # public, but not Postmark's
        "http://api.postmarkapp.com/",  # Postmark's host, without TLS
    ],
)
def test_an_api_url_off_the_esps_own_hosts_is_refused(shop, settings, api_url):
    # given
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    merchant, customer = shop
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "t", "api_url": api_url}),
    )
    message = queued(merchant, customer, template(merchant))

    # when
    deliver(merchant, message)

    # then
    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "not_configured")


def test_a_lost_send_is_resumed_and_given_up_after_the_last_attempt(
    shop, anymail_test, monkeypatch
):
    # given: a worker died mid-send (status sending, lease running)
    monkeypatch.setattr(delivery, "_enqueue", lambda ids, claim, merchant_id, bulk=False: None)
    merchant, customer = shop
    message = queued(merchant, customer, template(merchant))
    Message.unscoped.filter(pk=message.pk).update(
        status="sending", claim="", attempts=1, first_attempt_at=NOON, next_attempt_at=NOON
    )

    # when: the sweep finds it, and the resumed attempt goes
    claimed = delivery.messages_due_sweep(now=NOON + timedelta(seconds=1))
    claim = Message.unscoped.get(pk=message.pk).claim
    deliver(merchant, message, now=NOON + timedelta(seconds=2), claim=claim)

    # then
    assert claimed == [message.pk]
    assert timeline(message)[-2:] == [("sending", "resumed"), ("sent", "")]

    # and a message whose last allowed attempt never finished is failed by the sweep
    other = queued(merchant, customer, template(merchant, key="t2"), key="k2")
    Message.unscoped.filter(pk=other.pk).update(
        status="sending",
        attempts=delivery.MAX_ATTEMPTS,
        first_attempt_at=NOON,
        next_attempt_at=NOON,
    )
    assert delivery.messages_due_sweep(now=NOON + timedelta(minutes=1)) == []
    other.refresh_from_db()
    assert (other.status, other.reason) == ("failed", "unfinished")
