"""Date and inactivity triggers: who enters on which day, once, starting at the local time (a
shopper west of the merchant on their own day, not the evening before)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from journeys.models import Enrollment
from journeys.scheduled import journeys_scheduled_entries
from journeys.services import journey_publish, journey_save, journeys_tick
from notifications.models import Message
from tests.factories import CustomerFactory, MerchantFactory
from tests.journeys.engine_helpers import hello as hello_template

NOW = datetime(2026, 6, 2, 5, 0, tzinfo=UTC)  # 07:00 in Paris, Tuesday 2 June


def hello(merchant):
    hello_template(merchant)
    return merchant


@pytest.fixture
def merchant(db):
    return hello(MerchantFactory(timezone="Europe/Paris"))


def live(merchant, trigger, **definition):
    journey = journey_save(
        merchant=merchant,
        key="j",
        name="J",
        definition={
            "trigger": trigger,
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "hello"}],
            **definition,
        },
    )
    journey_publish(journey=journey, now=NOW)
    return journey


def test_a_birthday_enters_on_the_day_once_and_starts_at_the_local_time(merchant):
    # given: birthdays today, yesterday, and on a 29 February
    live(merchant, {"type": "date", "date": "customer.birthday", "yearly": True, "at": "09:00"})
    today = CustomerFactory(merchant=merchant, birthday=date(1990, 6, 2), timezone="Asia/Tokyo")
    CustomerFactory(merchant=merchant, birthday=date(1990, 6, 1))
    CustomerFactory(merchant=merchant, birthday=None)

    # when: the hourly run, twice
    first = journeys_scheduled_entries(now=NOW)
    again = journeys_scheduled_entries(now=NOW + timedelta(hours=1))

    # then: one entry, keyed by the day, first due at 09:00 in Tokyo (already passed: at once)
    assert (first, again) == (1, 0)
    enrollment = Enrollment.unscoped.get()
    assert (enrollment.customer_id, enrollment.key) == (today.pk, "date:2026-06-02")
    assert enrollment.next_run_at == NOW  # 14:00 in Tokyo: 09:00 has passed today


def test_a_birthday_starts_at_nine_in_the_customers_zone(merchant):
    live(merchant, {"type": "date", "date": "customer.birthday", "yearly": True, "at": "09:00"})
    CustomerFactory(merchant=merchant, birthday=date(1990, 6, 2), timezone="America/New_York")
    journeys_scheduled_entries(now=NOW)
    enrollment = Enrollment.unscoped.get()
    assert enrollment.next_run_at == datetime(2026, 6, 2, 13, 0, tzinfo=UTC)  # 09:00 EDT

    # and the tick sends it then, not before
    assert journeys_tick(now=datetime(2026, 6, 2, 12, 59, tzinfo=UTC)) == 0
    assert journeys_tick(now=datetime(2026, 6, 2, 13, 0, tzinfo=UTC)) == 1
    assert Message.unscoped.count() == 1


def test_a_29_february_birthday_is_kept_on_the_28th_in_other_years(merchant):
    live(merchant, {"type": "date", "date": "customer.birthday", "yearly": True})
    leapling = CustomerFactory(merchant=merchant, birthday=date(2000, 2, 29))
    assert journeys_scheduled_entries(now=datetime(2026, 2, 28, 8, 0, tzinfo=UTC)) == 1
    assert Enrollment.unscoped.get().customer_id == leapling.pk


def test_days_before_a_date(merchant):
    # given: three days before the birthday
    live(merchant, {"type": "date", "date": "customer.birthday", "yearly": True, "offset_days": -3})
    soon = CustomerFactory(merchant=merchant, birthday=date(1985, 6, 5))
    CustomerFactory(merchant=merchant, birthday=date(1985, 6, 2))

    # when
    journeys_scheduled_entries(now=NOW)

    # then
    assert list(Enrollment.unscoped.values_list("customer_id", flat=True)) == [soon.pk]


def test_inactivity_enters_those_whose_last_order_is_exactly_n_days_old(merchant):
    # given: 60 days without an order, in the merchant's calendar
    live(merchant, {"type": "inactivity", "days": 60}, exit_events=["order.placed"])
    sixty = CustomerFactory(
        merchant=merchant,
        last_order_at=datetime(2026, 4, 3, 21, 30, tzinfo=UTC),  # 3 Apr, Paris
    )
    CustomerFactory(merchant=merchant, last_order_at=datetime(2026, 4, 3, 22, 30, tzinfo=UTC))
    CustomerFactory(merchant=merchant, last_order_at=datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    CustomerFactory(merchant=merchant, last_order_at=None)

    # when
    journeys_scheduled_entries(now=NOW)

    # then: only the one whose last order was on 3 April in Paris, keyed by that period
    assert list(Enrollment.unscoped.values_list("customer_id", "key")) == [
        (sixty.pk, "inactive:2026-04-03")
    ]


def test_conditions_apply_to_scheduled_entries(merchant):
    live(
        merchant,
        {
            "type": "inactivity",
            "days": 60,
            "conditions": [{"path": "customer.orders_count", "op": "gte", "value": 2}],
        },
    )
    last = datetime(2026, 4, 3, 10, 0, tzinfo=UTC)
    loyal = CustomerFactory(merchant=merchant, last_order_at=last, orders_count=2)
    CustomerFactory(merchant=merchant, last_order_at=last, orders_count=1)
    journeys_scheduled_entries(now=NOW)
    assert list(Enrollment.unscoped.values_list("customer_id", flat=True)) == [loyal.pk]


@pytest.mark.django_db
def test_a_birthday_west_of_the_merchant_starts_on_its_own_day():
    # given: a merchant in UTC, a shopper in Los Angeles, the run at 00:30 UTC on 2 June
    merchant = hello(MerchantFactory(timezone="UTC"))
    live(merchant, {"type": "date", "date": "customer.birthday", "yearly": True, "at": "09:00"})
    CustomerFactory(merchant=merchant, birthday=date(1990, 6, 2), timezone="America/Los_Angeles")

    # when
    journeys_scheduled_entries(now=datetime(2026, 6, 2, 0, 30, tzinfo=UTC))

    # then: 09:00 on 2 June in Los Angeles, not the evening of 1 June there
    assert Enrollment.unscoped.get().next_run_at == datetime(2026, 6, 2, 16, 0, tzinfo=UTC)
