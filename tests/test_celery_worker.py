"""A real Celery worker (celery.contrib.testing) on the real Redis broker sees events through."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection, connections, transaction

from orders.models import Customer
from postpurchase.celery import app
from postpurchase.events.models import EventConsumerRun
from postpurchase.events.registry import registry
from postpurchase.events.services import event_record
from postpurchase.events.tasks import event_dispatch_task
from tests.factories import CustomerFactory, MerchantFactory, event_payload


def tag_customer(event):
    customer = Customer.objects.get(pk=event.customer_id)
    customer.tags = [*customer.tags, f"seen-{event.type}"]
    customer.save(update_fields=["tags"])


@pytest.fixture
def worker(transactional_db):
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
        yield w


def test_a_worker_dispatches_a_recorded_event_to_its_consumer(worker):
    # given
    merchant = MerchantFactory(slug="worker-shop")
    customer = CustomerFactory(merchant=merchant, tags=[])

    with registry.temporarily("order.placed", "tests.tag_customer", tag_customer):
        # when: the event is committed (its dispatch is enqueued on commit) and we follow one
        # dispatch task through the broker to its result
        with transaction.atomic():
            event, _ = event_record(
                merchant=merchant,
                type="order.placed",
                customer=customer,
                payload=event_payload("order.placed", merchant=merchant, customer=customer),
            )
        outcome = event_dispatch_task.apply_async(
            kwargs={"event_id": event.pk, "merchant_id": merchant.pk}, ignore_result=False
        ).get(timeout=30)

    # then: the consumer ran exactly once, whichever of the two tasks got there first
    assert outcome["tests.tag_customer"] == "done"
    assert Customer.unscoped.get(pk=customer.pk).tags == ["seen-order.placed"]
    run = EventConsumerRun.objects.get(event=event, consumer="tests.tag_customer")
    assert (run.consumer, run.status, run.attempts) == ("tests.tag_customer", "done", 1)


@app.task(name="tests.database_backend")
def database_backend() -> int:
    """The PostgreSQL backend (process id) this task's queries ran on."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def backends_of_three_tasks() -> list[int]:
    return [database_backend.apply_async(ignore_result=False).get(timeout=30) for _ in range(3)]


def test_a_worker_keeps_its_database_connection_across_tasks_for_db_conn_max_age(
    worker, monkeypatch
):
    # given: connections kept 60 s (DB_CONN_MAX_AGE=60)
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    # when
    backends = backends_of_three_tasks()
    # then: one connection served the three tasks
    assert len(set(backends)) == 1


def test_without_db_conn_max_age_each_task_has_a_connection_of_its_own(worker, monkeypatch):
    # given: the default, 0
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    # when
    backends = backends_of_three_tasks()
    # then
    assert len(set(backends)) == 3


def test_a_kept_connection_the_database_dropped_is_replaced_before_the_next_task(
    worker, monkeypatch
):
    # given: a kept connection, which the database then terminates
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    [before] = [database_backend.apply_async(ignore_result=False).get(timeout=30)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [before])
    # when
    after = backends_of_three_tasks()
    # then: the next task ran on a new connection, kept for the ones after it
    assert before not in after
    assert len(set(after)) == 1
