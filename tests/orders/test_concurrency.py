"""Two deliveries of the same order racing on PostgreSQL still give one order and one event."""

import threading
from datetime import UTC, datetime

from django.db import connection

from orders.models import Customer, Order, OrderLine
from orders.services import order_ingest
from postpurchase.events.models import Event
from tests.factories import MerchantFactory, order_payload

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def run_concurrently(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def worker():
        try:
            barrier.wait(timeout=10)
            target()
        except Exception as exc:  # collected and re-raised below, in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_concurrent_ingest_of_one_order_gives_one_order_and_one_event(transactional_db):
    # given
    merchant = MerchantFactory(slug="race")

    # when: four webhook deliveries of the same order arrive at the same moment
    errors = run_concurrently(
        4, lambda: order_ingest(merchant=merchant, payload=order_payload(), now=NOW)
    )

    # then
    assert errors == []
    assert Order.unscoped.count() == 1
    assert OrderLine.unscoped.count() == 1
    assert Customer.unscoped.count() == 1
    assert list(Event.unscoped.values_list("type", flat=True)) == ["order.placed"]
    assert Customer.unscoped.get().orders_count == 1
