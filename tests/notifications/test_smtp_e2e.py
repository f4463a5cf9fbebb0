"""End to end through Django's SMTP backend into a real SMTP server (aiosmtpd) started by the
test: the headers a mailbox provider reads (From, Reply-To, List-Unsubscribe, One-Click), the
text and HTML parts, what an SMTP refusal does, one SMTP session for a run of messages (and a
new one after the server drops it), and a real Celery worker doing the hand-off."""

from __future__ import annotations

import random
import socket
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from notifications import delivery
from notifications.models import ChannelSettings, Message, MessageEvent, SenderDomain, Suppression
from notifications.outbox import SendRequest, message_send_batch
from notifications.services import message_send, message_template_save
from notifications.tasks import messages_deliver_task
from postpurchase.celery import app
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.twilio_http import ACCOUNT_SID, AUTH_TOKEN, recording

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


class Mailbox:
    """aiosmtpd's handler: keeps what it accepts and each session's client (at its EHLO),
    counts QUITs; answers RCPT with ``refuse`` when set, or with ``answers[address]``
    (``DROP`` there closes the connection instead, once)."""

    DROP = "drop"

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []
        self.sessions: list[tuple[str, int]] = []
        self.quits = 0
        self.refuse = ""
        self.answers: dict[str, str] = {}
        self.arrived = threading.Event()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # aiosmtpd leaves it to the hook
        self.sessions.append(session.peer)
        return responses

    async def handle_QUIT(self, server, session, envelope):
        self.quits += 1
        return "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.refuse or self.answers.get(address, "")
        if answer == self.DROP:
            del self.answers[address]
            server.transport.close()  # mid-transaction: the client reads end of file
            return "421 Closing"
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.arrived.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port: aiosmtpd checks its server by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = (
        "127.0.0.1",
        controller.server.sockets[0].getsockname()[1],
    )
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SITE_URL = "https://app.example"
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@app.example"
    yield mailbox
    controller.stop()


def shop():
    merchant = MerchantFactory(
        name="Demo Outfitters",
        sender_name="Demo Outfitters",
        sender_email="hello@demo.example",
        support_email="help@demo.example",
        timezone="UTC",
    )
    customer = CustomerFactory(
        merchant=merchant, email="ada@example.com", timezone="UTC", email_marketing_consent=True
    )
    tmpl = message_template_save(
        merchant=merchant,
        payload={
            "key": "winback",
            "name": "Win-back",
            "channel": "email",
            "category": "marketing",
            "kind": "re_engagement",
            "variants": [
                {
                    "locale": "en",
                    "subject": "We miss you, {{ customer.first_name }}",
                    "html_body": "<p>Come back for <strong>10% off</strong>.</p>",
                }
            ],
        },
    )
    return merchant, customer, tmpl


def send(merchant, customer, tmpl, key="winback:1", now=NOON):
    return message_send(
        merchant=merchant,
        template=tmpl,
        customer=customer,
        context={"customer": {"first_name": "Ada"}},
        idempotency_key=key,
        now=now,
    )


@pytest.mark.django_db
def test_a_marketing_email_arrives_with_its_headers_and_both_parts(smtp):
    # given: a merchant whose sender domain is verified
    merchant, customer, tmpl = shop()
    SenderDomain.unscoped.create(
        merchant=merchant, domain="demo.example", method="txt", verified_at=NOON
    )
    message = send(merchant, customer, tmpl)

    # when
    delivery.messages_deliver(
        merchant=merchant, message_ids=[message.pk], claim=message.claim, now=NOON
    )

    # then
    [(mail_from, rcpt_tos, raw)] = smtp.received
    assert (mail_from, rcpt_tos) == ("hello@demo.example", ["ada@example.com"])
    email = message_from_bytes(raw, policy=policy.default)
    assert email["From"] == "Demo Outfitters <hello@demo.example>"
    assert email["To"] == "ada@example.com"
    assert email["Reply-To"] == "help@demo.example"
    assert email["Subject"] == "We miss you, Ada"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = str(email["List-Unsubscribe"]).strip().split(", ")  # unfolded
    assert https.startswith(f"<https://app.example/s/{merchant.slug}/unsubscribe/")
    assert mailto.startswith("<mailto:unsubscribe@app.example?subject=unsubscribe%20")
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = email.get_body(preferencelist=("html",)).get_content()
    assert text.startswith("Come back for 10% off.\n")
    assert "<strong>10% off</strong>" in html
    assert f"https://app.example/s/{merchant.slug}/unsubscribe/" in html
    message.refresh_from_db()
    assert (message.status, message.provider) == ("sent", "smtp")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "status", "reason", "suppressed"),
    [
        ("550 5.1.1 No such user", "failed", "rejected", ["bounce"]),
        ("451 4.3.0 Try again later", "deferred", "retry", []),
    ],
)
def test_an_smtp_refusal_is_permanent_or_transient_by_its_code(
    smtp, answer, status, reason, suppressed
):
    # given
    merchant, customer, tmpl = shop()
    message = send(merchant, customer, tmpl)
    smtp.refuse = answer

    # when
    delivery.messages_deliver(
        merchant=merchant, message_ids=[message.pk], claim=message.claim, now=NOON
    )

    # then
    message.refresh_from_db()
    assert (message.status, message.reason) == (status, reason)
    assert answer.split(" ", 1)[1] in message.detail
    assert smtp.received == []
    assert (
        list(Suppression.unscoped.filter(merchant=merchant).values_list("reason", flat=True))
        == suppressed
    )


def batch(merchant, tmpl, count):
    """``count`` shoppers and a message to each, written together under one claim (as a batch
    of events writes them) and handed over in one run."""
    customers = [
        CustomerFactory(
            merchant=merchant,
            email=f"shopper{i}@example.com",
            timezone="UTC",
            email_marketing_consent=True,
        )
        for i in range(count)
    ]
    requests = [
        SendRequest(tmpl, customer, {"customer": {"first_name": "Ada"}}, f"winback:{i}")
        for i, customer in enumerate(customers)
    ]
    messages = message_send_batch(merchant=merchant, requests=requests, now=NOON)
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[m.pk for m in messages],
        claim=messages[0].claim,
        now=NOON,
        rng=random.Random(7),
    )
    return list(Message.unscoped.filter(pk__in=[m.pk for m in messages]).order_by("pk"))


def timelines(messages):
    return [
        list(
            MessageEvent.unscoped.filter(message=m)
            .order_by("occurred_at", "id")
            .values_list("status", "reason")
        )
        for m in messages
    ]


SENT = [("queued", ""), ("sending", ""), ("sent", "")]


@pytest.mark.django_db
def test_a_run_of_messages_goes_out_through_one_smtp_session(smtp):
    # given
    merchant, _, tmpl = shop()

    # when
    messages = batch(merchant, tmpl, 5)

    # then: one session, five mails, each to its own shopper
    assert len(smtp.sessions) == 1
    assert [rcpt_tos for _, rcpt_tos, _ in smtp.received] == [
        [f"shopper{i}@example.com"] for i in range(5)
    ]
    assert [(m.status, m.provider, m.to) for m in messages] == [
        ("sent", "smtp", f"shopper{i}@example.com") for i in range(5)
    ]
    assert timelines(messages) == [SENT] * 5
    assert smtp.quits == 1  # closed at the end of the run


@pytest.mark.django_db
def test_a_refused_recipient_fails_its_message_alone_and_the_session_goes_on(smtp):
    # given: the server has no mailbox for the second shopper
    merchant, _, tmpl = shop()
    smtp.answers["shopper1@example.com"] = "550 5.1.1 No such user"

    # when
    messages = batch(merchant, tmpl, 3)

    # then: the others went, on the same session; the refused address is suppressed
    assert len(smtp.sessions) == 1
    assert [rcpt_tos for _, rcpt_tos, _ in smtp.received] == [
        ["shopper0@example.com"],
        ["shopper2@example.com"],
    ]
    assert [(m.status, m.reason) for m in messages] == [
        ("sent", ""),
        ("failed", "rejected"),
        ("sent", ""),
    ]
    assert "No such user" in messages[1].detail
    assert timelines(messages) == [SENT, [*SENT[:2], ("failed", "rejected")], SENT]
    assert list(
        Suppression.unscoped.filter(merchant=merchant).values_list("address", "reason")
    ) == [("shopper1@example.com", "bounce")]


@pytest.mark.django_db
def test_a_dropped_session_defers_one_message_and_the_rest_go_out_on_a_new_one(smtp):
    # given: the server hangs up on the second message, after its MAIL FROM
    merchant, _, tmpl = shop()
    smtp.answers["shopper1@example.com"] = Mailbox.DROP

    # when
    messages = batch(merchant, tmpl, 4)

    # then: that one is deferred to a retry; the rest went, after a second EHLO
    assert len(smtp.sessions) == 2
    assert [rcpt_tos for _, rcpt_tos, _ in smtp.received] == [
        ["shopper0@example.com"],
        ["shopper2@example.com"],
        ["shopper3@example.com"],
    ]
    assert [(m.status, m.reason) for m in messages] == [
        ("sent", ""),
        ("deferred", "retry"),
        ("sent", ""),
        ("sent", ""),
    ]
    assert messages[1].detail == "provider_unavailable: Connection unexpectedly closed"
    assert messages[1].next_attempt_at == NOON + delivery.RETRY_BACKOFF.delay(
        1, rng=random.Random(7)
    )
    assert timelines(messages) == [SENT, [*SENT[:2], ("deferred", "retry")], SENT, SENT]
    assert smtp.quits == 1  # the second session; the first was gone


@pytest.mark.django_db
def test_a_server_that_never_answers_defers_the_message_after_email_timeout(smtp, settings):
    # given: a server that takes the connection and never says a word (no greeting)
    merchant, _, tmpl = shop()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    settings.EMAIL_PORT = silent.getsockname()[1]
    settings.EMAIL_TIMEOUT = 0.2
    try:
        # when
        [message] = batch(merchant, tmpl, 1)
    finally:
        silent.close()

    # then: a transient failure, retried, rather than a run held until the task's time limit
    assert (message.status, message.reason) == ("deferred", "retry")
    assert message.detail == "provider_unavailable: Connection unexpectedly closed: timed out"
    assert smtp.received == []


@pytest.mark.django_db
def test_a_run_cut_short_still_closes_its_smtp_session(smtp, settings):
    # given: an email, then a text whose send the task's soft time limit interrupts
    merchant, customer, email_tmpl = shop()
    customer.phone, customer.sms_marketing_consent = "+14155550123", True
    customer.save()
    ChannelSettings.unscoped.create(
        merchant=merchant,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        sms_from_number="+14155550100",
    )
    sms_tmpl = message_template_save(
        merchant=merchant,
        payload={
            "key": "hello_sms",
            "name": "Hello (SMS)",
            "channel": "sms",
            "category": "transactional",
            "kind": "status",
            "variants": [{"locale": "en", "sms_body": "Hi {{ customer.first_name }}"}],
        },
    )
    context = {"customer": {"first_name": "Ada"}}
    email, text = message_send_batch(
        merchant=merchant,
        requests=[
            SendRequest(email_tmpl, customer, context, "winback:1"),
            SendRequest(sms_tmpl, customer, context, "hello:1"),
        ],
        now=NOON,
    )

    with recording(settings) as twilio:
        twilio.answers.append(SoftTimeLimitExceeded())

        # when
        delivery.messages_deliver(
            merchant=merchant, message_ids=[email.pk, text.pk], claim=email.claim, now=NOON
        )

    # then: the email went, the text is handed back, and the session was closed
    email.refresh_from_db()
    text.refresh_from_db()
    assert (email.status, text.status, text.attempts) == ("sent", "queued", 0)
    assert (len(smtp.sessions), smtp.quits) == (1, 1)


@pytest.fixture
def worker(transactional_db):
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
        yield w


def test_a_celery_worker_hands_a_committed_message_to_smtp_once(smtp, worker):
    # given
    merchant, customer, tmpl = shop()

    # when: the send commits (its hand-off is enqueued on commit); the same claim is then
    # enqueued again, as a broker re-delivery would, and we wait for that second task
    with transaction.atomic():
        message = send(merchant, customer, tmpl, now=datetime.now(UTC))
    again = messages_deliver_task.apply_async(
        kwargs={"message_ids": [message.pk], "claim": message.claim, "merchant_id": merchant.pk},
        ignore_result=False,
    ).get(timeout=30)

    # then: one email, one attempt (the worker runs tasks one at a time, in order)
    assert smtp.arrived.wait(timeout=30)
    assert again == 0
    assert len(smtp.received) == 1
    message = Message.unscoped.get(pk=message.pk)
    assert (message.status, message.attempts, message.provider) == ("sent", 1, "smtp")
    assert message.sent_at is not None and message.sent_at <= datetime.now(UTC) + timedelta(1)
