"""Deliveries that once deadlocked or half-applied, replayed in the exact interleaving that hurt.

Each test holds one thread at a chosen point with threading.Event (no sleeps) while another runs,
on real PostgreSQL transactions. With the locks taken in order, a held thread's partner blocks on
a lock instead of reaching its signal, so the hold ends at its (short) timeout; without that order
PostgreSQL reports a deadlock. One lock order holds throughout ingestion: contact locks, then
customer rows by id, then products by external id. The hold points are the engine's phases
(``Batch`` reads and locks, ``BatchWriter`` writes) and the contact locks (``ingest.db``)."""

import threading
from datetime import UTC, datetime

from django.db import connection

from orders.ingest import db
from orders.ingest.replay import Batch
from orders.ingest.writes import BatchWriter
from orders.models import Customer
from orders.services.customers import customer_upsert
from orders.services.orders import order_ingest
from tests.factories import MerchantFactory, order_payload

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def run(named_targets):
    """Run each (thread name, callable) in its own thread; the errors they raised, by name."""
    errors = {}

    def wrap(name, target):
        def go():
            try:
                target()
            except Exception as exc:  # reported by the test, in the test thread
                errors[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            finally:
                connection.close()

        return go

    threads = [threading.Thread(target=wrap(n, t), name=n) for n, t in named_targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_moving_an_order_to_a_shopper_known_by_email_beside_an_upsert_of_that_shopper(
    transactional_db, monkeypatch
):
    # given: C1 (external id) owns the order; C2 is known only by email
    merchant = MerchantFactory(slug="race", currency="EUR")
    customer_upsert(merchant=merchant, payload={"external_id": "c1", "email": "one@ex.net"})
    customer_upsert(merchant=merchant, payload={"email": "two@ex.net"})
    order_ingest(
        merchant=merchant,
        now=NOW,
        payload=order_payload(customer={"external_id": "c1", "email": "one@ex.net"}),
    )
    upsert_holds_contact = threading.Event()
    move_holds_rows = threading.Event()
    real_lock_contacts = db.lock_contacts
    real_load_customers = Batch._load_customers

    def lock_contacts(keys):
        if threading.current_thread().name == "move":
            upsert_holds_contact.wait(2)
        real_lock_contacts(keys)
        if threading.current_thread().name == "upsert":
            upsert_holds_contact.set()
            move_holds_rows.wait(2)

    def load_customers(self, active):
        real_load_customers(self, active)
        move_holds_rows.set()

    monkeypatch.setattr(db, "lock_contacts", lock_contacts)
    monkeypatch.setattr(Batch, "_load_customers", load_customers)
    move = order_payload(
        updated_at="2026-03-02T00:00:00Z", customer={"email": "two@ex.net", "first_name": "Two"}
    )

    # when
    errors = run(
        [
            (
                "upsert",
                lambda: customer_upsert(
                    merchant=merchant, payload={"email": "two@ex.net", "last_name": "X"}
                ),
            ),
            ("move", lambda: order_ingest(merchant=merchant, payload=move, now=NOW)),
        ]
    )

    # then
    assert errors == {}
    two = Customer.unscoped.get(email="two@ex.net")
    assert (two.first_name, two.last_name, two.orders_count) == ("Two", "X", 1)


def test_moving_an_order_to_a_new_customer_beside_an_order_of_the_previous_one(
    transactional_db, monkeypatch
):
    # given: ord-1001 of cust-1 with prod-1
    merchant = MerchantFactory(slug="race", currency="EUR")
    order_ingest(merchant=merchant, payload=order_payload(), now=NOW)
    move_holds_product = threading.Event()
    other_holds_customer = threading.Event()
    real_write_products = BatchWriter._write_products
    real_load_customers = Batch._load_customers

    def write_products(self):
        real_write_products(self)
        if threading.current_thread().name == "move":
            move_holds_product.set()
            other_holds_customer.wait(2)

    def load_customers(self, active):
        if threading.current_thread().name == "other":
            move_holds_product.wait(2)
            real_load_customers(self, active)
            other_holds_customer.set()
        else:
            real_load_customers(self, active)

    monkeypatch.setattr(BatchWriter, "_write_products", write_products)
    monkeypatch.setattr(Batch, "_load_customers", load_customers)
    renamed = [
        dict(
            order_payload()["lines"][0], product={"external_id": "prod-1", "title": "Trail shoe v2"}
        )
    ]
    move = order_payload(customer={"external_id": "cust-new", "email": "new@ex.net"}, lines=renamed)
    other = order_payload(
        external_id="ord-2", number="#2", customer_external_id="cust-1", lines=renamed
    )
    del other["customer"]

    # when
    errors = run(
        [
            ("move", lambda: order_ingest(merchant=merchant, payload=move, now=NOW)),
            ("other", lambda: order_ingest(merchant=merchant, payload=other, now=NOW)),
        ]
    )

    # then
    assert errors == {}
    figures = dict(Customer.unscoped.values_list("external_id", "orders_count"))
    assert figures == {"cust-1": 1, "cust-new": 1}


def test_the_loser_of_an_insert_race_writes_nothing_of_its_stale_customer(
    transactional_db, monkeypatch
):
    # given
    merchant = MerchantFactory(slug="race")
    newer = order_payload(
        updated_at="2026-03-01T15:00:00Z",
        customer={"external_id": "cust-1", "email": "new@ex.net", "first_name": "Newer"},
    )
    older = order_payload(
        updated_at="2026-03-01T13:00:00Z",
        customer={"external_id": "cust-1", "email": "old@ex.net", "first_name": "Older"},
    )
    older_found_no_order = threading.Event()
    newer_committed = threading.Event()
    real_lock_contacts = Batch._lock_contacts

    def held_back(self, active):
        if threading.current_thread().name == "older" and not older_found_no_order.is_set():
            older_found_no_order.set()
            newer_committed.wait(10)
        return real_lock_contacts(self, active)

    monkeypatch.setattr(Batch, "_lock_contacts", held_back)

    # when: the older delivery looks for the order, finds none, and is held; the newer one runs
    errors = {}

    def deliver_older():
        errors.update(
            run([("older", lambda: order_ingest(merchant=merchant, payload=older, now=NOW))])
        )

    older_thread = threading.Thread(target=deliver_older)
    older_thread.start()
    assert older_found_no_order.wait(10)
    order_ingest(merchant=merchant, payload=newer, now=NOW)
    newer_committed.set()
    older_thread.join(timeout=30)

    # then: the older delivery was stale, and nothing of it was written
    assert errors == {}
    customer = Customer.unscoped.get(external_id="cust-1")
    assert (customer.first_name, customer.email) == ("Newer", "new@ex.net")
