"""The journey engine with its clock passed in, step by step: delays (for the tick and the clock,
until a local time on a weekday, until a date of the journey's facts, across a DST change),
waits for an event (its own event, in time, else the timeout way), conditions, splits, exits
and goals, fallback templates and webhook actions; an impossible date in a payload stops
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from journeys.engine import bucket
from journeys.models import Enrollment
from journeys.services import journeys_tick
from notifications.models import Message
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.factories import CustomerFactory, MerchantFactory
from tests.journeys.engine_helpers import T0, fire, hello, journey, log, messages, wait_journey


def test_a_delay_waits_for_the_tick_and_the_clock(shop):
    # given
    merchant, customer = shop
    journey(
        merchant,
        [
            {"id": "s1", "type": "send", "template": "hello", "next": "d"},
            {"id": "d", "type": "delay", "days": 3, "next": "s2"},
            {"id": "s2", "type": "send", "template": "reminder"},
        ],
    )
    [enrollment] = fire(merchant, customer)

    # when: ticks before and at the end of the delay
    early = journeys_tick(now=T0 + timedelta(days=3) - timedelta(seconds=1))
    on_time = journeys_tick(now=T0 + timedelta(days=3))

    # then
    assert (early, on_time) == (0, 1)
    assert [key for key, _, _ in messages(customer)] == ["hello", "reminder"]
    assert messages(customer)[1][2] == T0 + timedelta(days=3)
    enrollment.refresh_from_db()
    assert enrollment.state == "completed"


def test_a_delay_until_a_local_time_on_a_weekday(shop):
    # given: Tuesday 15:00 UTC; the next Monday or Thursday at 09:30 in Paris (07:30 UTC)
    merchant, customer = shop
    customer.timezone = "Europe/Paris"
    customer.save()
    journey(
        merchant,
        [
            {"id": "d", "type": "delay", "at": "09:30", "weekdays": [0, 3], "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )

    # when
    [enrollment] = fire(merchant, customer)

    # then
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == datetime(2026, 6, 4, 7, 30, tzinfo=UTC)


def test_wait_for_event_takes_the_event_way_when_it_comes(shop):
    # given
    merchant, customer = shop
    wait_journey(merchant)
    [enrollment] = fire(merchant, customer, order_id=7)

    # when: a review of another order, then of this one
    fire(merchant, customer, "review.submitted", now=T0 + timedelta(hours=1), order_id=8)
    waiting = Enrollment.unscoped.get(pk=enrollment.pk).state
    fire(merchant, customer, "review.submitted", now=T0 + timedelta(hours=2), order_id=7)

    # then
    assert waiting == "waiting"
    assert [key for key, _, _ in messages(customer)] == ["thanks"]
    assert journeys_tick(now=T0 + timedelta(days=4)) == 0


def test_wait_for_event_takes_the_timeout_way_when_it_does_not(shop):
    # given
    merchant, customer = shop
    wait_journey(merchant)
    [enrollment] = fire(merchant, customer, order_id=7)

    # when
    journeys_tick(now=T0 + timedelta(hours=72))

    # then
    assert [key for key, _, _ in messages(customer)] == ["reminder"]
    assert log(enrollment)[-3:] == [("w", "timed_out"), ("remind", "queued"), ("", "completed")]


def test_conditions_branch_on_the_customer(shop):
    # given
    merchant, customer = shop
    journey(
        merchant,
        [
            {
                "id": "c",
                "type": "condition",
                "conditions": [{"path": "customer.tags", "op": "contains", "value": "vip"}],
                "then": "vip",
                "else": "regular",
            },
            {"id": "vip", "type": "send", "template": "thanks"},
            {"id": "regular", "type": "send", "template": "hello"},
        ],
    )
    vip = CustomerFactory(merchant=merchant, tags=["vip"])

    # when
    fire(merchant, vip)
    fire(merchant, customer)

    # then
    assert [key for key, _, _ in messages(vip)] == ["thanks"]
    assert [key for key, _, _ in messages(customer)] == ["hello"]


def test_a_split_is_deterministic_and_follows_its_weights(shop):
    # given
    merchant, _ = shop
    journey(
        merchant,
        [
            {
                "id": "ab",
                "type": "split",
                "branches": [
                    {"weight": 80, "next": "a", "name": "A"},
                    {"weight": 20, "next": "b", "name": "B"},
                ],
            },
            {"id": "a", "type": "action", "action": "add_tag", "tag": "saw-a"},
            {"id": "b", "type": "action", "action": "add_tag", "tag": "saw-b"},
        ],
    )
    people = [CustomerFactory(merchant=merchant) for _ in range(200)]

    # when
    enrollments = [fire(merchant, person)[0] for person in people]

    # then: each lands where its bucket says, about 80/20
    for enrollment, person in zip(enrollments, people, strict=True):
        expected = "saw-a" if bucket(enrollment.pk, "ab") < 8000 else "saw-b"
        person.refresh_from_db()
        assert person.tags == [expected]
        assert Enrollment.unscoped.get(pk=enrollment.pk).assignments == {
            "ab": 0 if expected == "saw-a" else 1
        }
    share = sum(1 for p in people if p.tags == ["saw-a"]) / len(people)
    assert 0.7 < share < 0.9


def test_exit_events_end_an_enrollment_and_goals_record_revenue(shop):
    # given: a win-back that ends on a purchase, whose goal is a purchase within a week
    merchant, customer = shop
    journey(
        merchant,
        [
            {"id": "d", "type": "delay", "days": 2, "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
        trigger={"event": "customer.inactive"},
        exit_events=["order.placed"],
        goal={"event": "order.placed", "within_hours": 168},
    )
    [enrollment] = fire(merchant, customer, "customer.inactive")

    # when
    fire(merchant, customer, "order.placed", now=T0 + timedelta(days=1), total="42.50")
    journeys_tick(now=T0 + timedelta(days=3))

    # then
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "event:order.placed")
    assert (enrollment.converted_at, enrollment.revenue) == (
        T0 + timedelta(days=1),
        Decimal("42.500"),
    )
    assert messages(customer) == []


def test_an_exit_step_ends_the_journey(shop):
    merchant, customer = shop
    journey(
        merchant,
        [
            {"id": "x", "type": "exit"},
        ],
    )
    [enrollment] = fire(merchant, customer)
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "exit_step")


def test_a_fallback_template_goes_when_the_first_may_not(shop):
    # given: the customer has no email address, but a phone
    merchant, customer = shop
    customer.email = ""
    customer.save()
    journey(
        merchant,
        [{"id": "s", "type": "send", "template": "hello", "fallback_template": "fallback_sms"}],
    )

    # when
    [enrollment] = fire(merchant, customer)

    # then
    assert [(k, key) for k, key, _ in messages(customer)] == [
        ("hello", f"journey:{enrollment.pk}:s:1"),
        ("fallback_sms", f"journey:{enrollment.pk}:s:1:fallback"),
    ]
    assert log(enrollment)[1:3] == [("s", "suppressed:no_address"), ("s", "queued")]


def test_a_delay_until_a_date_of_the_journeys_facts(shop):
    # given: wait until two days before the delivery estimate the trigger carried, at 09:00
    merchant, customer = shop
    journey(
        merchant,
        trigger={"event": "shipment.in_transit"},
        steps=[
            {
                "id": "d",
                "type": "delay",
                "until": "event.estimated_delivery",
                "offset_days": -2,
                "at": "09:00",
                "next": "s",
            },
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )

    # when
    [enrollment] = fire(merchant, customer, "shipment.in_transit", estimated_delivery="2026-06-20")
    [no_date] = fire(merchant, CustomerFactory(merchant=merchant), "shipment.in_transit")

    # then: 18 June 09:00 (the customer's zone is UTC); without the date, the next 09:00
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == datetime(2026, 6, 18, 9, 0, tzinfo=UTC)
    no_date.refresh_from_db()
    assert no_date.next_run_at == datetime(2026, 6, 3, 9, 0, tzinfo=UTC)


def test_a_webhook_action_records_its_event_once_for_subscribed_endpoints(shop):
    # given: a step that tells the merchant's systems a VIP was reached

    merchant, customer = shop
    journey(
        merchant,
        [{"id": "vip", "type": "action", "action": "webhook", "event": "journey.vip_reached"}],
    )

    # when
    [enrollment] = fire(merchant, customer)

    # then
    placed = Event.unscoped.get(type="order.placed")
    [event] = Event.unscoped.filter(type="journey.vip_reached")
    assert (event.customer_id, event.dedupe_key, event.source) == (
        customer.pk,
        f"journey:{enrollment.pk}:vip:1",
        "journey",
    )
    assert event.payload == {
        "journey_id": enrollment.journey_id,
        "enrollment_id": enrollment.pk,
        "step_id": "vip",
        "trigger": placed.payload,
    }
    assert log(enrollment)[1] == ("vip", "webhook")


def test_a_webhook_action_must_name_a_journey_event(shop):
    merchant, _ = shop
    with pytest.raises(DomainError) as error:
        journey(
            merchant,
            [{"id": "x", "type": "action", "action": "webhook", "event": "order.placed"}],
        )
    assert "journey.<something>" in str(error.value.fields)


def test_a_days_long_delay_keeps_the_wall_time_across_a_dst_change(shop):
    # given: Paris leaves summer time on 25 October 2026; an order at 10:00 local on the 24th
    merchant, customer = shop
    customer.timezone = "Europe/Paris"
    customer.save()
    journey(
        merchant,
        [
            {"id": "d", "type": "delay", "days": 2, "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )

    # when
    [enrollment] = fire(merchant, customer, now=datetime(2026, 10, 24, 8, 0, tzinfo=UTC))

    # then: 10:00 in Paris two days on, which is 09:00 UTC after the change
    enrollment.refresh_from_db()
    assert enrollment.next_run_at == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


# --- bad data and waits (from the review of the engine) ----------------------------------------


@pytest.mark.django_db
def test_an_impossible_date_is_no_date_and_the_tick_goes_on():
    # given: one merchant's enrollment waits until an impossible date; another's send is due
    bad, good = MerchantFactory(timezone="UTC"), MerchantFactory(timezone="UTC")
    hello(bad)
    hello(good)
    journey(
        bad,
        [
            {"id": "d", "type": "delay", "hours": 1, "next": "u"},
            {"id": "u", "type": "delay", "until": "event.eta", "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
        trigger={"event": "carrier.eta_changed"},  # an integrator's custom event
    )
    journey(
        good,
        [
            {"id": "d", "type": "delay", "hours": 1, "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )
    [broken] = fire(bad, CustomerFactory(merchant=bad), "carrier.eta_changed", eta="2026-02-30")
    [fine] = fire(good, CustomerFactory(merchant=good))

    # when
    journeys_tick(now=T0 + timedelta(hours=1))

    # then: the impossible date is no date (no wait); nothing failed, both sent
    assert Enrollment.unscoped.get(pk=broken.pk).state == "completed"
    assert Enrollment.unscoped.get(pk=fine.pk).state == "completed"
    assert Message.unscoped.count() == 2


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
    journey(
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
    journey(
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
