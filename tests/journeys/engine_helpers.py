"""What the journey engine's tests share: a clock (a Tuesday), a journey saved and published in
one call, an event recorded and handed to the engine, the "hello" template's id, a customer's
messages, an enrollment's step log, and the journey that waits for a review."""

from __future__ import annotations

from datetime import UTC, datetime

from journeys.models import JourneyStepLog
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications.models import Message
from notifications.services import message_template_save
from postpurchase.events.services import event_record
from tests.factories import event_payload

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # a Tuesday


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
