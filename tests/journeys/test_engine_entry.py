"""The journey engine with its clock passed in, at the door: entry from an event (trigger
conditions, one journey per order, re-entry rules), holdouts (tracked, sent nothing, given no
tag nor webhook), running enrollments keeping their version, and what publishing refuses (a
broken graph with its field, a template that does not exist)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from journeys.engine import bucket
from journeys.models import Enrollment, JourneyStepLog
from journeys.services import journey_publish, journey_save, journeys_tick
from notifications.models import Message
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.factories import CustomerFactory, MerchantFactory, OrderFactory
from tests.journeys.engine_helpers import T0, fire, journey, log, messages, wait_journey


def test_an_event_enters_the_customer_and_the_first_message_goes_at_once(shop):
    # given
    merchant, customer = shop
    journey(merchant, [{"id": "s1", "type": "send", "template": "hello"}])
    order = OrderFactory(merchant=merchant, customer=customer)

    # when
    [enrollment] = fire(merchant, customer, order_id=order.pk, total="120.00")

    # then
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.key, enrollment.current_step) == (
        "completed",
        "customer",
        "",
    )
    assert messages(customer) == [("hello", f"journey:{enrollment.pk}:s1:1", T0)]
    assert log(enrollment) == [("", "entered"), ("s1", "queued"), ("", "completed")]
    assert JourneyStepLog.unscoped.get(
        enrollment=enrollment, step_id="s1"
    ).message.idempotency_key == (f"journey:{enrollment.pk}:s1:1")


def test_trigger_conditions_on_the_event_and_the_customer(shop):
    # given: orders over 100 from returning customers
    merchant, _ = shop
    journey(
        merchant,
        [{"id": "s1", "type": "send", "template": "hello"}],
        trigger={
            "event": "order.placed",
            "conditions": [
                {"path": "event.total", "op": "gt", "value": 100},
                {"path": "customer.orders_count", "op": "gte", "value": 2},
            ],
        },
    )
    newcomer = CustomerFactory(merchant=merchant, orders_count=1)
    regular = CustomerFactory(merchant=merchant, orders_count=3)

    # when / then
    assert fire(merchant, regular, total="99.99") == []
    assert fire(merchant, newcomer, total="150.00") == []
    assert len(fire(merchant, regular, total="150.00")) == 1


def test_a_holdout_is_tracked_but_sent_nothing(shop):
    # given: everyone held out (50% is the most a merchant may hold; find one who is)
    merchant, _ = shop
    journey(merchant, [{"id": "s", "type": "send", "template": "hello"}], holdout_percent=50)
    people = [CustomerFactory(merchant=merchant) for _ in range(20)]

    # when
    enrollments = [fire(merchant, person)[0] for person in people]

    # then
    held = [e for e in enrollments if Enrollment.unscoped.get(pk=e.pk).holdout]
    assert held and len(held) < len(enrollments)
    for enrollment in enrollments:
        is_held = bucket(enrollment.pk, "holdout") < 5000
        assert Enrollment.unscoped.get(pk=enrollment.pk).holdout is is_held
        sent = Message.unscoped.filter(customer_id=enrollment.customer_id).count()
        assert sent == (0 if is_held else 1)


def test_entry_per_order_runs_one_journey_per_order(shop):
    # given
    merchant, customer = shop
    wait_journey(merchant)

    # when: two orders, and the first order's event again
    first = fire(merchant, customer, order_id=1)
    second = fire(merchant, customer, order_id=2)
    again = fire(merchant, customer, order_id=1)

    # then
    assert (len(first), len(second), again) == (1, 1, [])
    assert sorted(Enrollment.unscoped.values_list("key", flat=True)) == ["order:1", "order:2"]


@pytest.mark.parametrize(
    ("entry", "later", "entered"),
    [
        # the same trigger at T0, T0 + later and a day after that
        ({"reentry": "never"}, timedelta(days=30), 1),
        ({"reentry": "after", "cooldown_hours": 48}, timedelta(hours=47), 2),  # 2nd refused
        ({"reentry": "after", "cooldown_hours": 48}, timedelta(hours=48), 2),  # 3rd refused
        ({"reentry": "always", "max_entries": 2}, timedelta(days=1), 2),
        ({"reentry": "always"}, timedelta(days=1), 3),
    ],
)
def test_reentry_rules(shop, entry, later, entered):
    # given: a journey that ends at once
    merchant, customer = shop
    journey(merchant, [{"id": "s", "type": "send", "template": "hello"}], entry=entry)

    # when
    fire(merchant, customer, now=T0)
    fire(merchant, customer, now=T0 + later)
    fire(merchant, customer, now=T0 + later + timedelta(days=1))

    # then
    assert Enrollment.unscoped.filter(customer=customer).count() == entered


def test_running_enrollments_keep_their_version(shop):
    # given
    merchant, customer = shop
    j = journey(
        merchant,
        [
            {"id": "d", "type": "delay", "days": 1, "next": "s"},
            {"id": "s", "type": "send", "template": "hello"},
        ],
    )
    [old] = fire(merchant, customer)
    j.draft = {
        **j.draft,
        "steps": [j.draft["steps"][0], {**j.draft["steps"][1], "template": "thanks"}],
    }
    j.save()
    journey_publish(journey=j, now=T0)
    newcomer = CustomerFactory(merchant=merchant)
    fire(merchant, newcomer)

    # when
    journeys_tick(now=T0 + timedelta(days=1))

    # then
    assert [key for key, _, _ in messages(customer)] == ["hello"]
    assert [key for key, _, _ in messages(newcomer)] == ["thanks"]
    assert Enrollment.unscoped.get(pk=old.pk).version.number == 1


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        (
            [
                {"id": "a", "type": "delay", "hours": 1, "next": "b"},
                {"id": "b", "type": "delay", "hours": 1, "next": "a"},
            ],
            "steps",
            "loop",
        ),
        (
            [{"id": "a", "type": "send", "template": "hello", "next": "zz"}],
            "steps[0]",
            "not a step",
        ),
        (
            [{"id": "a", "type": "exit"}, {"id": "b", "type": "exit"}],
            "steps[1]",
            "cannot be reached",
        ),
    ],
)
def test_a_broken_graph_is_refused_with_the_field(shop, steps, field, words):
    merchant, _ = shop
    with pytest.raises(DomainError) as error:
        journey_save(
            merchant=merchant,
            key="bad",
            name="Bad",
            definition={"trigger": {"event": "order.placed"}, "start": "a", "steps": steps},
        )
    assert field in error.value.fields
    assert words in error.value.fields[field][0]["message"]


def test_publishing_needs_the_templates_it_sends(shop):
    merchant, _ = shop
    j = journey_save(
        merchant=merchant,
        key="k",
        name="K",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "nope"}],
        },
    )
    with pytest.raises(DomainError) as error:
        journey_publish(journey=j)
    assert (error.value.code, error.value.field) == ("unknown_template", "steps")
    assert error.value.message == "No such message template: nope."


@pytest.mark.django_db
def test_a_held_out_customer_gets_no_tag_and_no_webhook():
    merchant = MerchantFactory(timezone="UTC")
    journey(
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
    held_count = Enrollment.unscoped.filter(holdout=True).count()
    assert Event.unscoped.filter(type="journey.invited").count() == 12 - held_count
