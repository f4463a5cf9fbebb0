"""What a journey would do for one customer, without doing it.

``journey_simulate`` runs the real engine (entry rules, conditions, delays, waits, the outbox's
decisions: consent, suppression, the frequency cap, sending hours) inside a transaction it then
rolls back, moving its own clock from one event or due step to the next. Nothing it wrote stays,
and nothing is handed to a channel: hand-offs are queued for after commit, and there is no
commit. So months of waits take milliseconds, and the answer is exactly what the engine would
decide today.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from journeys import schema
from journeys.engine import definition, enrollments_advance
from journeys.errors import JourneysErrorCode
from journeys.models import OPEN_STATES, Enrollment, EnrollmentState, Journey, JourneyStepLog
from journeys.scheduled import first_run
from journeys.services import enroll, journey_publish, journeys_handle_event
from orders.models import Customer
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.catalogue import event_type_check
from postpurchase.events.errors import EventsErrorCode
from postpurchase.events.services import event_record
from postpurchase.validation import parse_payload

HORIZON = timedelta(days=400)
MAX_ROUNDS = 500


class SimulatedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: schema.EventType
    at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class SimulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[SimulatedEvent] = Field(default_factory=list, max_length=50)


def journey_simulate(
    *,
    journey: Journey,
    customer: Customer,
    events: list[dict[str, Any]] | list[SimulatedEvent],
    start: datetime | None = None,
    draft: bool = False,
) -> dict[str, Any]:
    """The timeline of ``journey`` (its live version, or its draft with ``draft``) for
    ``customer``, given ``events`` (``{"type", "at", "payload"}``; the first one that triggers
    an event journey enters the customer). Sends nothing, keeps nothing."""
    data = parse_payload(SimulationIn, {"events": [_plain(e) for e in events]})
    simulated_events_check(data.events)
    if customer.merchant_id != journey.merchant_id:
        raise DomainError(ErrorCode.NOT_FOUND, "No such customer.", field="customer")
    ordered = sorted(data.events, key=lambda e: e.at)
    start = start or (ordered[0].at if ordered else timezone.now())
    with transaction.atomic():
        result = _run(journey, customer, ordered, start, draft)
        transaction.set_rollback(True)  # nothing kept; the hand-offs queued on commit go too
    return result


def simulated_events_check(events: list[SimulatedEvent]) -> None:
    """Hold each simulated event to its type in the event catalogue, whatever
    ``EVENT_PAYLOAD_VALIDATION`` says: a platform type no app declares, or a payload its model
    refuses, is a ``DomainError`` naming the event and the key (``events[0].payload.total``),
    a 400. The payload is what the merchant typed, so a missing or misspelt key is theirs to
    fix, not an error for the platform's logs (``log`` mode), and a journey simulated on a
    payload the platform never records would answer for events that never come. Custom
    types (an integrator's own) take any payload, as they do when recorded."""
    for index, event in enumerate(events):
        try:
            declared = event_type_check(event.type)
        except DomainError as exc:
            raise DomainError(exc.code, exc.message, field=f"events[{index}].type") from None
        if declared is None:
            continue
        try:
            declared.payload_model.model_validate(event.payload)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"])
            raise DomainError(
                EventsErrorCode.PAYLOAD_MISMATCH,
                f"The payload of a {event.type!r} event does not match its model "
                f"(docs/events.md): {where}: {error['msg']}.",
                field=f"events[{index}].payload.{where}",
            ) from None


def _plain(event) -> dict[str, Any]:
    if isinstance(event, SimulatedEvent):
        return event.model_dump()
    if isinstance(event, dict) and isinstance(event.get("at"), str):
        parsed = parse_datetime(event["at"])
        return {**event, "at": parsed or event["at"]}
    return event


def _run(journey, customer, events, start, draft) -> dict[str, Any]:
    journey = Journey.unscoped.select_for_update().get(pk=journey.pk)
    if draft:
        version = journey_publish(journey=journey, now=start)
    elif journey.live_version_id is None:
        raise DomainError(JourneysErrorCode.NOT_PUBLISHED, "The journey has no published version.")
    else:
        version = journey.live_version
    if journey.status != "live":  # simulate a paused journey as if it ran
        Journey.unscoped.filter(pk=journey.pk).update(status="live")
    plan = definition(version)
    merchant = journey.merchant
    pending = list(events)
    enrollment = None
    if plan.trigger.type != "event":
        enrollment = enroll(
            merchant=merchant,
            version=version,
            plan=plan,
            customer=customer,
            key=f"simulation:{start.date().isoformat()}",
            context={"event": {"type": plan.trigger.type}},
            now=start,
            detail=f"{plan.trigger.type} (simulated)",
            first_run_at=first_run(plan.trigger.at, customer, merchant, start),
        )
    now = start
    for _ in range(MAX_ROUNDS):
        enrollment = _refresh(enrollment)
        due = enrollment.next_run_at if enrollment and enrollment.state in OPEN_STATES else None
        upcoming = pending[0].at if pending else None
        if enrollment is not None and due is None:
            break  # finished
        if upcoming is None and due is None:
            break  # never entered and nothing more to come
        if upcoming is not None and (due is None or upcoming <= due):
            event = pending.pop(0)
            now = max(now, event.at)
            recorded, _ = event_record(
                merchant=merchant,
                type=event.type,
                customer=customer,
                payload=event.payload,
                occurred_at=event.at,
                now=now,
            )
            # only this journey: the customer's real enrollments elsewhere are not touched
            created = journeys_handle_event(event=recorded, now=now, only_journey=journey.pk)
            if enrollment is None:
                enrollment = next((e for e in created if e.journey_id == journey.pk), None)
            continue
        now = max(now, due)
        if now - start > HORIZON:
            break
        locked = (
            Enrollment.unscoped.select_for_update().select_related("version").get(pk=enrollment.pk)
        )
        woken = {locked.pk: "timeout"} if locked.state == EnrollmentState.WAITING else {}
        enrollments_advance(merchant=merchant, enrollments=[locked], now=now, woken=woken)
    return _report(enrollment, plan)


def _refresh(enrollment: Enrollment | None) -> Enrollment | None:
    if enrollment is None:
        return None
    return Enrollment.unscoped.select_related("version").get(pk=enrollment.pk)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _report(enrollment: Enrollment | None, plan: schema.Definition) -> dict[str, Any]:
    if enrollment is None:
        return {
            "entered": False,
            "reason": "The events did not enter the customer (trigger, conditions or entry rules).",
            "timeline": [],
            "end": {"state": "", "reason": "", "at": None},
        }
    timeline = []
    rows = (
        JourneyStepLog.unscoped.filter(enrollment=enrollment)
        .select_related("message", "message__template")
        .order_by("occurred_at", "id")
    )
    for row in rows:
        message = row.message
        timeline.append(
            {
                "at": _iso(row.occurred_at),
                "step_id": row.step_id,
                "step_type": row.step_type,
                "outcome": row.outcome,
                # an entry's or goal's event was the simulation's own, gone with it: its type only
                "detail": row.detail.split(" #")[0]
                if row.step_type in ("entry", "goal")
                else row.detail,
                "message": None
                if message is None
                else {
                    "template": message.template.key if message.template else "",
                    "channel": message.channel,
                    "status": message.status,
                    "reason": message.reason,
                    # why it failed or waits: a render error names the part, line and variable
                    "detail": message.detail,
                    "deferred_until": _iso(message.deferred_until),
                },
            }
        )
    open_ = enrollment.state in OPEN_STATES
    return {
        "entered": True,
        "reason": "held out: messages are not sent" if enrollment.holdout else "",
        "timeline": timeline,
        "end": {
            "state": enrollment.state,
            "reason": enrollment.exit_reason
            or ("still waiting after the simulated period" if open_ else ""),
            "at": _iso(enrollment.finished_at),
        },
    }
