"""The request itself: whatever a receiver answers — bytes PostgreSQL cannot store, odd
``Retry-After`` values, an answer trickled a byte at a time — and even the task's soft time
limit end as a recorded attempt, never as an exception; and the whole request is bounded.

Receivers are raw sockets on loopback, so a test writes exactly the bytes it means, paced by
events rather than sleeps. ``DEADLINE`` is shortened to half a second where a test waits it out.
"""

from __future__ import annotations

import random
import signal
import socket
import threading
import time
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from postpurchase.events.services import event_record
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import typed_payload
from tests.webhooks.conftest import T0
from webhooks import transport
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from webhooks.services import (
    RETRY_BACKOFF,
    RETRY_WINDOW,
    webhook_deliveries_for_event,
    webhook_delivery_send,
    webhook_endpoint_create,
)
from webhooks.transport import http_post

WAIT = 10  # seconds; only reached when something is broken
SHORT_DEADLINE = 0.5
DRIP_PAUSE = 0.02  # the receiver's pause between two bytes, far under the 10 s read timeout


def answer(raw: bytes):
    return lambda conn, stop: conn.sendall(raw)


def drip(head: bytes, byte: bytes):
    """Send ``head``, then ``byte`` again and again, each well within the read timeout."""

    def respond(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head)
        while not stop.wait(DRIP_PAUSE):
            conn.sendall(byte)

    return respond


def hold(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(WAIT)


def send_once(merchant, url: str, enqueued, *, rng=None) -> WebhookAttempt:
    """Fan an event out to a new endpoint at ``url`` and run its send at T0, as a worker."""
    webhook_endpoint_create(merchant=merchant, url=url, event_types=["*"], now=T0)
    event, _ = event_record(
        merchant=merchant, type="order.placed", payload=typed_payload("order.placed"), now=T0
    )
    with merchant_scope(merchant):
        [delivery_id] = webhook_deliveries_for_event(event=event, now=T0)
        claim = WebhookDelivery.unscoped.get(pk=delivery_id).claim
        return webhook_delivery_send(delivery_id=delivery_id, claim=claim, now=T0, rng=rng)


def test_a_nul_in_the_answer_is_left_out_of_the_recorded_excerpt(merchant_a, raw_server, enqueued):
    # given: a receiver whose 200 carries a NUL (PostgreSQL text cannot hold one)
    server = raw_server(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nA\x00B"))

    # when
    attempt = send_once(merchant_a, server.url, enqueued)

    # then
    assert (attempt.number, attempt.succeeded, attempt.response_excerpt) == (1, True, "AB")
    delivery = WebhookDelivery.unscoped.get()
    assert (delivery.status, delivery.attempts, delivery.claim) == (
        DeliveryStatus.SUCCEEDED,
        1,
        "",
    )
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("retry_after", "next_attempt_in"),
    [
        (b"\xb2", None),  # '²' once decoded: str.isdigit() says yes, int() says no
        (b"\xb9\xb2\xb3", None),  # '¹²³': digits to str.isdigit(), not to int()
        (b"9" * 5000, None),  # more digits than int() converts
        (b"1234567", None),  # longer than six digits
        (b"-5", None),
        (b"120", timedelta(seconds=120)),
        (b"999999", RETRY_WINDOW),  # a day at most, and never past the retry window
    ],
    ids=["superscript", "superscripts", "5000-digits", "7-digits", "negative", "120", "999999"],
)
def test_retry_after_is_honoured_only_as_up_to_six_ascii_digits(
    merchant_a, raw_server, enqueued, retry_after, next_attempt_in
):
    # given
    head = b"HTTP/1.1 503 Busy\r\nRetry-After: " + retry_after + b"\r\nContent-Length: 4\r\n\r\n"
    server = raw_server(answer(head + b"busy"))

    # when
    attempt = send_once(merchant_a, server.url, enqueued, rng=random.Random(7))

    # then: recorded; a value we do not read leaves the ordinary backoff
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 503, "HTTP 503")
    expected = next_attempt_in or RETRY_BACKOFF.delay(1, rng=random.Random(7))
    assert WebhookDelivery.unscoped.get().next_attempt_at == T0 + expected


def test_a_body_trickled_byte_by_byte_is_cut_off_at_the_deadline_and_recorded(
    merchant_a, raw_server, enqueued, monkeypatch
):
    # given: a 200 whose body comes a byte every 20 ms: no single read ever waits 10 s
    monkeypatch.setattr(transport, "DEADLINE", SHORT_DEADLINE)
    server = raw_server(drip(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"x"))

    # when
    started = time.monotonic()
    attempt = send_once(merchant_a, server.url, enqueued)
    elapsed = time.monotonic() - started

    # then
    assert (attempt.succeeded, attempt.status_code, attempt.response_excerpt, attempt.error) == (
        False,
        None,
        "",
        "Timed out (5 s to connect, 10 s between reads, 0.5 s in all).",
    )
    assert 500 <= attempt.latency_ms < 1500
    assert elapsed < 2
    delivery = WebhookDelivery.unscoped.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        DeliveryStatus.PENDING,
        1,
        attempt.error,
    )


def test_headers_trickled_line_by_line_are_cut_off_at_the_deadline(raw_server, monkeypatch):
    # given: a status line, then one more header every 20 ms, never the blank line
    monkeypatch.setattr(transport, "DEADLINE", SHORT_DEADLINE)
    server = raw_server(drip(b"HTTP/1.1 200 OK\r\n", b"X-Pad: 1\r\n"))

    # when
    outcome = http_post(url=server.url, body=b"{}", headers={})

    # then
    assert (outcome.status_code, outcome.error) == (
        None,
        "Timed out (5 s to connect, 10 s between reads, 0.5 s in all).",
    )
    assert 500 <= outcome.latency_ms < 1500


def test_the_tasks_soft_time_limit_during_a_request_ends_as_a_timeout(raw_server):
    # given: a receiver that never answers, and a soft time limit that strikes once the
    # request is in: billiard raises SoftTimeLimitExceeded from a signal handler, as here
    server = raw_server(hold)

    def soft_time_limit(signum, frame):
        raise SoftTimeLimitExceeded()

    previous = signal.signal(signal.SIGUSR1, soft_time_limit)
    main = threading.get_ident()

    def strike_once_arrived():
        if server.arrived.wait(WAIT):
            signal.pthread_kill(main, signal.SIGUSR1)

    striker = threading.Thread(target=strike_once_arrived, daemon=True)
    striker.start()
    try:
        # when
        outcome = http_post(url=server.url, body=b"{}", headers={})
    finally:
        striker.join(WAIT)
        signal.signal(signal.SIGUSR1, previous)

    # then
    assert (outcome.status_code, outcome.error) == (
        None,
        "Timed out (5 s to connect, 10 s between reads, 25 s in all).",
    )


def test_an_unexpected_error_is_returned_as_the_outcome_not_raised(raw_server):
    # given: a header http.client cannot encode (a ValueError that requests does not wrap)
    server = raw_server(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))

    # when
    outcome = http_post(url=server.url, body=b"{}", headers={"x-note": "\N{SNOWMAN}"})

    # then
    assert (outcome.status_code, outcome.error) == (None, "Could not send: UnicodeEncodeError.")
    assert server.requests == []


@pytest.mark.parametrize(("listening", "reached"), [(3, True), (4, False)])
def test_at_most_three_addresses_of_a_name_are_tried(raw_server, dns, listening, reached):
    # given: a name with four loopback addresses; only the n-th has a listener (the others
    # refuse the connection at once)
    addresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    server = raw_server(answer(b"HTTP/1.1 204 No Content\r\n\r\n"), host=addresses[listening - 1])
    dns["many.example"] = addresses

    # when
    outcome = http_post(url=f"http://many.example:{server.port}/hooks", body=b"{}", headers={})

    # then
    assert (outcome.status_code, len(server.requests)) == ((204, 1) if reached else (None, 0))
    if not reached:
        assert outcome.error == (
            f"Could not connect: _VettedHTTPConnection(host='many.example', port={server.port}): "
            "Failed to establish a new connection: [Errno 111] Connection refused"
        )
