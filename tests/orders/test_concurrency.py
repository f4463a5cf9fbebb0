"""Two deliveries of the same order racing on PostgreSQL still give one order and one event."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection

from orders.models import Customer, Order, OrderLine
from orders.services.orders import order_ingest
from postpurchase.events.models import Event
from tests.factories import MerchantFactory, order_payload, two_line_order_payload

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


def test_concurrent_orders_of_one_customer_keep_exact_figures(transactional_db):
    # given: one customer, and four different orders of different products arriving together
    from orders.services.customers import customer_upsert

    merchant = MerchantFactory(slug="race", currency="EUR")
    customer_upsert(merchant=merchant, payload={"external_id": "cust-1", "email": "a@ex.net"})

    def deliver(n):
        payload = order_payload(
            external_id=f"ord-{n}",
            number=f"#{n}",
            customer=None,
            customer_external_id="cust-1",
            lines=[
                {
                    "external_id": "l",
                    "quantity": 1,
                    "unit_price": "80.00",
                    "product": {"external_id": f"prod-{n}", "title": f"Thing {n}"},
                }
            ],
        )
        del payload["customer"]
        return lambda: order_ingest(merchant=merchant, payload=payload, now=NOW)

    # when
    deliveries = iter([deliver(n) for n in range(4)])
    errors = run_concurrently(4, lambda: next(deliveries)())

    # then
    assert errors == []
    customer = Customer.unscoped.get()
    assert (customer.orders_count, customer.total_spent) == (4, Decimal("340.000"))


def test_concurrent_shipments_of_one_order_fulfil_it(transactional_db):
    # given: an order of two lines
    from orders.services.shipments import shipment_ingest

    merchant = MerchantFactory(slug="race")
    order_ingest(
        merchant=merchant,
        now=NOW,
        payload=two_line_order_payload(),
    )

    # when: each line ships in its own shipment, both reported at the same moment
    shipments = iter(
        [
            {
                "external_id": f"ful-{line}",
                "order_external_id": "ord-1001",
                "lines": [{"line_external_id": line, "quantity": 1}],
            }
            for line in ("l1", "l2")
        ]
    )
    errors = run_concurrently(
        2, lambda: shipment_ingest(merchant=merchant, now=NOW, payload=next(shipments))
    )

    # then
    assert errors == []
    assert Order.unscoped.get().fulfillment_status == "fulfilled"
    assert Event.unscoped.filter(type="order.fulfilled").count() == 1


def test_concurrent_deliveries_of_a_shopper_without_external_id_give_one_customer(
    transactional_db,
):
    from orders.services.customers import customer_upsert

    merchant = MerchantFactory(slug="race")

    errors = run_concurrently(
        4,
        lambda: customer_upsert(
            merchant=merchant, payload={"email": "guest@example.net", "first_name": "Guest"}
        ),
    )

    assert errors == []
    assert Customer.unscoped.count() == 1


def test_a_phone_only_shopper_is_found_again_when_an_email_is_added(merchant_a):
    from orders.services.customers import customer_upsert

    first = customer_upsert(merchant=merchant_a, payload={"phone": "+12125552368"}).instance
    again = customer_upsert(
        merchant=merchant_a, payload={"phone": "+12125552368", "email": "new@example.net"}
    )

    assert again.instance.pk == first.pk
    assert Customer.unscoped.get().email == "new@example.net"


def two_line_order(external_id, products, title="{}", **overrides):
    return order_payload(
        external_id=external_id,
        number=f"#{external_id}",
        subtotal="20",
        total="20",
        shipping="0",
        lines=[
            {
                "external_id": p,
                "quantity": 1,
                "unit_price": "10",
                "product": {"external_id": p, "title": title.format(p)},
            }
            for p in products
        ],
        **overrides,
    )


def test_orders_naming_the_same_products_in_opposite_orders_do_not_deadlock(transactional_db):
    # given: both products exist, so each delivery only reads them
    merchant = MerchantFactory(slug="race")
    order_ingest(merchant=merchant, payload=two_line_order("seed", ["prod-a", "prod-b"]), now=NOW)

    # when: two new orders name them in opposite orders, with a changed title (a write)
    payloads = iter(
        [
            two_line_order("o1", ["prod-a", "prod-b"], "New {}", customer={"external_id": "c1"}),
            two_line_order("o2", ["prod-b", "prod-a"], "New {}", customer={"external_id": "c2"}),
        ]
    )
    errors = run_concurrently(
        2, lambda: order_ingest(merchant=merchant, payload=next(payloads), now=NOW)
    )

    # then
    assert errors == []
    assert Order.unscoped.count() == 3


def test_two_orders_swapping_customers_do_not_deadlock(transactional_db):
    # given: o1 belongs to A, o2 to B
    merchant = MerchantFactory(slug="race", currency="EUR")
    for number, customer in (("o1", "cust-a"), ("o2", "cust-b")):
        order_ingest(
            merchant=merchant,
            now=NOW,
            payload=order_payload(
                external_id=number,
                number=number,
                customer={"external_id": customer, "email": f"{customer}@ex.net"},
            ),
        )

    # when: at the same moment o1 moves to B and o2 moves to A
    moves = []
    for number, customer in (("o1", "cust-b"), ("o2", "cust-a")):
        payload = order_payload(external_id=number, number=number, customer_external_id=customer)
        del payload["customer"]
        moves.append(payload)
    deliveries = iter(moves)
    errors = run_concurrently(
        2, lambda: order_ingest(merchant=merchant, payload=next(deliveries), now=NOW)
    )

    # then
    assert errors == []
    figures = dict(Customer.unscoped.values_list("external_id", "orders_count"))
    assert figures == {"cust-a": 1, "cust-b": 1}
    assert dict(Order.unscoped.values_list("external_id", "customer__external_id")) == {
        "o1": "cust-b",
        "o2": "cust-a",
    }


def test_the_loser_of_an_insert_race_still_respects_staleness(transactional_db, monkeypatch):
    # given: a newer delivery (15:00, refunded) and an older one (13:00, pending) of a new order
    from orders.ingest.replay import Batch

    merchant = MerchantFactory(slug="race")
    newer = order_payload(updated_at="2026-03-01T15:00:00Z", financial_status="refunded")
    older = order_payload(updated_at="2026-03-01T13:00:00Z", financial_status="pending")
    older_looked = threading.Event()
    newer_committed = threading.Event()
    real_lock_contacts = Batch._lock_contacts

    def held_back(self, active):
        # The older delivery has looked for the order and found none; it goes on to create it
        # only once the newer delivery has committed it.
        if threading.current_thread().name == "older" and not older_looked.is_set():
            older_looked.set()
            newer_committed.wait(timeout=10)
        return real_lock_contacts(self, active)

    monkeypatch.setattr(Batch, "_lock_contacts", held_back)
    errors = []

    def deliver_older():
        try:
            order_ingest(merchant=merchant, payload=older, now=NOW)
        except Exception as exc:  # re-raised below, in the test thread
            errors.append(exc)
        finally:
            connection.close()

    # when
    older_thread = threading.Thread(target=deliver_older, name="older")
    older_thread.start()
    assert older_looked.wait(timeout=10)
    order_ingest(merchant=merchant, payload=newer, now=NOW)
    newer_committed.set()
    older_thread.join(timeout=30)

    # then: the older delivery went round again, found the order, and was stale
    assert errors == []
    order = Order.unscoped.get()
    assert order.financial_status == "refunded"
    assert order.source_updated_at == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def test_a_phone_only_and_a_phone_and_email_delivery_make_one_shopper(transactional_db):
    from orders.services.customers import customer_upsert

    merchant = MerchantFactory(slug="race", country="US")
    payloads = iter(
        [{"phone": "+12125552368"}, {"phone": "+12125552368", "email": "guest@example.net"}]
    )

    errors = run_concurrently(2, lambda: customer_upsert(merchant=merchant, payload=next(payloads)))

    assert errors == []
    assert Customer.unscoped.count() == 1
