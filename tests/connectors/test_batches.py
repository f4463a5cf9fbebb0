"""Shopify order deliveries that wait together are processed together: the first one's task
takes the others waiting their first attempt (each of a different order) and runs them as one
batch of the orders engine. Each comes to what it would have come to alone."""

from __future__ import annotations

import logging
from contextlib import suppress
from datetime import timedelta

import pytest
from django.utils import timezone

from connectors import handlers, processing
from connectors.models import InboundDelivery
from connectors.processing import inbound_delivery_process
from connectors.services import shopify_secret_set
from orders.errors import OrdersErrorCode
from orders.ingest.results import BulkItemResult
from orders.models import Order, Shipment
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.connectors import payloads
from tests.connectors.conftest import SHOPIFY_SECRET_A, SHOPIFY_SECRET_B, shop_domain, shopify_post
from tests.factories import MerchantFactory
from tests.orders.test_bulk import snapshot


def order(n: int, **changes) -> dict:
    """Order ``n`` of the sample's customer: its own id, number and line item."""
    own = {
        "id": payloads.ORDER_ID + n,
        "name": f"#{1001 + n}",
        "order_number": 1001 + n,
        "processed_at": f"2026-03-01T{7 + n:02d}:00:00-05:00",
        "updated_at": f"2026-03-01T{7 + n:02d}:00:05-05:00",
    }
    body = payloads.order(**{**own, **changes})
    body["line_items"][0]["id"] = payloads.LINE_ID + n
    return body


@pytest.fixture
def receive(client, django_capture_on_commit_callbacks):
    """``receive(merchant, topic, body, webhook_id)`` → the delivery, received and waiting (its
    task not run), as when webhooks come faster than the worker takes them."""

    def send(merchant, topic, body, webhook_id, secret=SHOPIFY_SECRET_A):
        with django_capture_on_commit_callbacks(execute=False):
            response = shopify_post(
                client, merchant.slug, topic, body, webhook_id=webhook_id, secret=secret
            )
        assert response.status_code == 200
        return InboundDelivery.unscoped.get(merchant=merchant, delivery_id=webhook_id)

    return send


def state(merchant) -> list[tuple]:
    return list(
        InboundDelivery.unscoped.filter(merchant=merchant)
        .order_by("id")
        .values_list("delivery_id", "status", "attempts", "last_error")
    )


def run_tasks(merchant, deliveries, now=None) -> list[str]:
    """Each delivery's task, in the order they were received."""
    return [
        inbound_delivery_process(merchant=merchant, delivery_id=d.pk, now=now) for d in deliveries
    ]


@pytest.fixture
def twin(db):
    """A second store alike in everything but its slug (and its Shopify secret)."""
    merchant = MerchantFactory(
        slug="alpha-twin", timezone="America/New_York", currency="USD", country="US"
    )
    shopify_secret_set(
        merchant=merchant, secret=SHOPIFY_SECRET_B, shop_domain=shop_domain(merchant.slug)
    )
    return merchant


def test_waiting_order_deliveries_are_processed_by_the_first_task_as_one_batch(
    connected_a, twin, receive, monkeypatch, caplog
):
    # given: four orders of one customer waiting at store A, and the same at its twin
    caplog.set_level(logging.INFO, logger="orders.ingest.engine")
    waiting = [receive(connected_a, "orders/create", order(n), f"wh-{n}") for n in range(4)]
    alike = [
        receive(twin, "orders/create", order(n), f"wh-{n}", secret=SHOPIFY_SECRET_B)
        for n in range(4)
    ]
    now = timezone.now()
    # when: the first task runs at A; the twin's deliveries go one at a time
    first = inbound_delivery_process(merchant=connected_a, delivery_id=waiting[0].pk, now=now)
    after_first = state(connected_a)
    rest = run_tasks(connected_a, waiting[1:], now)
    monkeypatch.setattr(processing, "BATCH_MAX", 1)
    alone = run_tasks(twin, alike, now)
    # then: the first task settled all four, counting one attempt each; the others' tasks
    # found them settled
    assert first == "processed"
    assert after_first == [(f"wh-{n}", "processed", 1, "") for n in range(4)]
    assert rest == ["processed"] * 3
    assert state(connected_a) == after_first
    assert alone == ["processed"] * 4
    # the same rows and events as one at a time, in one batch (no fall back)
    assert snapshot(connected_a) == snapshot(twin)
    assert Order.unscoped.filter(merchant=connected_a).count() == 4
    assert (
        list(
            Event.unscoped.filter(merchant=connected_a)
            .order_by("id")
            .values_list("type", flat=True)
        )
        == ["order.placed"] * 4
    )
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_batch_takes_no_other_merchants_deliveries(connected_a, twin, receive):
    # given: an order waiting at each store
    mine = receive(connected_a, "orders/create", order(0), "wh-a")
    theirs = receive(twin, "orders/create", order(1), "wh-b", secret=SHOPIFY_SECRET_B)
    # when
    inbound_delivery_process(merchant=connected_a, delivery_id=mine.pk)
    # then: the other store's delivery waits for its own task
    assert state(twin) == [("wh-b", "received", 0, "")]
    assert Order.unscoped.filter(merchant=twin).count() == 0
    assert inbound_delivery_process(merchant=twin, delivery_id=theirs.pk) == "processed"


def test_each_delivery_of_a_batch_comes_to_what_it_would_alone(connected_a, receive):
    # given: an order we hold; then waiting: a plain new order, an order with a bad currency,
    # an order already fulfilled (its fulfillment goes with it), an older copy of the order we
    # hold, and a second delivery of the first new order
    held = order(9, updated_at="2026-03-01T18:00:00-05:00")
    inbound_delivery_process(
        merchant=connected_a, delivery_id=receive(connected_a, "orders/create", held, "wh-0").pk
    )
    fulfilled = order(2, fulfillment_status="fulfilled")
    fulfilled["fulfillments"] = [
        payloads.fulfillment(
            order_id=payloads.ORDER_ID + 2,
            line_items=[{"id": payloads.LINE_ID + 2, "quantity": 2}],
        )
    ]
    waiting = [
        receive(connected_a, "orders/create", order(1), "wh-1"),
        receive(connected_a, "orders/create", order(3, currency="ZZZ"), "wh-2"),
        receive(connected_a, "orders/fulfilled", fulfilled, "wh-3"),
        receive(
            connected_a,
            "orders/updated",
            order(9, updated_at="2026-03-01T10:00:00-05:00", financial_status="refunded"),
            "wh-4",
        ),
        receive(
            connected_a,
            "orders/updated",
            order(1, updated_at="2026-03-01T20:00:00-05:00", financial_status="refunded"),
            "wh-5",
        ),
    ]
    # when: the first waiting delivery's task runs
    inbound_delivery_process(merchant=connected_a, delivery_id=waiting[0].pk)
    # then: each settled as alone; the second delivery of order 1 waits for its own task
    assert state(connected_a) == [
        ("wh-0", "processed", 1, ""),
        ("wh-1", "processed", 1, ""),
        ("wh-2", "failed", 1, "currency: 'ZZZ' is not an ISO 4217 currency code"),
        ("wh-3", "processed", 1, ""),
        (
            "wh-4",
            "ignored",
            1,
            "Older than what we hold for order #1010 (updated_at 2026-03-01T10:00:00-05:00).",
        ),
        ("wh-5", "received", 0, ""),
    ]
    assert InboundDelivery.unscoped.get(delivery_id="wh-2").next_attempt_at is None
    shipment = Shipment.unscoped.get(merchant=connected_a)
    assert (shipment.order.external_id, shipment.tracking_number) == (
        str(payloads.ORDER_ID + 2),
        "1Z999AA10123456784",
    )
    assert inbound_delivery_process(merchant=connected_a, delivery_id=waiting[4].pk) == (
        "processed"
    )
    first = Order.unscoped.get(merchant=connected_a, external_id=str(payloads.ORDER_ID + 1))
    assert first.financial_status == "refunded"
    held_order = Order.unscoped.get(merchant=connected_a, external_id=str(payloads.ORDER_ID + 9))
    assert held_order.financial_status == "paid"


def test_an_order_the_database_would_not_store_is_retried_while_the_others_go_on(
    connected_a, receive, monkeypatch
):
    # given: two orders waiting; the engine reports the second as not stored
    waiting = [receive(connected_a, "orders/create", order(n), f"wh-{n}") for n in range(2)]
    real = handlers.order_bulk_ingest

    def one_not_stored(**kwargs):
        results = real(**kwargs)
        error = DomainError(OrdersErrorCode.STORE_FAILED, "The order could not be stored: boom")
        results[1] = BulkItemResult(1, results[1].external_id, "failed", error=error)
        return results

    monkeypatch.setattr(handlers, "order_bulk_ingest", one_not_stored)
    # when
    inbound_delivery_process(merchant=connected_a, delivery_id=waiting[0].pk)
    # then: the second is failed and due again after the backoff
    assert state(connected_a) == [
        ("wh-0", "processed", 1, ""),
        ("wh-1", "failed", 1, "The order could not be stored: boom"),
    ]
    retry_at = InboundDelivery.unscoped.get(delivery_id="wh-1").next_attempt_at
    assert timezone.now() < retry_at < timezone.now() + timedelta(seconds=31)


def test_a_batch_that_raises_writes_nothing_and_each_delivery_is_retried_alone(
    connected_a, receive, monkeypatch
):
    # given: three orders waiting; the engine breaks on the batch
    waiting = [receive(connected_a, "orders/create", order(n), f"wh-{n}") for n in range(3)]

    def broken(**kwargs):
        raise RuntimeError("engine broke")

    with monkeypatch.context() as patch:
        patch.setattr(handlers, "order_bulk_ingest", broken)
        # when
        inbound_delivery_process(merchant=connected_a, delivery_id=waiting[0].pk)
    after = state(connected_a)
    retried = run_tasks(connected_a, waiting)
    # then: all three failed with the error, nothing written; on their second attempt each
    # went alone and was stored
    assert after == [(f"wh-{n}", "failed", 1, "RuntimeError: engine broke") for n in range(3)]
    assert retried == ["processed"] * 3
    assert state(connected_a) == [(f"wh-{n}", "processed", 2, "") for n in range(3)]
    assert Order.unscoped.filter(merchant=connected_a).count() == 3


class WorkerKilled(BaseException):
    """What a worker's death looks like from inside: nothing catches it."""


def test_a_batch_that_killed_its_worker_is_not_batched_again(connected_a, receive, monkeypatch):
    # given: three orders waiting; the first task's batch kills the worker
    waiting = [receive(connected_a, "orders/create", order(n), f"wh-{n}") for n in range(3)]

    def killed(**kwargs):
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(handlers, "order_bulk_ingest", killed)
        with suppress(WorkerKilled):
            inbound_delivery_process(merchant=connected_a, delivery_id=waiting[0].pk)
    after = state(connected_a)
    # when: the sweep's tasks run each of them again, the first one again killing its worker
    taken = []
    real = handlers.delivery_handle

    def alone(*, merchant, delivery, now):
        taken.append(delivery.delivery_id)
        if delivery.delivery_id == "wh-0":
            raise WorkerKilled
        return real(merchant=merchant, delivery=delivery, now=now)

    monkeypatch.setattr(handlers, "delivery_handle", alone)
    for item in waiting:
        with suppress(WorkerKilled):
            inbound_delivery_process(merchant=connected_a, delivery_id=item.pk)
    # then: the attempt was counted for all three; then each went alone, and the two others
    # were stored
    assert after == [(f"wh-{n}", "received", 1, "") for n in range(3)]
    assert taken == ["wh-0", "wh-1", "wh-2"]
    assert state(connected_a) == [
        ("wh-0", "received", 2, ""),
        ("wh-1", "processed", 2, ""),
        ("wh-2", "processed", 2, ""),
    ]
    assert sorted(Order.unscoped.filter(merchant=connected_a).values_list("number", flat=True)) == [
        "#1002",
        "#1003",
    ]


def test_two_deliveries_of_one_order_in_a_batch_are_applied_one_after_the_other(
    connected_a, receive, monkeypatch
):
    # given: an order and its later update waiting, claimed together (as they would be if an
    # order id were spelt two ways)
    created = receive(connected_a, "orders/create", order(1), "wh-1")
    updated = receive(
        connected_a,
        "orders/updated",
        order(1, updated_at="2026-03-01T20:00:00-05:00", financial_status="refunded"),
        "wh-2",
    )
    monkeypatch.setattr(processing, "_companions", lambda delivery: [updated.pk])
    # when
    inbound_delivery_process(merchant=connected_a, delivery_id=created.pk)
    # then: the update went after the batch, not refused as a duplicate of it
    assert state(connected_a) == [("wh-1", "processed", 1, ""), ("wh-2", "processed", 1, "")]
    held = Order.unscoped.get(merchant=connected_a)
    assert (held.external_id, held.financial_status) == (str(payloads.ORDER_ID + 1), "refunded")
