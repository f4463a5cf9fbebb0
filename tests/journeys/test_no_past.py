"""Journeys do not mail the past: an event older than the journey's maximum age does not enter
(imported history never does), an exit or a goal of a journey keyed per order counts for its own
order only, and an order anniversary on 29 February is kept on the 28th."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from journeys.models import Enrollment, JourneyStepLog
from journeys.scheduled import journeys_scheduled_entries
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications.models import Message
from orders.services import order_ingest
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from postpurchase.events.services import event_record, events_recorded_as_history
from tests.factories import CustomerFactory, MerchantFactory, OrderFactory, event_payload
from tests.journeys.engine_helpers import hello

NOW = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SEND = [{"id": "s", "type": "send", "template": "hello"}]


@pytest.fixture
def merchant(db):
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    return merchant


@pytest.fixture
def customer(merchant):
    return CustomerFactory(merchant=merchant, email="ada@example.com", timezone="UTC")


def live(merchant, *, steps=SEND, key="j", **definition):
    definition = {
        "trigger": {"event": "order.placed"},
        "start": steps[0]["id"],
        "steps": steps,
        **definition,
    }
    journey = journey_save(merchant=merchant, key=key, name=key, definition=definition)
    journey_publish(journey=journey, now=NOW - 400 * 24 * HOUR)
    return journey


def fire(merchant, customer, type="order.placed", *, occurred_at=NOW, now=NOW, **payload):
    event, _ = event_record(
        merchant=merchant,
        type=type,
        customer=customer,
        payload=event_payload(type, merchant=merchant, customer=customer, **payload),
        occurred_at=occurred_at,
        now=now,
    )
    return journeys_handle_event(event=event, now=now)


# --- the maximum age --------------------------------------------------------------------------


def test_an_event_older_than_the_default_24_hours_does_not_enter(merchant, customer):
    # given
    live(merchant, entry={"per": "order"})

    # when: an order of 24 hours ago to the second, and one of 24 hours and a second ago
    on_the_edge = fire(merchant, customer, occurred_at=NOW - 24 * HOUR, order_id=1)
    too_old = fire(
        merchant, customer, occurred_at=NOW - 24 * HOUR - timedelta(seconds=1), order_id=2
    )

    # then
    assert [e.key for e in on_the_edge] == ["order:1"]
    assert too_old == []
    assert list(Enrollment.unscoped.values_list("key", flat=True)) == ["order:1"]
    assert Message.unscoped.count() == 1


def test_the_maximum_age_is_set_per_journey(merchant, customer):
    # given: an out-for-delivery text is worth nothing after two hours; a review ask keeps 3 days
    live(merchant, key="today", entry={"per": "order", "max_age_hours": 2})
    live(merchant, key="later", entry={"per": "order", "max_age_hours": 72})

    # when: an event of three hours ago
    entered = fire(merchant, customer, occurred_at=NOW - 3 * HOUR, order_id=7)

    # then: only the journey that still wants it
    assert [e.journey.key for e in entered] == ["later"]


def test_imported_history_never_enters(merchant):
    # given: a live order confirmation, and an order of last year imported now through the real
    # ingestion path (as a backfill, a bulk import or the demo seed records it)
    live(merchant, entry={"per": "order", "reentry": "never"})
    payload = {
        "external_id": "h-1",
        "number": "#1001",
        "placed_at": "2025-06-10T09:30:00Z",
        "currency": "USD",
        "subtotal": "12.00",
        "total": "12.00",
        "customer": {"external_id": "c-1", "email": "old@example.com"},
        "lines": [{"external_id": "l-1", "title": "Mug", "quantity": 1, "unit_price": "12.00"}],
    }
    order_ingest(merchant=merchant, payload=payload, source="web", now=NOW)
    [event] = Event.unscoped.filter(merchant=merchant, type="order.placed")

    # when: the journeys consumer is handed it at once
    entered = journeys_handle_event(event=event, now=NOW)

    # then: nobody entered, nothing was written to the outbox
    assert (event.occurred_at, event.recorded_at) == (datetime(2025, 6, 10, 9, 30, tzinfo=UTC), NOW)
    assert entered == []
    assert (Enrollment.unscoped.count(), Message.unscoped.count()) == (0, 0)


def test_an_event_recorded_as_history_does_nothing_in_journeys_even_if_handed_over(
    merchant, customer
):
    # given: a journey waiting on the customer's order, and an order of a minute ago recorded as
    # history (the seed's last day, an import), then handed to journeys anyway (a replay)
    live(merchant, key="confirm", entry={"per": "order"})
    live(
        merchant,
        key="wait",
        steps=WAIT_A_WEEK,
        entry={"per": "order"},
        exit_events=["order.cancelled"],
    )
    [waiting] = [e for e in fire(merchant, customer, order_id=1) if e.journey.key == "wait"]
    with events_recorded_as_history():
        placed, _ = event_record(
            merchant=merchant,
            type="order.placed",
            customer=customer,
            payload=event_payload("order.placed", merchant=merchant, customer=customer, order_id=2),
            occurred_at=NOW - timedelta(minutes=1),
            now=NOW,
        )
        cancelled, _ = event_record(
            merchant=merchant,
            type="order.cancelled",
            customer=customer,
            payload=event_payload(
                "order.cancelled", merchant=merchant, customer=customer, order_id=1
            ),
            occurred_at=NOW - timedelta(minutes=1),
            now=NOW,
        )

    # when
    entered = journeys_handle_event(event=placed, now=NOW)
    journeys_handle_event(event=cancelled, now=NOW)

    # then: nothing entered, the waiting journey goes on
    assert (placed.is_history, entered) == (True, [])
    assert sorted(Enrollment.unscoped.values_list("journey__key", "key", "state")) == [
        ("confirm", "order:1", "completed"),
        ("wait", "order:1", "active"),
    ]
    assert Enrollment.unscoped.get(pk=waiting.pk).state == "active"


@pytest.mark.parametrize("hours", [0, 721, "a day"])
def test_a_maximum_age_out_of_range_is_refused_naming_the_field(merchant, hours):
    # when
    with pytest.raises(DomainError) as error:
        journey_save(
            merchant=merchant,
            key="j",
            name="J",
            definition={
                "trigger": {"event": "order.placed"},
                "entry": {"max_age_hours": hours},
                "start": "s",
                "steps": SEND,
            },
        )

    # then
    assert list(error.value.fields) == ["entry.max_age_hours"]


def test_the_maximum_age_is_stored_with_the_version_defaulting_to_24(merchant):
    # when
    journey = live(merchant)

    # then
    journey.refresh_from_db()
    assert journey.live_version.definition["entry"]["max_age_hours"] == 24


def test_date_entries_are_scheduled_and_do_not_depend_on_the_maximum_age(merchant):
    # given: a birthday journey whose maximum age is the shortest there is
    live(
        merchant,
        trigger={"type": "date", "date": "customer.birthday", "yearly": True, "at": "09:00"},
        entry={"max_age_hours": 1},
    )
    born = CustomerFactory(merchant=merchant, birthday=date(1990, 6, 2), timezone="UTC")

    # when: the hourly run, long after midnight
    entered = journeys_scheduled_entries(now=NOW)

    # then
    assert entered == 1
    assert Enrollment.unscoped.get().customer_id == born.pk


# --- per order: exits and goals -----------------------------------------------------------------


WAIT_A_WEEK = [{"id": "week", "type": "delay", "days": 7, "next": "s"}, *SEND]


def test_an_exit_event_ends_only_the_journey_of_its_own_order(merchant, customer):
    # given: two orders of one customer, each on its way in a journey keyed per order
    live(merchant, steps=WAIT_A_WEEK, entry={"per": "order"}, exit_events=["order.cancelled"])
    first, second = (OrderFactory(merchant=merchant, customer=customer) for _ in range(2))
    fire(merchant, customer, order_id=first.pk)
    fire(merchant, customer, order_id=second.pk)

    # when: the first order is cancelled
    at = NOW + HOUR
    fire(merchant, customer, "order.cancelled", now=at, occurred_at=at, order_id=first.pk)

    # then: only the first order's journey ended
    states = dict(Enrollment.unscoped.values_list("key", "state"))
    assert states == {f"order:{first.pk}": "exited", f"order:{second.pk}": "active"}
    assert Enrollment.unscoped.get(key=f"order:{first.pk}").exit_reason == "event:order.cancelled"


def test_an_exit_event_naming_no_order_ends_every_order_of_the_customer(merchant, customer):
    # given
    live(merchant, steps=WAIT_A_WEEK, entry={"per": "order"}, exit_events=["customer.moved_away"])
    fire(merchant, customer, order_id=1)
    fire(merchant, customer, order_id=2)

    # when: an event about the customer, not one of the orders
    fire(merchant, customer, "customer.moved_away", now=NOW + HOUR)

    # then
    assert sorted(Enrollment.unscoped.values_list("key", "state")) == [
        ("order:1", "exited"),
        ("order:2", "exited"),
    ]


def test_a_goal_counts_for_its_own_order_only(merchant, customer):
    # given: a review request per order, whose goal is a review
    live(
        merchant,
        steps=WAIT_A_WEEK,
        entry={"per": "order"},
        goal={"event": "review.submitted", "within_hours": 336},
    )
    fire(merchant, customer, order_id=1)
    fire(merchant, customer, order_id=2)

    # when: a review of order 2
    at = NOW + HOUR
    fire(merchant, customer, "review.submitted", now=at, occurred_at=at, order_id=2, total="0")

    # then: order 2's enrollment converted, order 1's did not
    converted = dict(Enrollment.unscoped.values_list("key", "converted_at"))
    assert converted == {"order:1": None, "order:2": NOW + HOUR}
    assert JourneyStepLog.unscoped.filter(step_type="goal").count() == 1


def test_a_new_order_as_a_goal_counts_for_every_order_journey_of_the_customer(merchant, customer):
    # given: a cross-sell per order whose goal is buying again
    live(
        merchant,
        steps=WAIT_A_WEEK,
        entry={"per": "order", "reentry": "never"},
        goal={"event": "order.placed", "within_hours": 720},
    )
    fire(merchant, customer, order_id=1, total="10.00")
    fire(merchant, customer, now=NOW + HOUR, occurred_at=NOW + HOUR, order_id=2, total="20.00")

    # when: a third order, two days on
    later = NOW + 48 * HOUR
    fire(merchant, customer, now=later, occurred_at=later, order_id=3, total="35.00")

    # then: the earlier orders' journeys converted on it (a new order is never their own)
    converted = sorted(Enrollment.unscoped.values_list("key", "converted_at", "revenue"))
    assert [
        (key, at, str(revenue) if revenue is not None else None) for key, at, revenue in converted
    ] == [
        ("order:1", NOW + HOUR, "20.000"),
        ("order:2", later, "35.000"),
        ("order:3", None, None),
    ]


# --- 29 February --------------------------------------------------------------------------------


def test_an_order_anniversary_on_29_february_is_kept_on_the_28th(merchant):
    # given: a first-order anniversary journey, a customer who first ordered on 29 February
    live(
        merchant,
        trigger={"type": "date", "date": "customer.first_order_at", "yearly": True},
    )
    leapling = CustomerFactory(
        merchant=merchant, first_order_at=datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    )
    CustomerFactory(merchant=merchant, first_order_at=datetime(2024, 3, 1, 12, 0, tzinfo=UTC))

    # when: the run on 28 February of a common year, then on 1 March
    on_the_28th = journeys_scheduled_entries(now=datetime(2026, 2, 28, 8, 0, tzinfo=UTC))
    keys = list(Enrollment.unscoped.values_list("customer_id", "key"))

    # then
    assert on_the_28th == 1
    assert keys == [(leapling.pk, "date:2026-02-28")]


def test_a_29_february_anniversary_stays_on_the_29th_in_a_leap_year(merchant):
    # given
    live(
        merchant,
        trigger={"type": "date", "date": "customer.first_order_at", "yearly": True},
    )
    CustomerFactory(merchant=merchant, first_order_at=datetime(2024, 2, 29, 12, 0, tzinfo=UTC))

    # when
    on_the_28th = journeys_scheduled_entries(now=datetime(2028, 2, 28, 8, 0, tzinfo=UTC))
    on_the_29th = journeys_scheduled_entries(now=datetime(2028, 2, 29, 8, 0, tzinfo=UTC))

    # then
    assert (on_the_28th, on_the_29th) == (0, 1)
