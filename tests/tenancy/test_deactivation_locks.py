"""Deactivating a merchant while a hand-off run takes its claims: neither waits for the other in
a cycle. The run holds its messages' rows and then writes their timeline (whose foreign key to
the merchant takes a key-share lock on the merchant's row); the deactivation holds the
merchant's row and then wants the messages'. Locking the merchant ``FOR UPDATE`` made that a
deadlock (seen in bench/pipeline.py's teardown); ``FOR NO KEY UPDATE`` leaves key-share locks
free, so the run finishes and the deactivation goes on after it.

Each side runs in a thread of its own, so on a connection of its own; every wait has a timeout,
so a regression fails the test instead of hanging it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from django.db.models import Q

from notifications import delivery
from notifications.models import Message, MessageEvent
from notifications.services import message_send, message_template_save
from postpurchase.tenancy.services import merchant_deactivate
from tests.factories import CustomerFactory, MerchantFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOON = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
WAIT = 10  # seconds; only reached when something is broken


def queued_email(merchant, template, to: str, key: str) -> Message:
    customer = CustomerFactory(merchant=merchant, email=to, timezone="UTC")
    return message_send(
        merchant=merchant, template=template, customer=customer, context={}, idempotency_key=key
    )


def backend_waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_a_deactivation_during_a_hand_off_taking_its_claims_finishes_after_it(monkeypatch):
    # given: a merchant with two emails queued and claimed for a hand-off (the task itself is
    # not enqueued: the test runs the hand-off's first step by hand)
    monkeypatch.setattr(delivery, "_enqueue_pending", lambda *args, **kwargs: None)
    merchant = MerchantFactory(slug="alpha", sender_email="hello@alpha.example", timezone="UTC")
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
    taken = queued_email(merchant, template, "ada@example.com", "order:1")
    left = queued_email(merchant, template, "bo@example.com", "order:2")
    claim = Message.unscoped.get(pk=taken.pk).claim

    deactivating_pid: list[int] = []
    holding, pid_known = threading.Event(), threading.Event()
    real_insert = delivery.events_insert

    def insert_once_the_deactivation_waits(rows):
        # the run holds its message's row; the deactivation must be queued behind it first
        holding.set()
        assert pid_known.wait(WAIT), "the deactivation never started"
        deadline = time.monotonic() + WAIT
        while not backend_waits_for_a_lock(deactivating_pid[0]):
            assert time.monotonic() < deadline, "the deactivation never waited for the row"
            time.sleep(0.01)
        real_insert(rows)

    monkeypatch.setattr(delivery, "events_insert", insert_once_the_deactivation_waits)

    def hand_off():
        try:
            return delivery._claims_take(
                merchant=merchant, claimed=Q(pk__in=[taken.pk], claim=claim), now=NOON
            )
        finally:
            connection.close()

    def deactivate():
        try:
            with transaction.atomic():
                deactivating_pid.append(connection.connection.get_backend_pid())
            pid_known.set()
            return merchant_deactivate(merchant=merchant, now=NOON)
        finally:
            connection.close()

    # when: the run takes its claim while the merchant is deactivated
    with ThreadPoolExecutor(max_workers=2) as pool:
        running = pool.submit(hand_off)
        assert holding.wait(WAIT), "the run never took its rows"
        stopping = pool.submit(deactivate)
        handed = running.result(timeout=WAIT * 3)
        stopped = stopping.result(timeout=WAIT * 3)

    # then: both finished; the run holds its message (it cancels it itself before sending, as
    # the delivery tests show) and the deactivation cancelled the other one
    assert [message.pk for message in handed] == [taken.pk]
    assert stopped["messages cancelled"] == 1
    assert dict(Message.unscoped.filter(merchant=merchant).values_list("pk", "status")) == {
        taken.pk: "sending",
        left.pk: "cancelled",
    }
    assert list(
        MessageEvent.unscoped.filter(message=left).order_by("id").values_list("status", flat=True)
    ) == ["queued", "cancelled"]
