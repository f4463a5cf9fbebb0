"""What must hold when a journey meets bad data or two things at once: an impossible date in a
payload stops nothing, two events for one customer enter once, a held-out customer gets no action, a
wait is woken only by its own event, and a date starts on its own day for a shopper west of the
merchant."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from journeys.engine import bucket
from journeys.models import Enrollment
from journeys.scheduled import journeys_scheduled_entries
from journeys.services import journey_publish, journey_save, journeys_handle_event, journeys_tick
from notifications import delivery
from notifications.models import Message
from notifications.services import message_template_save
from postpurchase.events import services as event_services
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, MerchantFactory

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


def hello(merchant):
    message_template_save(
        merchant=merchant,
        payload={
            "key": "hello",
            "name": "Hello",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}],
        },
    )


def live(merchant, steps, key="j", **definition):
    journey = journey_save(
        merchant=merchant,
        key=key,
        name=key,
        definition={
            "trigger": definition.pop("trigger", {"event": "order.placed"}),
            "start": steps[0]["id"],
            "steps": steps,
            **definition,
        },
    )
    journey_publish(journey=journey, now=T0)
    return journey


def fire(merchant, customer, type="order.placed", now=T0, **payload):
    event, _ = event_record(
        merchant=merchant, type=type, customer=customer, payload=payload, occurred_at=now, now=now
    )
    return journeys_handle_event(event=event, now=now)


@pytest.mark.django_db
def test_an_impossible_date_is_no_date_and_the_tick_goes_on():
    # given: one merchant's enrollment waits until an impossible date; another's send is due
    bad, good = MerchantFactory(timezone="UTC"), MerchantFactory(timezone="UTC")
    hello(bad)
    hello(good)
    live(
        bad,
        [
            {"id": "d", "type": "delay", "hours": 1, "next": "u"},
            {"id": "u", "type": "delay", "until": "event.eta", "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )
    live(
        good,
        [
            {"id": "d", "type": "delay", "hours": 1, "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )
    [broken] = fire(bad, CustomerFactory(merchant=bad), eta="2026-02-30")
    [fine] = fire(good, CustomerFactory(merchant=good))

    # when
    journeys_tick(now=T0 + timedelta(hours=1))

    # then: the impossible date is no date (no wait); nothing failed, both sent
    assert Enrollment.unscoped.get(pk=broken.pk).state == "completed"
    assert Enrollment.unscoped.get(pk=fine.pk).state == "completed"
    assert Message.unscoped.count() == 2


@pytest.mark.django_db
def test_a_held_out_customer_gets_no_tag_and_no_webhook():
    merchant = MerchantFactory(timezone="UTC")
    live(
        merchant,
        [
            {"id": "t", "type": "action", "action": "add_tag", "tag": "invited", "next": "w"},
            {"id": "w", "type": "action", "action": "webhook", "event": "journey.invited"},
        ],
        holdout_percent=50,
    )
    people = [CustomerFactory(merchant=merchant, tags=[]) for _ in range(12)]
    for person in people:
        [enrollment] = fire(merchant, person)
        person.refresh_from_db()
        held = bucket(enrollment.pk, "holdout") < 5000
        assert person.tags == ([] if held else ["invited"])
    from postpurchase.events.models import Event

    held_count = Enrollment.unscoped.filter(holdout=True).count()
    assert Event.unscoped.filter(type="journey.invited").count() == 12 - held_count


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("trigger", "event", "wakes"),
    [
        ({"order_id": 311}, {"order_id": "311"}, True),  # compared as conditions compare
        ({}, {"order_id": 5}, False),  # the trigger had no order: nothing matches
        ({}, {}, False),
    ],
)
def test_a_wait_is_woken_only_by_its_own_event(trigger, event, wakes):
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    live(
        merchant,
        [
            {
                "id": "w",
                "type": "wait_for_event",
                "event": "review.submitted",
                "match": {"order_id": "trigger.order_id"},
                "timeout_hours": 24,
                "next": "s",
            },
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )
    customer = CustomerFactory(merchant=merchant)
    [enrollment] = fire(merchant, customer, **trigger)
    fire(merchant, customer, "review.submitted", now=T0 + timedelta(hours=1), **event)
    assert (Enrollment.unscoped.get(pk=enrollment.pk).state == "completed") is wakes


@pytest.mark.django_db
def test_an_event_after_the_waits_timeout_does_not_wake_it():
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    live(
        merchant,
        [
            {
                "id": "w",
                "type": "wait_for_event",
                "event": "review.submitted",
                "timeout_hours": 1,
                "next": "s",
                "timeout_next": "",
            },
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )
    customer = CustomerFactory(merchant=merchant)
    fire(merchant, customer)
    # the tick has not run yet; the review came two hours in
    fire(merchant, customer, "review.submitted", now=T0 + timedelta(hours=2))
    assert Message.unscoped.count() == 0


@pytest.mark.django_db
def test_a_birthday_west_of_the_merchant_starts_on_its_own_day():
    # given: a merchant in UTC, a shopper in Los Angeles, the run at 00:30 UTC on 2 June
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    live(
        merchant,
        [{"id": "s", "type": "send", "template": "hello"}],
        trigger={"type": "date", "date": "customer.birthday", "yearly": True, "at": "09:00"},
    )
    CustomerFactory(merchant=merchant, birthday=date(1990, 6, 2), timezone="America/Los_Angeles")

    # when
    journeys_scheduled_entries(now=datetime(2026, 6, 2, 0, 30, tzinfo=UTC))

    # then: 09:00 on 2 June in Los Angeles, not the evening of 1 June there
    assert Enrollment.unscoped.get().next_run_at == datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_two_events_for_one_customer_at_once_enter_once(monkeypatch):
    monkeypatch.setattr(event_services, "_enqueue_dispatch", lambda event_id, merchant_id: None)
    monkeypatch.setattr(delivery, "_enqueue", lambda ids, claim, merchant_id: None)
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    live(
        merchant,
        [{"id": "s", "type": "send", "template": "hello"}],
        entry={"per": "customer", "reentry": "never"},
    )
    customer = CustomerFactory(merchant=merchant)
    events = [
        event_record(merchant=merchant, type="order.placed", customer=customer, now=T0)[0]
        for _ in range(2)
    ]
    start = threading.Barrier(2, timeout=30)

    def handle(event):
        try:
            start.wait()
            return journeys_handle_event(event=event, now=T0)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result(timeout=30) for f in [pool.submit(handle, e) for e in events]]

    assert sorted(len(r) for r in results) == [0, 1]
    assert Message.unscoped.filter(merchant=merchant).count() == 1
