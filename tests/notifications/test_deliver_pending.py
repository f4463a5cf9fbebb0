"""Messages written alone batch themselves: each enqueues a hand-off run of its merchant's
claimed messages (``messages_deliver_pending``), so the first run takes every message written
since the last, on one connection, and the runs behind it take nothing. A run takes only its
merchant's messages, only claimed ones, skips what another run holds, and records each outcome
as a run of one does. anymail's test backend stands for the provider."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from notifications import delivery
from notifications.models import Message, MessageEvent
from notifications.services import message_send, message_template_save
from notifications.tasks import messages_deliver_pending_task
from tests.factories import CustomerFactory, MerchantFactory

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
LATER = NOON + timedelta(seconds=1)


@pytest.fixture
def outbox(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SITE_URL = "https://app.example"
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def enqueued(monkeypatch):
    """The hand-off runs that would have gone to the broker: (merchant id, bulk)."""
    runs = []
    monkeypatch.setattr(
        delivery,
        "_enqueue_pending",
        lambda merchant_id, *, bulk=False: runs.append((merchant_id, bulk)),
    )
    return runs


def shop(slug):
    merchant = MerchantFactory(slug=slug, sender_email=f"hello@{slug}.example", timezone="UTC")
    template = message_template_save(
        merchant=merchant,
        payload={
            "key": "confirmation",
            "name": "Confirmation",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Your order", "html_body": "<p>Hi</p>"}],
        },
    )
    return merchant, template


def written(merchant, template, n, *, now=NOON):
    customer = CustomerFactory(merchant=merchant, email=f"shopper{n}@example.com", timezone="UTC")
    return message_send(
        merchant=merchant,
        template=template,
        customer=customer,
        context={},
        idempotency_key=f"order:{n}",
        now=now,
    )


def pending(merchant, **kwargs):
    return delivery.messages_deliver_pending(
        merchant=merchant, now=LATER, rng=random.Random(7), **kwargs
    )


def statuses(merchant):
    return dict(Message.unscoped.filter(merchant=merchant).values_list("pk", "status"))


def test_the_first_run_sends_every_claimed_message_and_the_rest_send_nothing(
    db, outbox, enqueued, django_capture_on_commit_callbacks
):
    # given: three confirmations written one at a time for A (three runs enqueued), one for B
    alpha, alpha_template = shop("alpha")
    beta, beta_template = shop("beta")
    with django_capture_on_commit_callbacks(execute=True):
        mine = [written(alpha, alpha_template, n) for n in (1, 2, 3)]
        theirs = written(beta, beta_template, 4)

    # when: A's three runs go one after another
    first = pending(alpha)
    rest = [pending(alpha), pending(alpha)]

    # then: the first sent A's three, in order; B's waits for its own run
    assert [m.pk for m in first] == [m.pk for m in mine]
    assert rest == [[], []]
    assert [email.to for email in outbox] == [
        ["shopper1@example.com"],
        ["shopper2@example.com"],
        ["shopper3@example.com"],
    ]
    assert statuses(alpha) == {m.pk: "sent" for m in mine}
    assert statuses(beta) == {theirs.pk: "queued"}
    assert enqueued == [(alpha.pk, False)] * 3 + [(beta.pk, False)]
    assert list(
        MessageEvent.unscoped.filter(message=mine[0])
        .order_by("id")
        .values_list("status", flat=True)
    ) == ["queued", "sending", "sent"]


def test_a_full_run_enqueues_another_in_the_bulk_lane(db, outbox, enqueued):
    alpha, template = shop("alpha")
    mine = [written(alpha, template, n) for n in (1, 2, 3)]

    first = pending(alpha, limit=2)
    assert enqueued == [(alpha.pk, True)]
    second = pending(alpha, limit=2)

    assert ([m.pk for m in first], [m.pk for m in second]) == (
        [mine[0].pk, mine[1].pk],
        [mine[2].pk],
    )
    assert enqueued == [(alpha.pk, True)]
    assert len(outbox) == 3


def test_unclaimed_messages_are_left_to_their_time(db, outbox, enqueued):
    # given: a message deferred to a retry (no claim: the sweep claims it when it is due) and one
    # sent already
    alpha, template = shop("alpha")
    deferred = written(alpha, template, 1)
    Message.unscoped.filter(pk=deferred.pk).update(
        status="deferred", claim="", next_attempt_at=NOON + timedelta(minutes=5)
    )
    sent = written(alpha, template, 2)
    assert [m.pk for m in pending(alpha)] == [sent.pk]

    # when
    again = pending(alpha)

    # then
    assert again == []
    assert statuses(alpha) == {deferred.pk: "deferred", sent.pk: "sent"}
    assert len(outbox) == 1


def test_the_run_a_task_names_by_its_claim_finds_nothing_once_a_pending_run_took_it(
    db, outbox, enqueued
):
    alpha, template = shop("alpha")
    message = written(alpha, template, 1)
    claim = message.claim

    assert [m.pk for m in pending(alpha)] == [message.pk]
    named = delivery.messages_deliver(
        merchant=alpha, message_ids=[message.pk], claim=claim, now=LATER
    )

    assert named == []
    assert len(outbox) == 1


def test_no_run_for_an_inactive_merchant(db, outbox, enqueued):
    alpha, template = shop("alpha")
    message = written(alpha, template, 1)
    alpha.is_active = False
    alpha.save()

    assert messages_deliver_pending_task.run(merchant_id=alpha.pk) is None
    assert statuses(alpha) == {message.pk: "queued"}
    assert outbox == []
