"""The journeys consumer takes a batch of events (journeys/consumer.py) with the outcome of taking
them one at a time: the same enrollments, step logs and messages, each customer's events in their
order, in a number of statements that does not grow with the batch."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys.consumer import journeys_handle_events, rounds
from journeys.models import Enrollment, JourneyStepLog
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications.models import Message
from postpurchase.events.models import Event, EventConsumerRun
from postpurchase.events.services import event_record, events_dispatch
from tests.factories import CustomerFactory, MerchantFactory, OrderFactory, event_payload
from tests.journeys.api_helpers import DEFINITION, T0
from tests.journeys.engine_helpers import hello

pytestmark = pytest.mark.django_db

T1 = T0 + timedelta(hours=1)
VIP_ONCE = {
    "trigger": {
        "event": "order.placed",
        "conditions": [{"path": "customer.tags", "op": "contains", "value": "vip"}],
    },
    "entry": {"reentry": "never"},
    "start": "welcome",
    "steps": [{"id": "welcome", "type": "send", "template": "hello"}],
}
PER_ORDER = {
    "trigger": {"event": "order.placed"},
    "entry": {"per": "order"},
    "exit_events": ["order.cancelled"],
    "start": "pause",
    "steps": [
        {"id": "pause", "type": "delay", "days": 1, "next": "nudge"},
        {"id": "nudge", "type": "send", "template": "hello"},
    ],
}


def store():
    """A merchant with three live journeys, four customers and, before the batch, cy waiting
    for her review in the follow-up."""
    merchant = MerchantFactory()
    hello(merchant)
    for key, definition in (("follow-up", DEFINITION), ("vip", VIP_ONCE), ("per-order", PER_ORDER)):
        journey = journey_save(merchant=merchant, key=key, name=key, definition=definition)
        journey_publish(journey=journey, now=T0)
    people = {
        "ada": CustomerFactory(merchant=merchant, tags=["vip"], timezone="UTC"),
        "bob": CustomerFactory(merchant=merchant, email="", timezone="UTC"),
        "cy": CustomerFactory(merchant=merchant, tags=["vip"], timezone="UTC"),
        "dee": CustomerFactory(merchant=merchant, timezone="UTC"),
    }
    orders = {
        name: OrderFactory(merchant=merchant, customer=people[who])
        for name, who in (("a1", "ada"), ("a2", "ada"), ("b1", "bob"), ("c1", "cy"), ("d1", "dee"))
    }
    [earlier] = record(merchant, [("cy", "order.placed", "c1")], people, orders, T0)
    journeys_handle_event(event=earlier, now=T0)
    return merchant, people, orders


def record(merchant, steps, people, orders, now):
    events = []
    for who, type, order in steps:
        customer = people[who] if who else None
        keys = {"order_id": orders[order].pk} if order else {"note": "no customer"}
        event, _ = event_record(
            merchant=merchant,
            type=type,
            customer=customer,
            payload=event_payload(type, merchant=merchant, customer=customer, **keys),
            occurred_at=now,
            now=now,
        )
        events.append(event)
    return events


BATCH = [
    ("ada", "order.placed", "a1"),
    ("bob", "order.placed", "b1"),
    ("ada", "review.submitted", None),  # wakes ada's new enrollment, and converts it
    ("cy", "review.submitted", None),  # wakes cy's earlier one, and converts it
    ("dee", "order.placed", "d1"),
    ("dee", "order.cancelled", "d1"),  # ends both of dee's new enrollments
    ("ada", "order.placed", "a2"),  # ada again: the follow-up (completed) and per-order enter
    (None, "shop.note", None),  # no customer: nothing
]


def outcome(merchant, people, orders) -> dict:
    """Every enrollment, step and message of the merchant, with ids replaced by names."""
    name_of = {c.pk: name for name, c in people.items()}
    order_of = {f"order:{o.pk}": f"order:{name}" for name, o in orders.items()}
    enrollments = Enrollment.unscoped.filter(merchant=merchant).select_related("journey")
    rows = []
    for e in enrollments:
        steps = list(
            JourneyStepLog.unscoped.filter(enrollment=e)
            .order_by("id")
            .values_list("step_id", "step_type", "outcome")
        )
        rows.append(
            (
                e.journey.key,
                name_of[e.customer_id],
                order_of.get(e.key, e.key),
                e.state,
                e.current_step,
                e.exit_reason,
                e.converted_at,
                e.next_run_at,
                steps,
            )
        )
    sent = Message.unscoped.filter(merchant=merchant).order_by("id")
    return {
        "enrollments": sorted(rows, key=repr),
        "messages": sorted(
            (name_of[m.customer_id], m.template.key, m.status, m.reason) for m in sent
        ),
    }


def test_a_batch_ends_as_the_same_events_taken_one_at_a_time():
    # given: two identical stores, and the same events recorded in each
    one, one_people, one_orders = store()
    batch, batch_people, batch_orders = store()
    singles = record(one, BATCH, one_people, one_orders, T1)
    together = record(batch, BATCH, batch_people, batch_orders, T1)

    # when: one store's events one at a time, the other's as a batch through the event log
    for event in singles:
        journeys_handle_event(event=event, now=T1)
    journeys_handle_events(events=together, now=T1)

    # then
    expected = outcome(one, one_people, one_orders)
    assert outcome(batch, batch_people, batch_orders) == expected
    # and that outcome is the one the rules give: ada's review woke and converted her first
    # follow-up, her second order entered again (it had ended) but not the vip one (never
    # re-entered); dee's cancellation ended both journeys of her order
    assert [(*row[:6], row[6] is not None) for row in expected["enrollments"]] == [
        ("follow-up", "ada", "customer", "completed", "", "", True),
        ("follow-up", "ada", "customer", "waiting", "ask", "", False),
        ("follow-up", "bob", "customer", "active", "bye", "", False),
        ("follow-up", "cy", "customer", "completed", "", "", True),
        ("follow-up", "dee", "customer", "exited", "bye", "event:order.cancelled", False),
        ("per-order", "ada", "order:a1", "active", "nudge", "", False),
        ("per-order", "ada", "order:a2", "active", "nudge", "", False),
        ("per-order", "bob", "order:b1", "active", "nudge", "", False),
        ("per-order", "cy", "order:c1", "active", "nudge", "", False),
        ("per-order", "dee", "order:d1", "exited", "nudge", "event:order.cancelled", False),
        ("vip", "ada", "customer", "completed", "", "", False),
        ("vip", "cy", "customer", "completed", "", "", False),
    ]
    assert len(expected["messages"]) == 9


def test_each_customer_s_events_are_taken_in_order_one_per_round():
    # given: events of three customers, interleaved
    events = [Event(pk=n, customer_id=c) for n, c in enumerate([1, 2, 1, 3, 1, 2], start=1)]

    # when
    taken = rounds(events)

    # then
    assert [[e.pk for e in r] for r in taken] == [[1, 2, 4], [3, 6], [5]]


# Locks, live versions, facts, entry rules, the enrollments and their logs, the orders with their
# lines and parcels, the templates, the messages and their timelines: for any size of batch.
QUERIES_PER_BATCH = 30


@pytest.mark.parametrize("size", [3, 30])
def test_a_batch_costs_the_same_statements_whatever_its_size(size):
    # given: a store with the follow-up live, and an order placed by each of `size` customers
    merchant = MerchantFactory()
    hello(merchant)
    journey = journey_save(merchant=merchant, key="f", name="f", definition=DEFINITION)
    journey_publish(journey=journey, now=T0)
    people = {f"c{n}": CustomerFactory(merchant=merchant, timezone="UTC") for n in range(size)}
    orders = {
        f"o{n}": OrderFactory(merchant=merchant, customer=people[f"c{n}"]) for n in range(size)
    }
    events = record(
        merchant, [(f"c{n}", "order.placed", f"o{n}") for n in range(size)], people, orders, T1
    )
    events = list(Event.unscoped.filter(pk__in=[e.pk for e in events]).order_by("pk"))

    # when
    with CaptureQueriesContext(connection) as queries:
        created = journeys_handle_events(events=events, now=T1)

    # then: everyone entered and was sent the confirmation, in the same statements for 3 or 30
    assert len(created) == size
    assert Message.unscoped.filter(merchant=merchant).count() == size
    import collections

    print(collections.Counter(q["sql"][:150] for q in queries.captured_queries).most_common(12))
    assert len(queries) == QUERIES_PER_BATCH


def test_a_batch_that_fails_is_run_one_event_at_a_time_and_only_the_bad_event_fails(caplog):
    # given: a consumer whose batch handler fails on any batch holding event "b", and whose
    # one-event handler fails on "b" alone
    from postpurchase.events.registry import ConsumerRegistry

    merchant = MerchantFactory()
    customers = [CustomerFactory(merchant=merchant) for _ in range(3)]
    events = [
        event_record(merchant=merchant, type=t, customer=c, payload={"n": t}, now=T1)[0]
        for t, c in zip(("a.one", "b.bad", "c.three"), customers, strict=True)
    ]
    batches, alone = [], []

    def one(event):
        alone.append(event.type)
        if event.type == "b.bad":
            raise ValueError("bad payload")

    def many(evs):
        batches.append([e.type for e in evs])
        Event.unscoped.filter(pk=evs[0].pk).update(source="touched by the batch")
        if any(e.type == "b.bad" for e in evs):
            raise ValueError("bad payload")

    consumers = ConsumerRegistry()
    consumers.subscribe("*", "test.c", one, batch_handler=many)

    # when
    with caplog.at_level(logging.WARNING, logger="postpurchase.events.services"):
        statuses = events_dispatch(events=events, now=T1, consumers=consumers)

    # then: the batch's work was rolled back, each event ran alone, only "b" failed
    assert batches == [["a.one", "b.bad", "c.three"]]
    assert alone == ["a.one", "b.bad", "c.three"]
    assert Event.unscoped.filter(source="touched by the batch").count() == 0
    assert {pk: s["test.c"] for pk, s in statuses.items()} == {
        events[0].pk: "done",
        events[1].pk: "failed",
        events[2].pk: "done",
    }
    runs = dict(
        EventConsumerRun.objects.filter(consumer="test.c").values_list("event_id", "attempts")
    )
    assert runs == {events[0].pk: 1, events[1].pk: 1, events[2].pk: 1}
    bad = EventConsumerRun.objects.get(consumer="test.c", event=events[1])
    assert bad.next_attempt_at is not None
    assert "ValueError: bad payload" in bad.last_error
    assert [r.getMessage().partition("; ")[::2] for r in caplog.records] == [
        ("Consumer test.c failed on a batch of 3 events", "each is run alone"),
        (
            f"Consumer test.c failed on event {events[1].pk} (attempt 1)",
            f"retry at {bad.next_attempt_at}",
        ),
    ]

    # when: the retry comes due, with a new event beside it
    later = bad.next_attempt_at
    fresh = event_record(merchant=merchant, type="d.four", customer=customers[0], now=later)[0]
    again = Event.unscoped.filter(pk__in=[events[1].pk, fresh.pk]).select_related("merchant")
    batches.clear()
    alone.clear()
    events_dispatch(events=list(again), now=later, consumers=consumers)

    # then: the new event went in a batch of its own, the retry alone
    assert batches == [["d.four"]]
    assert alone == ["b.bad"]
    assert EventConsumerRun.objects.get(consumer="test.c", event=events[1]).attempts == 2
