"""A real Celery worker (celery.contrib.testing) on the real Redis broker sees events through."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

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
