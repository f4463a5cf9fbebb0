"""Workers racing on PostgreSQL: one claim sends one request; sweepers skip rows another holds.

Each worker is a thread with its own connection and transactions, as two Celery workers would
be. Waits have timeouts, so a regression fails the test instead of hanging it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, transaction

from postpurchase.events.services import event_record
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import typed_payload
from tests.webhooks.conftest import T0
from webhooks.models import WebhookDelivery
from webhooks.services import (
    LEASE,
    webhook_deliveries_for_event,
    webhook_deliveries_sweep,
    webhook_delivery_send,
    webhook_endpoint_create,
)
from webhooks.transport import DEADLINE

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 10  # seconds; only reached when something is broken


@pytest.fixture
def claimed(merchant_a, receiver, enqueued):
    """A delivery to the receiver, claimed by its fan-out: ``(delivery_id, claim)``."""
    webhook_endpoint_create(merchant=merchant_a, url=receiver.url, event_types=["*"], now=T0)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=typed_payload("order.placed"), now=T0
    )
    with merchant_scope(merchant_a):
        [delivery_id] = webhook_deliveries_for_event(event=event, now=T0)
    claim = WebhookDelivery.unscoped.get(pk=delivery_id).claim
    enqueued.clear()  # the fan-out's own send (committed here): the tests run it themselves
    return delivery_id, claim


def send_in_own_connection(merchant, delivery_id, claim):
    try:
        with merchant_scope(merchant):
            return webhook_delivery_send(delivery_id=delivery_id, claim=claim, now=T0)
    finally:
        connection.close()


def test_two_workers_with_one_claim_send_one_request(merchant_a, receiver, claimed):
    # given: the receiver holds the first request until the test lets it go
    delivery_id, claim = claimed
    receiver.hold = threading.Event()

    with ThreadPoolExecutor(max_workers=2) as pool:
        # when: a worker is mid-request and a second one runs the same task message
        first = pool.submit(send_in_own_connection, merchant_a, delivery_id, claim)
        assert receiver.arrived.wait(WAIT), "the first worker never sent"
        second = pool.submit(send_in_own_connection, merchant_a, delivery_id, claim)
        second_attempt = second.result(timeout=WAIT)
        receiver.hold.set()
        first_attempt = first.result(timeout=WAIT)

    # then
    assert second_attempt is None
    assert (first_attempt.number, first_attempt.succeeded) == (1, True)
    assert len(receiver.requests) == 1
    assert WebhookDelivery.unscoped.get(pk=delivery_id).attempts == 1


def test_a_sweeper_skips_a_delivery_another_transaction_holds(merchant_a, claimed, enqueued):
    # given: another sweeper holds the due row's lock
    delivery_id, _ = claimed
    due_at = T0 + LEASE
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                WebhookDelivery.unscoped.select_for_update().get(pk=delivery_id)
                locked.set()
                release.wait(WAIT)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        holder = pool.submit(hold_lock)
        assert locked.wait(WAIT)

        # when
        while_held = webhook_deliveries_sweep(now=due_at)
        release.set()
        holder.result(timeout=WAIT)
    after = webhook_deliveries_sweep(now=due_at)
    again = webhook_deliveries_sweep(now=due_at + timedelta(seconds=1))

    # then: skipped while locked, claimed once after, and not again within the lease
    assert (while_held, after, again) == ([], [delivery_id], [])
    assert len(enqueued) == 1


def test_a_send_in_flight_keeps_the_delivery_from_the_sweep(merchant_a, receiver, claimed):
    # given: the send task ran 4 minutes after its claim, and the receiver is slow to answer
    delivery_id, claim = claimed
    started = T0 + timedelta(minutes=4)
    receiver.hold = threading.Event()

    def send():
        try:
            with merchant_scope(merchant_a):
                return webhook_delivery_send(delivery_id=delivery_id, claim=claim, now=started)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(send)
        assert receiver.arrived.wait(WAIT), "the worker never sent"

        # when: sweeps run while the request is in flight, past the claim's own lease
        swept = [
            webhook_deliveries_sweep(now=T0 + LEASE),
            webhook_deliveries_sweep(now=started + LEASE - timedelta(seconds=1)),
        ]
        lease_end = WebhookDelivery.unscoped.get(pk=delivery_id).next_attempt_at
        receiver.hold.set()
        attempt = in_flight.result(timeout=WAIT)

    # then: the send took a fresh lease, so nothing was claimed again or sent twice
    assert swept == [[], []]
    assert lease_end == started + LEASE
    assert (attempt.number, attempt.succeeded) == (1, True)
    assert len(receiver.requests) == 1


def test_the_lease_outlasts_the_task_hard_time_limit_and_a_whole_request():
    from postpurchase.celery import app

    assert (LEASE, app.conf.task_time_limit, DEADLINE) == (timedelta(minutes=10), 300, 25)
    assert timedelta(seconds=app.conf.task_time_limit + DEADLINE) < LEASE
