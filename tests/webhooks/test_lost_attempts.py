"""Attempts whose worker dies mid-request (the hard time limit, an OOM kill): the attempt counts
from the moment its claim is taken, the lease brings the delivery back once, and the retry
window and ``MAX_ATTEMPTS`` still end a delivery whose sends never finish.

A worker is "killed" by a signal that raises ``WorkerKilled`` once the receiver has the request:
nothing of the send runs after that, as after a SIGKILL."""

from __future__ import annotations

import signal
import socket
import threading
from collections import deque
from datetime import timedelta

import pytest

from postpurchase.events.services import event_record
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import typed_payload
from tests.webhooks.conftest import T0
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.services import (
    GAVE_UP_UNFINISHED,
    LEASE,
    MAX_ATTEMPTS,
    RETRY_WINDOW,
    webhook_deliveries_for_event,
    webhook_deliveries_sweep,
    webhook_delivery_send,
    webhook_endpoint_create,
)

WAIT = 10  # seconds; only reached when something is broken


class WorkerKilled(BaseException):
    """Not an ``Exception``: nothing catches it, as nothing survives a SIGKILL."""


def hold(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(WAIT)


def ok(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def server(raw_server):
    """A receiver that holds each request it gets (the worker dies meanwhile), or answers the
    way the test queued in ``server.answers``."""
    answers: deque = deque()
    server = raw_server(lambda conn, stop: (answers.popleft() if answers else hold)(conn, stop))
    server.answers = answers
    return server


@pytest.fixture
def delivery_id(merchant_a, server, enqueued):
    """A delivery to ``server``, fanned out (and claimed) at T0; its send not yet run."""
    webhook_endpoint_create(merchant=merchant_a, url=server.url, event_types=["*"], now=T0)
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=typed_payload("order.placed"), now=T0
    )
    with merchant_scope(merchant_a):
        [delivery_id] = webhook_deliveries_for_event(event=event, now=T0)
    return delivery_id


def claim_of(delivery_id: int) -> str:
    return WebhookDelivery.unscoped.get(pk=delivery_id).claim


def send_and_die_mid_request(merchant, server, delivery_id: int, claim: str, now) -> None:
    """Run the send as a worker that is killed while the receiver holds the request."""
    server.arrived.clear()
    main = threading.get_ident()

    def killed(signum, frame):
        raise WorkerKilled()

    def kill_once_arrived():
        if server.arrived.wait(WAIT):
            signal.pthread_kill(main, signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, killed)
    killer = threading.Thread(target=kill_once_arrived, daemon=True)
    killer.start()
    try:
        with merchant_scope(merchant), pytest.raises(WorkerKilled):
            webhook_delivery_send(delivery_id=delivery_id, claim=claim, now=now)
    finally:
        killer.join(WAIT)
        signal.signal(signal.SIGUSR1, previous)


def state(delivery_id: int) -> tuple:
    delivery = WebhookDelivery.unscoped.get(pk=delivery_id)
    return (
        delivery.status,
        delivery.attempts,
        delivery.first_attempt_at,
        delivery.last_attempt_at,
        delivery.next_attempt_at,
        delivery.claim,
    )


def test_an_attempt_whose_worker_dies_counts_and_is_made_again_after_one_lease(
    merchant_a, server, delivery_id, enqueued
):
    # given: the send task ran 4 minutes after the fan-out
    started = T0 + timedelta(minutes=4)

    # when: its worker dies while the receiver has the request
    send_and_die_mid_request(merchant_a, server, delivery_id, claim_of(delivery_id), started)

    # then: the attempt counts, and the lease runs from the send, not from the claim
    assert state(delivery_id) == (
        DeliveryStatus.PENDING,
        1,
        started,
        started,
        started + LEASE,
        "",
    )
    assert WebhookAttempt.unscoped.count() == 0
    enqueued.clear()
    assert webhook_deliveries_sweep(now=started + LEASE - timedelta(seconds=1)) == []
    assert webhook_deliveries_sweep(now=started + LEASE) == [delivery_id]

    # when: the re-claimed send is made, and answered
    server.answers.append(ok)
    [(_, claim, _)] = enqueued
    with merchant_scope(merchant_a):
        attempt = webhook_delivery_send(delivery_id=delivery_id, claim=claim, now=started + LEASE)

    # then: it is the second attempt of a delivery first tried at ``started``
    assert (attempt.number, attempt.succeeded, attempt.response_excerpt) == (2, True, "ok")
    assert state(delivery_id)[:3] == (DeliveryStatus.SUCCEEDED, 2, started)
    assert len(server.requests) == 2


def test_a_delivery_whose_every_send_dies_is_failed_after_max_attempts(
    merchant_a, server, delivery_id, enqueued
):
    # given: a send that dies every time, made again each time its lease runs out
    claim, now = claim_of(delivery_id), T0
    for number in range(1, MAX_ATTEMPTS + 1):
        send_and_die_mid_request(merchant_a, server, delivery_id, claim, now)
        now += LEASE
        enqueued.clear()
        claimed = webhook_deliveries_sweep(now=now)
        if number < MAX_ATTEMPTS:
            assert claimed == [delivery_id]
            [(_, claim, _)] = enqueued

    # then: the last sweep gave up instead of claiming a 16th attempt
    assert (claimed, enqueued) == ([], [])
    assert len(server.requests) == MAX_ATTEMPTS == 15
    delivery = WebhookDelivery.unscoped.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_error, delivery.finished_at) == (
        DeliveryStatus.FAILED,
        15,
        GAVE_UP_UNFINISHED,
        T0 + 15 * LEASE,
    )
    assert (delivery.next_attempt_at, delivery.claim) == (None, "")


def test_a_send_that_dies_past_the_retry_window_ends_the_delivery(
    merchant_a, server, delivery_id, enqueued
):
    # given: the first attempt died at T0, and the workers were down for a day after it
    send_and_die_mid_request(merchant_a, server, delivery_id, claim_of(delivery_id), T0)
    late = T0 + RETRY_WINDOW + timedelta(hours=1)
    enqueued.clear()
    assert webhook_deliveries_sweep(now=late) == [delivery_id]
    [(_, claim, _)] = enqueued

    # when: that attempt, past the window, dies too
    send_and_die_mid_request(merchant_a, server, delivery_id, claim, late)
    enqueued.clear()
    before_lease_end = webhook_deliveries_sweep(now=late + LEASE - timedelta(seconds=1))
    at_lease_end = webhook_deliveries_sweep(now=late + LEASE)

    # then
    assert (before_lease_end, at_lease_end, enqueued) == ([], [], [])
    delivery = WebhookDelivery.unscoped.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_error, delivery.finished_at) == (
        DeliveryStatus.FAILED,
        2,
        GAVE_UP_UNFINISHED,
        late + LEASE,
    )
    assert len(server.requests) == 2


def test_the_last_attempt_scheduled_at_the_window_end_is_still_made_when_swept_late(
    merchant_a, delivery_id, enqueued
):
    # given: attempt 5 failed at 20 h and scheduled the last one on the 24th hour
    WebhookDelivery.unscoped.filter(pk=delivery_id).update(
        claim="",
        attempts=5,
        first_attempt_at=T0,
        last_attempt_at=T0 + timedelta(hours=20),
        next_attempt_at=T0 + RETRY_WINDOW,
    )
    enqueued.clear()

    # when: the sweep comes round 15 s after it is due
    claimed = webhook_deliveries_sweep(now=T0 + RETRY_WINDOW + timedelta(seconds=15))

    # then: it is claimed for its send, not given up
    assert claimed == [delivery_id]
    assert WebhookDelivery.unscoped.get(pk=delivery_id).status == DeliveryStatus.PENDING
