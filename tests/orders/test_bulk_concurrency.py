"""Bulk requests racing each other and single deliveries on PostgreSQL: exact rows and figures,
no deadlock, and the set-based path kept (no fall back to one order at a time)."""

import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection
from django.db.models import Count, Min, Q, Sum

from orders.ingest.replay import Batch
from orders.models import Customer, Order, OrderLine, Product
from orders.services.orders import order_bulk_ingest, order_ingest
from postpurchase.events.models import Event
from tests.factories import MerchantFactory, order_payload

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def fallbacks(caplog):
    """The engine's warnings that a batch went one order at a time, or that an order could not
    be stored (a deadlock or a database error), as a call reading them."""
    caplog.set_level(logging.INFO, logger="orders.ingest.engine")

    def logged():
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "orders.ingest.engine" and r.levelno >= logging.WARNING
        ]

    return logged


@pytest.fixture
def database_errors(monkeypatch):
    """The database errors (a deadlock above all) any set-based attempt ran into."""
    seen = []
    real = Batch.run

    def spy(self):
        try:
            return real(self)
        except DatabaseError as exc:
            seen.append(exc)
            raise

    monkeypatch.setattr(Batch, "run", spy)
    return seen


def run_together(targets):
    """Start every callable at the same moment in its own thread; the errors they raised."""
    barrier = threading.Barrier(len(targets))
    errors = []

    def wrap(target):
        def go():
            try:
                barrier.wait(timeout=10)
                target()
            except Exception as exc:  # reported by the test, in the test thread
                errors.append(exc)
            finally:
                connection.close()

        return go

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def assert_exact_figures(merchant):
    """Every customer's derived figures equal what its orders say, and each order was placed
    exactly once."""
    live = Q(orders__cancelled_at__isnull=True)
    for customer in Customer.unscoped.filter(merchant=merchant).annotate(
        n=Count("orders", filter=live),
        first=Min("orders__placed_at", filter=live),
        spent=Sum("orders__total", filter=live & Q(orders__currency=merchant.currency)),
    ):
        expected = (customer.n, customer.first, customer.spent or Decimal(0))
        assert (customer.orders_count, customer.first_order_at, customer.total_spent) == expected
    placed = Event.unscoped.filter(merchant=merchant, type="order.placed")
    assert placed.count() == Order.unscoped.filter(merchant=merchant).count()


def shop_order(n, customer, products, **overrides):
    lines = [
        {
            "external_id": f"l-{p}",
            "quantity": 1,
            "unit_price": "10",
            "product": {"external_id": p, "title": f"Title {p}"},
        }
        for p in products
    ]
    total = str(10 * len(lines))
    return order_payload(
        external_id=f"o{n}",
        number=str(n),
        customer=customer,
        subtotal=total,
        total=total,
        shipping="0",
        lines=lines,
        **overrides,
    )


def test_bulk_requests_on_overlapping_orders_customers_and_products(
    transactional_db, fallbacks, database_errors
):
    # given: four requests of 30 orders; each order is in two requests, customers and products
    # are shared, and the requests list them in different orders
    merchant = MerchantFactory(slug="race", currency="EUR")

    def request(k):
        numbers = [(k * 15 + i) % 60 for i in range(30)]
        payloads = [
            shop_order(n, {"external_id": f"c{n % 7}"}, [f"p{n % 5}", f"p{(n + k) % 5}"])
            for n in numbers
        ]
        return payloads[::-1] if k % 2 else payloads

    requests = [request(k) for k in range(4)]

    # when
    errors = run_together(
        [lambda r=r: order_bulk_ingest(merchant=merchant, payloads=r, now=NOW) for r in requests]
    )

    # then
    assert errors == []
    assert fallbacks() == []
    assert database_errors == []
    assert Order.unscoped.count() == 60
    assert Customer.unscoped.count() == 7
    assert Product.unscoped.count() == 5
    assert_exact_figures(merchant)


def test_a_bulk_request_racing_single_deliveries(transactional_db, fallbacks, database_errors):
    # given: existing orders o0..o9 of c0/c1; a bulk request moves half of them to c2, touches
    # products in one order; single deliveries move others back and create new orders
    merchant = MerchantFactory(slug="race", currency="EUR")
    for n in range(10):
        order_ingest(
            merchant=merchant,
            payload=shop_order(n, {"external_id": f"c{n % 2}"}, ["pa", "pb"]),
            now=NOW,
        )
    moved = [shop_order(n, {"external_id": "c2"}, ["pb", "pa"]) for n in range(0, 10, 2)]
    created = [shop_order(n, {"external_id": f"c{n % 3}"}, ["pc", "pa"]) for n in range(10, 30)]
    singles = [shop_order(n, {"external_id": "c1"}, ["pa", "pc"]) for n in (0, 4, 11, 17, 25)]

    # when
    errors = run_together(
        [lambda: order_bulk_ingest(merchant=merchant, payloads=moved + created, now=NOW)]
        + [lambda p=p: order_ingest(merchant=merchant, payload=p, now=NOW) for p in singles]
    )

    # then
    assert errors == []
    assert fallbacks() == []
    assert database_errors == []
    assert Order.unscoped.count() == 30
    assert OrderLine.unscoped.count() == 60
    assert_exact_figures(merchant)


def test_bulk_requests_swapping_customers_do_not_deadlock(
    transactional_db, fallbacks, database_errors
):
    # given: o0..o19, even ones of A and odd ones of B
    merchant = MerchantFactory(slug="race", currency="EUR")
    for n in range(20):
        order_ingest(
            merchant=merchant, payload=shop_order(n, {"external_id": "AB"[n % 2]}, ["p"]), now=NOW
        )

    # when: one request moves every order to B, another to A, a third cancels some; singles too
    def all_to(customer, **overrides):
        return [shop_order(n, {"external_id": customer}, ["p"], **overrides) for n in range(20)]

    errors = run_together(
        [
            lambda: order_bulk_ingest(merchant=merchant, payloads=all_to("B"), now=NOW),
            lambda: order_bulk_ingest(merchant=merchant, payloads=all_to("A")[::-1], now=NOW),
            lambda: order_bulk_ingest(
                merchant=merchant,
                payloads=all_to("A", cancelled_at="2026-03-02T09:00:00Z")[5:15],
                now=NOW,
            ),
            lambda: order_ingest(merchant=merchant, payload=all_to("B")[7], now=NOW),
        ]
    )

    # then
    assert errors == []
    assert fallbacks() == []
    assert database_errors == []
    assert_exact_figures(merchant)


def test_guests_known_by_email_racing_between_bulk_and_single(
    transactional_db, fallbacks, database_errors
):
    merchant = MerchantFactory(slug="race", currency="EUR", country="FR")
    guest = {"email": "guest@example.net", "first_name": "Guest"}
    by_phone = {"phone": "+33612345678"}
    both = {"email": "guest@example.net", "phone": "+33612345678"}
    first = [shop_order(n, guest if n % 2 else by_phone, ["p"]) for n in range(10)]
    second = [shop_order(n, both, ["p"]) for n in range(10, 20)]

    errors = run_together(
        [
            lambda: order_bulk_ingest(merchant=merchant, payloads=first, now=NOW),
            lambda: order_bulk_ingest(merchant=merchant, payloads=second, now=NOW),
            lambda: order_ingest(merchant=merchant, payload=shop_order(20, both, ["p"]), now=NOW),
        ]
    )

    assert errors == []
    assert fallbacks() == []
    assert database_errors == []
    assert Customer.unscoped.count() in (1, 2)  # the phone-only shopper may come first
    assert_exact_figures(merchant)


def test_an_order_created_meanwhile_sends_the_batch_round_again(
    transactional_db, fallbacks, database_errors, monkeypatch
):
    # given: the bulk request has looked for its orders and found none; then a newer delivery
    # of one of them commits
    merchant = MerchantFactory(slug="race", currency="EUR")
    newer = order_payload(updated_at="2026-03-01T15:00:00Z", financial_status="refunded")
    older = order_payload(updated_at="2026-03-01T13:00:00Z", financial_status="pending")
    looked = threading.Event()
    committed = threading.Event()
    real = Batch._lock_contacts
    rounds = []

    def held_back(self, active):
        if threading.current_thread().name != "bulk":  # the single delivery is a batch too
            return real(self, active)
        rounds.append(len(self.orders))
        if len(rounds) == 1:
            looked.set()
            committed.wait(10)
        return real(self, active)

    monkeypatch.setattr(Batch, "_lock_contacts", held_back)
    results = []

    def deliver():
        try:
            results.extend(
                order_bulk_ingest(
                    merchant=merchant,
                    payloads=[older, order_payload(external_id="o2", number="2")],
                    now=NOW,
                )
            )
        finally:
            connection.close()

    # when
    thread = threading.Thread(target=deliver, name="bulk")
    thread.start()
    assert looked.wait(10)
    order_ingest(merchant=merchant, payload=newer, now=NOW)
    committed.set()
    thread.join(timeout=30)

    # then: the second round found the order and saw the older payload was stale
    assert rounds == [0, 1]
    assert [r.status for r in results] == ["stale", "created"]
    assert fallbacks() == []
    assert database_errors == []
    order = Order.unscoped.get(external_id="ord-1001")
    assert order.financial_status == "refunded"
    assert_exact_figures(merchant)


def test_renaming_the_same_products_in_bulk_and_one_by_one_does_not_deadlock(
    transactional_db, database_errors
):
    # given: ten products, all named in every request with a new title each time
    merchant = MerchantFactory(slug="race", currency="EUR")
    products = [f"p{n}" for n in range(10)]
    order_ingest(merchant=merchant, payload=shop_order(0, {"external_id": "c"}, products), now=NOW)

    def renamed(n, title):
        # each request its own customer: only the products are shared
        payload = shop_order(n, {"external_id": f"c{n // 10}"}, products)
        for line in payload["lines"]:
            line["product"]["title"] = f"{line['product']['external_id']} {title}"
        payload["lines"] = payload["lines"][::-1] if n % 2 else payload["lines"]
        return payload

    def bulk_requests(k):
        for round_ in range(5):
            payloads = [renamed(n, f"b{k}-{round_}") for n in range(k * 10, k * 10 + 10)]
            order_bulk_ingest(merchant=merchant, payloads=payloads, now=NOW)

    def singles(k):
        for round_ in range(10):
            payload = renamed(100 + k, f"s{k}-{round_}")
            order_ingest(merchant=merchant, payload=payload, now=NOW)

    # when
    errors = run_together(
        [lambda k=k: bulk_requests(k) for k in range(2)]
        + [lambda k=k: singles(k) for k in range(2)]
    )

    # then
    # then: no deadlock; a request that found a product renamed under it went round again, and
    # after three rounds fell back to one order at a time, which is allowed
    assert errors == []
    assert database_errors == []
    assert_exact_figures(merchant)
    titles = set(Product.unscoped.values_list("title", flat=True))
    assert len(titles) == 10


def test_a_product_renamed_under_every_unlocked_read_gets_through_in_the_second_round(
    transactional_db, fallbacks, database_errors, monkeypatch
):
    # given: a product, and another writer that renames it (in its own connection, giving up
    # after 300 ms of waiting for a lock) every time a delivery naming it has just read it
    merchant = MerchantFactory(slug="race", currency="EUR")
    order_ingest(merchant=merchant, payload=shop_order(0, {"external_id": "c"}, ["p"]), now=NOW)
    real = Batch._load_products
    renamed = []

    def rename_after_read(self, active):
        real(self, active)

        def rename():
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '300ms'")
                    cursor.execute(
                        "UPDATE orders_product SET title = %s WHERE external_id = 'p'",
                        [f"other {len(renamed)}"],
                    )
                renamed.append(True)
            except DatabaseError:
                renamed.append(False)
            finally:
                connection.close()

        thread = threading.Thread(target=rename)
        thread.start()
        thread.join(timeout=10)

    monkeypatch.setattr(Batch, "_load_products", rename_after_read)
    payload = shop_order(1, {"external_id": "c1"}, ["p"])
    payload["lines"][0]["product"]["title"] = "Ours"

    # when
    result = order_ingest(merchant=merchant, payload=payload, now=NOW)

    # then: the first round found the product changed and went round again; the second locked
    # it as it read it, so the other writer waited (and gave up) and the delivery went through
    assert renamed == [True, False]
    assert (result.created, result.events) == (True, ["order.placed"])
    assert Product.unscoped.get(external_id="p").title == "Ours"
    assert fallbacks() == []
    assert database_errors == []
    assert_exact_figures(merchant)
