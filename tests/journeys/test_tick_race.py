"""Two schedulers ticking at once on the same due enrollments, each in its own thread, connection
and transactions, as two Celery workers would: every due message is written exactly once; and
two events for one customer handled at once enter the customer once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from journeys import services as journeys_services
from journeys.models import Enrollment
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications import delivery
from notifications.models import Message
from postpurchase.events import services as event_services
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, MerchantFactory, event_payload
from tests.journeys.engine_helpers import hello

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
WAIT = 30


def test_two_ticks_racing_on_the_same_due_set_never_send_twice(monkeypatch):
    # given: 120 enrollments whose one-day delay is over; nothing reaches the broker
    monkeypatch.setattr(event_services, "_enqueue_dispatch", lambda event_id, merchant_id: None)
    monkeypatch.setattr(delivery, "_enqueue", lambda ids, claim, merchant_id: None)
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    journey = journey_save(
        merchant=merchant,
        key="j",
        name="J",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "d",
            "steps": [
                {"id": "d", "type": "delay", "days": 1, "next": "s"},
                {"id": "s", "type": "send", "template": "hello"},
            ],
        },
    )
    journey_publish(journey=journey, now=T0)
    for _ in range(120):
        customer = CustomerFactory(merchant=merchant)
        event, _ = event_record(
            merchant=merchant,
            type="order.placed",
            customer=customer,
            payload=event_payload("order.placed", merchant=merchant, customer=customer),
            now=T0,
        )
        journeys_handle_event(event=event, now=T0)
    due = T0 + timedelta(days=1)
    start = threading.Barrier(2, timeout=WAIT)

    def tick() -> int:
        try:
            start.wait()
            return journeys_services.journeys_tick(now=due, batch_size=10)
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result(timeout=WAIT) for f in [pool.submit(tick), pool.submit(tick)]]

    # then: between them they advanced each enrollment once, and one message each went out
    assert sum(results) == 120
    assert Message.unscoped.filter(merchant=merchant).count() == 120
    assert Enrollment.unscoped.filter(merchant=merchant, state="completed").count() == 120


def test_two_events_for_one_customer_at_once_enter_once(monkeypatch):
    monkeypatch.setattr(event_services, "_enqueue_dispatch", lambda event_id, merchant_id: None)
    monkeypatch.setattr(delivery, "_enqueue", lambda ids, claim, merchant_id: None)
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    journey = journey_save(
        merchant=merchant,
        key="j",
        name="J",
        definition={
            "trigger": {"event": "order.placed"},
            "entry": {"per": "customer", "reentry": "never"},
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "hello"}],
        },
    )
    journey_publish(journey=journey, now=T0)
    customer = CustomerFactory(merchant=merchant)
    events = [
        event_record(
            merchant=merchant,
            type="order.placed",
            customer=customer,
            payload=event_payload("order.placed", merchant=merchant, customer=customer),
            now=T0,
        )[0]
        for _ in range(2)
    ]
    start = threading.Barrier(2, timeout=WAIT)

    def handle(event):
        try:
            start.wait()
            return journeys_handle_event(event=event, now=T0)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result(timeout=WAIT) for f in [pool.submit(handle, e) for e in events]]

    assert sorted(len(r) for r in results) == [0, 1]
    assert Message.unscoped.filter(merchant=merchant).count() == 1
