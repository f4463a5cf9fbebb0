"""Nothing of a deactivated merchant leaves, through the real delivery path: a queued email's
hand-off task, run by a real Celery worker on the Redis broker after the deactivation, sends
nothing; and a run already under way when the merchant is deactivated stops at its next send.
anymail's test backend stands for the provider: what it holds is what left."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from notifications import delivery
from notifications.models import Message, MessageEvent
from notifications.services import message_send, message_template_save
from notifications.tasks import messages_deliver_task
from postpurchase.celery import app
from postpurchase.tenancy.services import merchant_deactivate
from tests.factories import CustomerFactory, MerchantFactory

NOON = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def anymail_outbox(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SITE_URL = "https://app.example"
    mail.outbox = []
    return mail.outbox


def shop(slug: str):
    merchant = MerchantFactory(slug=slug, sender_email=f"hello@{slug}.example", timezone="UTC")
    template = message_template_save(
        merchant=merchant,
        payload={
            "key": "hello",
            "name": "Hello",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}],
        },
    )
    return merchant, template


def queue_email(merchant, template, to: str, key: str, now=None) -> Message:
    customer = CustomerFactory(merchant=merchant, email=to, timezone="UTC")
    return message_send(
        merchant=merchant,
        template=template,
        customer=customer,
        context={},
        idempotency_key=key,
        now=now,
    )


def timeline(message: Message) -> list[tuple[str, str]]:
    return list(
        MessageEvent.unscoped.filter(message=message)
        .order_by("occurred_at", "id")
        .values_list("status", "reason")
    )


@pytest.mark.django_db(transaction=True)
def test_a_queued_email_does_not_go_out_after_deactivation(anymail_outbox):
    # given: an email queued for each of two merchants, their hand-offs on the broker, and no
    # worker running yet
    app.control.purge()
    (alpha, alpha_hello), (beta, beta_hello) = shop("alpha"), shop("beta")
    with transaction.atomic():
        stopped = queue_email(alpha, alpha_hello, "ada@example.com", "order:1")
        going = queue_email(beta, beta_hello, "bo@example.com", "order:1")

    # when: alpha is deactivated, then a worker starts and takes the queue in order; a last
    # hand-off for alpha's message, followed to its end, marks that the queue was worked through
    merchant_deactivate(merchant=alpha)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        last = messages_deliver_task.apply_async(
            kwargs={"message_ids": [stopped.pk], "claim": stopped.claim, "merchant_id": alpha.pk},
            ignore_result=False,
        ).get(timeout=30)

    # then: beta's email went; alpha's did not, and says why
    assert last is None  # the task refused to run for an inactive merchant
    assert [email.to for email in anymail_outbox] == [["bo@example.com"]]
    assert Message.unscoped.get(pk=going.pk).status == "sent"
    stopped.refresh_from_db()
    assert (stopped.status, stopped.reason, stopped.attempts, stopped.provider) == (
        "cancelled",
        "merchant_deactivated",
        0,
        "",
    )
    assert timeline(stopped) == [("queued", ""), ("cancelled", "merchant_deactivated")]


def test_a_run_under_way_stops_at_its_next_send_once_the_merchant_is_deactivated(
    db, anymail_outbox
):
    # given: two emails claimed by one hand-off
    alpha, hello = shop("alpha")
    first = queue_email(alpha, hello, "ada@example.com", "order:1", now=NOON)
    second = queue_email(alpha, hello, "bo@example.com", "order:2", now=NOON)
    Message.unscoped.filter(pk=second.pk).update(claim=first.claim)
    ticks = iter([0.0, 0.0])

    def clock() -> float:
        # the run reads its clock before each send: after the first email went out, the
        # operator deactivates the merchant, and the run's clock has moved on 5 seconds
        tick = next(ticks, None)
        if tick is None:
            merchant_deactivate(merchant=alpha, now=NOON + timedelta(seconds=5))
            return 5.0
        return tick

    # when
    delivery.messages_deliver(
        merchant=alpha,
        message_ids=[first.pk, second.pk],
        claim=first.claim,
        now=NOON + timedelta(seconds=1),
        rng=random.Random(7),
        clock=clock,
    )

    # then: the first went; the second, already claimed and sending, did not
    assert [email.to for email in anymail_outbox] == [["ada@example.com"]]
    rows = list(
        Message.unscoped.filter(pk__in=[first.pk, second.pk])
        .order_by("pk")
        .values_list("status", "reason", "detail")
    )
    assert rows == [
        ("sent", "", ""),
        ("cancelled", "merchant_deactivated", "Not sent: the merchant was deactivated."),
    ]
    assert timeline(second) == [
        ("queued", ""),
        ("sending", ""),
        ("cancelled", "merchant_deactivated"),
    ]
