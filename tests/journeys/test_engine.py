"""The journey engine with its clock passed in: entry from an event (conditions and entry rules),
each kind of step, exits, goals, holdouts, and the scheduler's tick; an impossible date in a
payload stops nothing, a held-out customer gets no action, and a wait is woken only by its own
event, in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from journeys.engine import bucket
from journeys.models import Enrollment, JourneyStepLog
from journeys.services import journey_publish, journey_save, journeys_handle_event, journeys_tick
from notifications.models import Message
from notifications.services import message_template_save
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, MerchantFactory, OrderFactory, event_payload

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(timezone="UTC", name="Demo Outfitters")
    for key in ("hello", "reminder", "thanks", "fallback_sms"):
        message_template_save(
            merchant=merchant,
            payload={
                "key": key,
                "name": key,
                "channel": "sms" if key.endswith("sms") else "email",
                "category": "transactional",
                "variants": [
                    {"locale": "en", "sms_body": "Hi from {{ merchant.name }}"}
                    if key.endswith("sms")
                    else {"locale": "en", "subject": key, "html_body": "<p>{{ merchant.name }}</p>"}
                ],
            },
        )
    customer = CustomerFactory(
        merchant=merchant, email="ada@example.com", phone="+14155550123", timezone="UTC"
    )
    return merchant, customer


def journey(merchant, steps, *, start=None, key="j", **definition):
    payload = {
        "trigger": definition.pop("trigger", {"event": "order.placed"}),
        "start": start or steps[0]["id"],
        "steps": steps,
        **definition,
    }
    j = journey_save(merchant=merchant, key=key, name=key, definition=payload)
    journey_publish(journey=j, now=T0)
    return j


def fire(merchant, customer, type="order.placed", now=T0, **payload):
    event, _ = event_record(
        merchant=merchant,
        type=type,
        customer=customer,
        payload=event_payload(type, merchant=merchant, customer=customer, **payload),
        occurred_at=now,
        now=now,
    )
    return journeys_handle_event(event=event, now=now)


def hello(merchant):
    """A template ``hello`` for a merchant of the test's own (the ``shop`` has its own)."""
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


def messages(customer):
    return list(
        Message.unscoped.filter(customer=customer)
        .order_by("created_at", "id")
        .values_list("template__key", "idempotency_key", "created_at")
    )


def log(enrollment):
    return list(
        JourneyStepLog.unscoped.filter(enrollment=enrollment)
        .order_by("occurred_at", "id")
        .values_list("step_id", "outcome")
    )


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


def wait_journey(merchant):
    return journey(
        merchant,
        [
            {
                "id": "w",
                "type": "wait_for_event",
                "event": "review.submitted",
                "match": {"order_id": "trigger.order_id"},
                "timeout_hours": 72,
                "next": "thanks",
                "timeout_next": "remind",
            },
            {"id": "thanks", "type": "send", "template": "thanks"},
            {"id": "remind", "type": "send", "template": "reminder"},
        ],
        entry={"per": "order"},
    )


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
    from postpurchase.events.models import Event

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


# --- bad data, holdouts and waits (from the review of the engine) ------------------------------


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
