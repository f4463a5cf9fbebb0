"""Simulation: the real engine's timeline for one customer, months in milliseconds, with
nothing kept and nothing sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from journeys.models import Enrollment, JourneyStepLog
from journeys.services import journey_publish, journey_save
from journeys.simulation import journey_simulate
from notifications.models import Message, SendingPolicy
from notifications.services import message_template_save
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.factories import CustomerFactory, MerchantFactory, typed_payload

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
DELIVERED = typed_payload("shipment.delivered", status_at=T0.isoformat())


@pytest.fixture
def review(db):
    merchant = MerchantFactory(timezone="UTC")
    for key, channel in (("ask", "email"), ("remind", "sms")):
        message_template_save(
            merchant=merchant,
            payload={
                "key": key,
                "name": key,
                "channel": channel,
                "category": "transactional",
                "variants": [
                    {"locale": "en", "subject": "Review?", "html_body": "<p>Review?</p>"}
                    if channel == "email"
                    else {"locale": "en", "sms_body": "Review us?"}
                ],
            },
        )
    journey = journey_save(
        merchant=merchant,
        key="review",
        name="Review",
        definition={
            "trigger": {"event": "shipment.delivered"},
            "entry": {"per": "order"},
            "start": "wait7",
            "steps": [
                {"id": "wait7", "type": "delay", "days": 7, "next": "ask"},
                {"id": "ask", "type": "send", "template": "ask", "next": "review"},
                {
                    "id": "review",
                    "type": "wait_for_event",
                    "event": "review.submitted",
                    "match": {"order_id": "trigger.order_id"},
                    "timeout_hours": 96,
                    "timeout_next": "remind",
                },
                {"id": "remind", "type": "send", "template": "remind"},
            ],
        },
    )
    journey_publish(journey=journey, now=T0)
    customer = CustomerFactory(merchant=merchant, phone="+14155550123", timezone="UTC")
    return journey, customer


def outline(result):
    return [
        (row["at"], row["step_id"], row["outcome"], (row["message"] or {}).get("status"))
        for row in result["timeline"]
    ]


def test_a_simulation_runs_months_of_waits_and_keeps_nothing(review):
    # given
    journey, customer = review
    SendingPolicy.unscoped.create(merchant=journey.merchant, send_from="08:00", send_until="21:00")

    # when: delivered on 2 June at 15:00; no review ever comes
    result = journey_simulate(
        journey=journey,
        customer=customer,
        events=[{"type": "shipment.delivered", "at": T0.isoformat(), "payload": DELIVERED}],
    )

    # then: the ask on day 7, the reminder four days later (an SMS: sending hours apply)
    assert result["entered"] is True
    assert outline(result) == [
        ("2026-06-02T15:00:00+00:00", "", "entered", None),
        ("2026-06-02T15:00:00+00:00", "wait7", "waiting", None),
        ("2026-06-09T15:00:00+00:00", "ask", "queued", "queued"),
        ("2026-06-09T15:00:00+00:00", "review", "waiting", None),
        ("2026-06-13T15:00:00+00:00", "review", "timed_out", None),
        ("2026-06-13T15:00:00+00:00", "remind", "queued", "queued"),
        ("2026-06-13T15:00:00+00:00", "", "completed", None),
    ]
    assert result["end"] == {"state": "completed", "reason": "", "at": "2026-06-13T15:00:00+00:00"}
    assert (Enrollment.unscoped.count(), JourneyStepLog.unscoped.count()) == (0, 0)
    assert (Message.unscoped.count(), Event.unscoped.count()) == (0, 0)


def test_a_simulated_event_takes_the_waits_other_way(review):
    journey, customer = review
    result = journey_simulate(
        journey=journey,
        customer=customer,
        events=[
            {"type": "shipment.delivered", "at": T0.isoformat(), "payload": DELIVERED},
            {
                "type": "review.submitted",
                "at": "2026-06-10T09:00:00+00:00",
                "payload": {"order_id": 311},
            },
        ],
    )
    assert [row[1:3] for row in outline(result)][-3:] == [
        ("review", "waiting"),
        ("review", "event_arrived"),
        ("", "completed"),
    ]


def test_quiet_hours_show_as_a_deferral(review):
    # given: the reminder falls at 03:00 for a shopper in UTC, and the merchant holds even
    # transactional texts to its sending hours
    journey, customer = review
    SendingPolicy.unscoped.create(merchant=journey.merchant, transactional_anytime=False)
    result = journey_simulate(
        journey=journey,
        customer=customer,
        events=[
            {
                "type": "shipment.delivered",
                "at": "2026-06-02T03:00:00+00:00",
                "payload": DELIVERED,
            }
        ],
    )
    remind = next(row for row in result["timeline"] if row["step_id"] == "remind")
    assert remind["message"] == {
        "template": "remind",
        "channel": "sms",
        "status": "deferred",
        "reason": "quiet_hours",
        "detail": "",
        "deferred_until": "2026-06-13T08:00:00+00:00",
    }


def test_events_that_do_not_trigger_enter_nobody(review):
    journey, customer = review
    result = journey_simulate(
        journey=journey,
        customer=customer,
        events=[
            {"type": "order.placed", "at": T0.isoformat(), "payload": typed_payload("order.placed")}
        ],
    )
    assert (result["entered"], result["timeline"]) == (False, [])


def test_a_draft_can_be_simulated_before_it_is_published(review):
    # given: the draft drops the reminder
    journey, customer = review
    journey.draft = {**journey.draft, "steps": journey.draft["steps"][:3]}
    journey.draft["steps"][2] = {**journey.draft["steps"][2], "timeout_next": ""}
    journey.save()

    # when
    result = journey_simulate(
        journey=journey,
        customer=customer,
        draft=True,
        events=[{"type": "shipment.delivered", "at": T0.isoformat(), "payload": DELIVERED}],
    )

    # then
    assert [row[1] for row in outline(result)].count("remind") == 0
    assert journey.versions.count() == 1  # the draft's trial version was not kept


def test_another_merchants_customer_is_refused(review):
    journey, _ = review
    stranger = CustomerFactory(merchant=MerchantFactory())
    with pytest.raises(DomainError) as error:
        journey_simulate(journey=journey, customer=stranger, events=[])
    assert error.value.code == "not_found"


@pytest.mark.parametrize("mode", ["log", "strict"])
def test_a_half_typed_payload_is_refused_naming_the_key_whatever_the_mode(review, settings, mode):
    # given: the merchant typed only the key their journey matches on
    settings.EVENT_PAYLOAD_VALIDATION = mode
    journey, customer = review

    # when
    with pytest.raises(DomainError) as error:
        journey_simulate(
            journey=journey,
            customer=customer,
            events=[
                {"type": "shipment.delivered", "at": T0.isoformat(), "payload": DELIVERED},
                {"type": "shipment.delivered", "at": T0.isoformat(), "payload": {"order_id": 5}},
            ],
        )

    # then: the second event, its first missing key, and nothing ran
    assert (error.value.code, error.value.field) == (
        "payload_mismatch",
        "events[1].payload.shipment_id",
    )
    assert error.value.message == (
        "The payload of a 'shipment.delivered' event does not match its model "
        "(docs/events.md): shipment_id: Field required."
    )
    assert (Enrollment.unscoped.count(), Event.unscoped.count()) == (0, 0)


def test_a_custom_event_is_simulated_with_any_payload(review):
    journey, customer = review
    result = journey_simulate(
        journey=journey,
        customer=customer,
        events=[
            {"type": "shipment.delivered", "at": T0.isoformat(), "payload": DELIVERED},
            {
                "type": "review.submitted",
                "at": "2026-06-10T09:00:00+00:00",
                "payload": {"order_id": 311, "stars": 5, "text": ["anything", 1]},
            },
        ],
    )
    assert [row[1:3] for row in outline(result)][-2:] == [
        ("review", "event_arrived"),
        ("", "completed"),
    ]
