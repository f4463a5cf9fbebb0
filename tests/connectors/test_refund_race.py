"""A refund racing an order update on PostgreSQL: the refund's worker locks the order before it
reads it, so the financial status it writes never carries a stale copy of the rest.

Each worker is a thread with its own connection and transactions, as two Celery workers would
be. Waits have timeouts, so a regression fails the test instead of hanging it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from connectors.models import InboundDelivery
from connectors.processing import inbound_delivery_process
from connectors.shopify import shopify_order
from orders.models import Order
from orders.services import order_ingest
from tests.connectors import payloads

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 10  # seconds; only reached when something is broken


def wait_for_a_lock_waiter() -> bool:
    """Whether another backend came to wait on a row lock within ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.01)
    return False


def test_a_refund_keeps_a_cancellation_committed_while_it_waited_for_the_order(
    shopify, connected_a
):
    # given: the order, and a refund delivery received but not processed yet
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    refund = InboundDelivery.unscoped.create(
        merchant=connected_a,
        source="shopify",
        delivery_id="wh-2",
        topic="refunds/create",
        body=payloads.refund(),
    )
    cancellation = shopify_order(
        payloads.order(
            updated_at="2026-03-05T09:00:00-05:00",
            cancelled_at="2026-03-05T09:00:00-05:00",
            cancel_reason="customer",
            financial_status="paid",
        ),
        region="US",
    )
    holding = threading.Event()
    outcome: dict = {}

    def cancel_in_another_worker():
        try:
            with transaction.atomic():
                order_ingest(merchant=connected_a, payload=cancellation, source="shopify")
                holding.set()
                outcome["refund_waited"] = wait_for_a_lock_waiter()
        finally:
            connection.close()

    # when: the cancellation holds the order while the refund is processed
    worker = threading.Thread(target=cancel_in_another_worker)
    worker.start()
    assert holding.wait(WAIT), "the cancelling worker never took the order"
    status = inbound_delivery_process(merchant=connected_a, delivery_id=refund.pk)
    worker.join(WAIT)
    # then
    assert (outcome["refund_waited"], status) == (True, "processed")
    order = Order.unscoped.get()
    assert (order.cancelled_at, order.cancel_reason, order.financial_status) == (
        datetime(2026, 3, 5, 14, 0, tzinfo=UTC),
        "customer",
        "partially_refunded",
    )
