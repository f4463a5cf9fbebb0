"""Processing in a task: after commit, retried with backoff when the order has not arrived yet,
never retried after a permanent failure, and re-found by the beat's sweep when a task is lost."""

from __future__ import annotations

import random
from contextlib import suppress
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from connectors import processing
from connectors.models import InboundDelivery
from connectors.processing import (
    MAX_ATTEMPTS,
    RETRY_BACKOFF,
    inbound_delivery_process,
    inbound_delivery_sweep,
)
from orders.models import Order, Shipment
from postpurchase.celery import app
from tests.connectors import payloads
from tests.connectors.conftest import SHOPIFY_SECRET_A, deliveries, shopify_post


def delivery(delivery_id: str) -> InboundDelivery:
    return InboundDelivery.unscoped.get(delivery_id=delivery_id)


def test_the_task_is_enqueued_only_after_commit(
    client, connected_a, django_capture_on_commit_callbacks
):
    # when: the request commits, but its after-commit callbacks are not run
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = shopify_post(
            client,
            "alpha",
            "orders/create",
            payloads.order(),
            webhook_id="wh-1",
            secret=SHOPIFY_SECRET_A,
        )
    # then
    assert response.status_code == 200
    assert len(callbacks) == 1
    assert deliveries() == [("alpha", "shopify", "wh-1", "orders/create", "received", 0, "")]
    assert Order.unscoped.count() == 0


def test_a_lost_task_is_re_enqueued_by_the_sweep_once_its_grace_period_is_over(
    client, connected_a, eager, django_capture_on_commit_callbacks
):
    # given: received, but its task never ran (the broker lost it)
    with django_capture_on_commit_callbacks(execute=False):
        shopify_post(
            client,
            "alpha",
            "orders/create",
            payloads.order(),
            webhook_id="wh-1",
            secret=SHOPIFY_SECRET_A,
        )
    received_at = delivery("wh-1").received_at
    # when
    early = inbound_delivery_sweep(now=received_at + timedelta(minutes=1))
    late = inbound_delivery_sweep(now=received_at + timedelta(minutes=3))
    # then
    assert early == []
    assert late == [delivery("wh-1").pk]
    assert deliveries() == [("alpha", "shopify", "wh-1", "orders/create", "processed", 1, "")]
    assert delivery("wh-1").next_attempt_at is None
    assert Order.unscoped.count() == 1


def test_a_fulfillment_before_its_order_is_retried_with_backoff_until_the_order_is_here(
    shopify, connected_a
):
    # given: Shopify sent the fulfillment first
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    first = delivery("wh-2")
    # when: the order arrives, and the sweep runs after the backoff
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    swept = inbound_delivery_sweep(now=first.next_attempt_at + timedelta(seconds=1))
    # then
    assert (first.status, first.attempts, first.last_error) == (
        "failed",
        1,
        f"No order has external_id '{payloads.ORDER_ID}' yet.",
    )
    # the first retry comes 15 to 30 seconds after the attempt (plus the test's own run time)
    wait = first.next_attempt_at - first.received_at
    assert timedelta(seconds=15) <= wait <= timedelta(seconds=40)
    assert swept == [first.pk]
    assert delivery("wh-2").status == "processed"
    assert (delivery("wh-2").attempts, delivery("wh-2").last_error) == (2, "")
    assert Shipment.unscoped.get().tracking_number == "1Z999AA10123456784"


def test_a_permanent_failure_is_recorded_and_not_retried(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(currency="ZZZ"), "wh-1")
    failed = delivery("wh-1")
    # when
    swept = inbound_delivery_sweep(now=timezone.now() + timedelta(days=2))
    again = inbound_delivery_process(merchant=connected_a, delivery_id=failed.pk)
    # then
    assert (failed.status, failed.next_attempt_at, failed.last_error) == (
        "failed",
        None,
        "currency: 'ZZZ' is not an ISO 4217 currency code",
    )
    assert swept == []
    assert again == "failed"
    assert delivery("wh-1").attempts == 1


def test_retries_stop_after_the_last_attempt(shopify, connected_a):
    # given: a fulfillment whose order never comes, on its last attempt
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    InboundDelivery.unscoped.filter(delivery_id="wh-2").update(attempts=MAX_ATTEMPTS - 1)
    # when
    status = inbound_delivery_process(merchant=connected_a, delivery_id=delivery("wh-2").pk)
    # then
    assert status == "failed"
    assert (delivery("wh-2").attempts, delivery("wh-2").next_attempt_at) == (MAX_ATTEMPTS, None)


def test_an_unexpected_error_is_recorded_and_retried(shopify, connected_a, monkeypatch):
    # given: the database refuses the work this once
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(processing.handlers, "delivery_handle", broken)
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    monkeypatch.undo()
    failed = delivery("wh-1")
    # when
    inbound_delivery_sweep(now=failed.next_attempt_at)
    # then
    assert (failed.status, failed.attempts, failed.last_error) == (
        "failed",
        1,
        "RuntimeError: database went away",
    )
    assert failed.next_attempt_at is not None
    assert (delivery("wh-1").status, delivery("wh-1").attempts) == ("processed", 2)


def test_the_backoff_doubles_from_30_seconds_and_is_capped_at_6_hours():
    # given
    rng = random.Random(7)
    # when
    delays = [RETRY_BACKOFF.delay(attempt, rng=rng) for attempt in (1, 2, 3, 20)]
    # then: each is its ceiling less up to a quarter
    ceilings = [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(hours=6),
    ]
    assert [RETRY_BACKOFF.ceiling(attempt) for attempt in (1, 2, 3, 20)] == ceilings
    assert all(c * 0.75 <= d <= c for d, c in zip(delays, ceilings, strict=True))


def test_the_sweep_is_scheduled_by_beat_on_the_integrations_queue():
    # then
    entry = settings.CELERY_BEAT_SCHEDULE["connectors-sweep"]
    assert (entry["task"], entry["schedule"], entry["options"]["queue"]) == (
        "connectors.tasks.inbound_delivery_sweep",
        timedelta(seconds=60),
        "integrations",
    )
    assert "connectors.tasks.inbound_delivery_sweep" in app.tasks
    assert "connectors.tasks.inbound_delivery_process" in app.tasks


class WorkerKilled(BaseException):
    """What a worker's death looks like from inside: nothing catches it."""


def test_an_attempt_is_counted_before_the_work_so_a_delivery_that_kills_its_worker_gives_out(
    client, connected_a, monkeypatch, django_capture_on_commit_callbacks
):
    # given: a delivery whose processing kills the worker every time
    with django_capture_on_commit_callbacks(execute=False):
        shopify_post(
            client,
            "alpha",
            "orders/create",
            payloads.order(),
            webhook_id="wh-1",
            secret=SHOPIFY_SECRET_A,
        )

    def killed(**kwargs):
        raise WorkerKilled

    monkeypatch.setattr(processing.handlers, "delivery_handle", killed)
    pk = delivery("wh-1").pk
    # when: it is tried until the attempts run out, then once more
    for _ in range(MAX_ATTEMPTS):
        with suppress(WorkerKilled):
            inbound_delivery_process(merchant=connected_a, delivery_id=pk)
    last = inbound_delivery_process(merchant=connected_a, delivery_id=pk)
    # then
    assert last == "failed"
    row = delivery("wh-1")
    assert (row.status, row.attempts, row.next_attempt_at, row.last_error) == (
        "failed",
        MAX_ATTEMPTS,
        None,
        f"Gave up after {MAX_ATTEMPTS} attempts; the last one never finished.",
    )
    assert Order.unscoped.count() == 0


def test_a_counted_attempt_whose_worker_died_is_due_again_after_its_backoff(
    client, connected_a, monkeypatch, django_capture_on_commit_callbacks
):
    # given
    with django_capture_on_commit_callbacks(execute=False):
        shopify_post(
            client,
            "alpha",
            "orders/create",
            payloads.order(),
            webhook_id="wh-1",
            secret=SHOPIFY_SECRET_A,
        )

    def killed(**kwargs):
        raise WorkerKilled

    monkeypatch.setattr(processing.handlers, "delivery_handle", killed)
    now = timezone.now()
    # when
    with suppress(WorkerKilled):
        inbound_delivery_process(merchant=connected_a, delivery_id=delivery("wh-1").pk, now=now)
    # then: counted, and found by the sweep once the grace period is over
    row = delivery("wh-1")
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "received",
        1,
        now + processing.PROCESS_GRACE,
    )
