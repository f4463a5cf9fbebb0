"""What the journeys API tests share: the follow-up journey's definition and clock, recording
an event through the engine, the counts the follow-up fixture (tests/journeys/conftest.py)
leaves, a journey as the list shows it, and a snapshot of every row a simulation must not write."""

from __future__ import annotations

from datetime import UTC, datetime

from journeys.models import Enrollment, Journey, JourneyStepLog, JourneyVersion
from journeys.services import journeys_handle_event
from notifications.models import Message
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from tests.factories import event_payload

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
LIST = "/api/v1/journeys"
DEFINITION = {
    "trigger": {"event": "order.placed"},
    "exit_events": ["order.cancelled"],
    "goal": {"event": "review.submitted", "within_hours": 336},
    "start": "confirm",
    "steps": [
        {"id": "confirm", "type": "send", "template": "hello", "next": "check"},
        {
            "id": "check",
            "type": "condition",
            "conditions": [{"path": "customer.tags", "op": "contains", "value": "vip"}],
            "then": "ask",
            "else": "later",
        },
        {
            "id": "ask",
            "type": "wait_for_event",
            "event": "review.submitted",
            "timeout_hours": 72,
            "next": "thanks",
        },
        {"id": "thanks", "type": "send", "template": "hello"},
        {"id": "later", "type": "delay", "days": 2, "next": "bye"},
        {"id": "bye", "type": "exit"},
    ],
}


def fire(merchant, customer, type, now, **payload):
    event, _ = event_record(
        merchant=merchant,
        type=type,
        customer=customer,
        payload=event_payload(type, merchant=merchant, customer=customer, **payload),
        occurred_at=now,
        now=now,
    )
    return journeys_handle_event(event=event, now=now)


COUNTS = {
    "entered": 4,
    "active": 1,
    "waiting": 1,
    "completed": 1,
    "exited": 1,
    "failed": 0,
    "converted": 1,
    "holdout": 0,
}
NO_COUNTS = dict.fromkeys(COUNTS, 0)


def listed(journey) -> dict:
    return {
        "id": journey.pk,
        "key": "follow-up",
        "name": "Follow-up",
        "description": "Thanks, then a review.",
        "status": "live",
        "live_version": {
            "number": 1,
            "published_at": "2026-06-02T15:00:00Z",
            "trigger_type": "event",
            "trigger_event": "order.placed",
        },
        "counts": COUNTS,
        "created_at": "2026-06-01T15:00:00Z",
        "updated_at": "2026-06-02T15:00:00Z",
    }


def snapshot():
    return [
        sorted(model.unscoped.values_list("pk", flat=True))
        for model in (Enrollment, JourneyStepLog, Message, Event, JourneyVersion)
    ] + [list(Journey.unscoped.order_by("pk").values())]
