"""Journeys: drafting and publishing, entering customers from events, exits, goals, waking
waits, and the scheduler's tick.

- ``journey_save`` checks a definition whole (``journeys.schema``) and keeps it as the draft;
  ``journey_publish`` freezes the draft into version n + 1 (its templates must exist) and makes
  it live: new enrollments use it, running ones keep their version.
- ``journeys_on_event`` is the event log's consumer (``journeys.engine``, every event type): in
  the consumer's transaction, once per event, it ends the customer's enrollments the event
  exits, records goals, wakes enrollments waiting for it, and enters the customer in every live
  journey it triggers (conditions and entry rules checked), advancing each at once.
- ``journeys_tick`` is the scheduler: it claims due enrollments with ``SELECT … FOR UPDATE SKIP
  LOCKED`` in batches and advances each to its next wait, one transaction per batch, so two
  schedulers never take the same enrollment and a crash loses no step (the batch rolls back and
  is found again).
"""

from __future__ import annotations

import re
import time as clock_time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from journeys import schema
from journeys.conditions import all_hold, equal
from journeys.engine import bucket, definition, enrollments_advance, revenue_of
from journeys.errors import JourneysErrorCode
from journeys.facts import Subject, facts
from journeys.links import Need, needs_of
from journeys.models import (
    OPEN_STATES,
    Enrollment,
    EnrollmentState,
    Journey,
    JourneyStatus,
    JourneyStepLog,
    JourneyVersion,
)
from notifications.models import MessageTemplate, MessageTemplateVariant
from orders.events import ORDER_PLACED
from orders.models import Customer, Order
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import parse_payload

CONSUMER_NAME = "journeys.engine"
SOURCE_FIELDS = ("subject", "preheader", "html_body", "text_body", "sms_body")
MAX_GOAL_WINDOW = timedelta(hours=24 * 366)  # the schema's longest goal window
TICK_BUDGET = timedelta(seconds=20)


# --- drafting and publishing -----------------------------------------------------------------


def journey_save(
    *,
    merchant: Merchant,
    key: str,
    name: str,
    definition: dict[str, Any],
    description: str = "",
    journey: Journey | None = None,
    now: datetime | None = None,
) -> Journey:
    """Create a journey, or replace the draft of ``journey`` (a live one keeps running its
    published version until the draft is published)."""
    parse_payload(schema.Definition, definition)
    if not isinstance(key, str) or len(key) > 100 or not re.fullmatch(schema.KEY, key):
        message = "A key of lowercase letters, digits, - and _ (at most 100)."
        raise DomainError(JourneysErrorCode.INVALID, message, field="key")
    if not name.strip() or len(name) > 200:
        raise DomainError(JourneysErrorCode.INVALID, "A name of 1 to 200 characters.", field="name")
    now = now or timezone.now()
    try:
        with transaction.atomic():
            if journey is None:
                journey = Journey(merchant=merchant, created_at=now)
            else:  # only the draft's fields: a publish or a pause meanwhile is kept
                journey = Journey.unscoped.select_for_update().get(merchant=merchant, pk=journey.pk)
            journey.key, journey.name, journey.description = key, name.strip(), description
            journey.draft, journey.updated_at = definition, now
            if journey.pk is None:
                journey.save()
            else:
                journey.save(update_fields=["key", "name", "description", "draft", "updated_at"])
    except IntegrityError:
        raise DomainError(
            JourneysErrorCode.KEY_TAKEN, f"Another journey has key {key!r}.", field="key"
        ) from None
    return journey


def journey_publish(*, journey: Journey, by=None, now: datetime | None = None) -> JourneyVersion:
    """Freeze the draft into a new version and make it live."""
    plan = parse_payload(schema.Definition, journey.draft)
    keys = {s.template for s in plan.steps if isinstance(s, schema.SendStep)}
    keys |= {s.fallback_template for s in plan.steps if getattr(s, "fallback_template", None)}
    found = set(
        MessageTemplate.unscoped.filter(
            merchant_id=journey.merchant_id, key__in=keys, current_version__isnull=False
        ).values_list("key", flat=True)
    )
    if keys - found:
        missing = ", ".join(sorted(keys - found))
        raise DomainError(
            JourneysErrorCode.UNKNOWN_TEMPLATE,
            f"No such message template: {missing}.",
            field="steps",
        )
    needs = journey_needs(merchant_id=journey.merchant_id, keys=keys)
    if needs:
        raise DomainError(JourneysErrorCode.FEATURE_MISSING, needs_message(needs), field="steps")
    now = now or timezone.now()
    with transaction.atomic():
        journey = Journey.unscoped.select_for_update().get(pk=journey.pk)
        last = journey.versions.aggregate(n=Max("number"))["n"] or 0
        version = JourneyVersion.unscoped.create(
            merchant_id=journey.merchant_id,
            journey=journey,
            number=last + 1,
            definition=plan.model_dump(mode="json", by_alias=True),
            trigger_type=plan.trigger.type,
            trigger_event=plan.trigger.event or "",
            goal_event=plan.goal.event if plan.goal else "",
            published_at=now,
            published_by=by,
        )
        journey.live_version, journey.status, journey.updated_at = version, JourneyStatus.LIVE, now
        journey.save(update_fields=["live_version", "status", "updated_at"])
    return version


def template_sources(*, merchant_id: int, keys: set[str]) -> dict[str, list[str]]:
    """The Jinja2 sources of the current versions of the merchant's templates ``keys``."""
    rows = MessageTemplateVariant.unscoped.filter(
        merchant_id=merchant_id,
        version__template__key__in=keys,
        version__template__current_version=F("version"),
    ).values_list("version__template__key", *SOURCE_FIELDS)
    sources: dict[str, list[str]] = defaultdict(list)
    for key, *parts in rows:
        sources[key].extend(parts)
    return dict(sources)


def journey_needs(*, merchant_id: int, keys: set[str]) -> list[Need]:
    """The features the templates ``keys`` need that do not exist yet (``journeys.links``)."""
    return needs_of(template_sources(merchant_id=merchant_id, keys=keys))


def needs_message(needs: list[Need]) -> str:
    """``Needs Feedback: review_request uses survey_url, which comes with Feedback.``"""
    parts = []
    for need in needs:
        names = " and ".join(need.templates)
        verb = "uses" if len(need.templates) == 1 else "use"
        parts.append(f"{names} {verb} {need.link}, which comes with {need.feature}")
    features = " and ".join(dict.fromkeys(need.feature for need in needs))
    return f"Needs {features}: {'; '.join(parts)}. It can be published once that exists."


def journey_set_status(*, journey: Journey, status: str, now: datetime | None = None) -> Journey:
    """Pause (enrollments hold where they are), resume, or archive (open enrollments exit)."""
    if status not in (JourneyStatus.LIVE, JourneyStatus.PAUSED, JourneyStatus.ARCHIVED):
        raise DomainError(JourneysErrorCode.INVALID, "Live, paused or archived.", field="status")
    if status == JourneyStatus.LIVE and journey.live_version_id is None:
        raise DomainError(
            JourneysErrorCode.NOT_PUBLISHED, "Publish the journey first.", field="status"
        )
    now = now or timezone.now()
    with transaction.atomic():
        journey = Journey.unscoped.select_for_update().get(pk=journey.pk)
        journey.status, journey.updated_at = status, now
        journey.save(update_fields=["status", "updated_at"])
        if status == JourneyStatus.ARCHIVED:
            Enrollment.unscoped.filter(journey=journey, state__in=OPEN_STATES).update(
                state=EnrollmentState.EXITED,
                exit_reason="archived",
                finished_at=now,
                next_run_at=None,
                wait_event="",
            )
    return journey


# --- the event consumer ----------------------------------------------------------------------


def journeys_on_event(event: Event) -> None:
    """The handler registered with the event log (``JourneysConfig.ready``)."""
    journeys_handle_event(event=event)


def journeys_handle_event(
    *, event: Event, now: datetime | None = None, only_journey: int | None = None
) -> list[Enrollment]:
    """Exits, goals, waits and entries for one event, in one transaction (the consumer's, when
    the event log calls it). Returns the enrollments it created. ``only_journey`` limits all of
    it to one journey (a simulation touches nothing else). An event recorded as history (the
    demo seed, an import: ``is_history``) does nothing here even if it is handed over: it
    enters no journey, and exits, converts or wakes none."""
    if event.customer_id is None or event.is_history:
        return []
    with transaction.atomic():
        return _handle(event, now or timezone.now(), only_journey)


def _handle(event: Event, now: datetime, only_journey: int | None = None) -> list[Enrollment]:
    merchant = Merchant.objects.get(pk=event.merchant_id)
    opened_rows = Enrollment.unscoped.select_for_update().filter(
        merchant=merchant, customer_id=event.customer_id, state__in=OPEN_STATES
    )
    if only_journey is not None:
        opened_rows = opened_rows.filter(journey_id=only_journey)
    opened = list(opened_rows.select_related("version", "journey").order_by("pk"))
    # The customer's row, after its enrollments (the tick's order): two events for one customer
    # are handled one after the other, so both cannot pass the entry rules at once.
    Customer.unscoped.select_for_update(no_key=True).filter(
        merchant=merchant, pk=event.customer_id
    ).first()
    woken: dict[int, str] = {}
    for enrollment in opened:
        plan = definition(enrollment.version)
        if event.type in plan.exit_events and about_its_order(enrollment.key, event):
            mark_exited(enrollment, f"event:{event.type}", now)
        elif (
            enrollment.state == EnrollmentState.WAITING
            and enrollment.wait_event == event.type
            and enrollment.journey.status == JourneyStatus.LIVE
            and (enrollment.next_run_at is None or event.occurred_at <= enrollment.next_run_at)
            and wait_matches(enrollment.wait_match, event.payload)
        ):
            woken[enrollment.pk] = "event"
    _goals(merchant, event, now, only_journey)
    Enrollment.unscoped.bulk_update(
        [e for e in opened if e.state == EnrollmentState.EXITED],
        ["state", "exit_reason", "finished_at", "next_run_at", "wait_event", "wait_match"],
    )
    enrollments_advance(
        merchant=merchant,
        enrollments=[e for e in opened if e.pk in woken],
        now=now,
        woken=woken,
    )
    created = _enter(merchant, event, now, only_journey)
    enrollments_advance(merchant=merchant, enrollments=created, now=now)
    return created


NEW_ORDER_EVENTS = frozenset({ORDER_PLACED})  # about a new order, never an enrollment's own


def about_its_order(key: str, event: Event) -> bool:
    """Whether ``event`` counts (as an exit or a goal) for the enrollment keyed ``key``. An
    enrollment keyed per order (``order:<id>``) counts only the events about its own order: one
    order's cancellation ends that order's journey, not those of the customer's other orders.
    An event naming no order is about the customer, and a new order's placement is never an
    enrollment's own order (a repeat purchase is the customer's): both count for every key."""
    order_id = event.payload.get("order_id") if isinstance(event.payload, dict) else None
    if not key.startswith("order:") or not isinstance(order_id, int):
        return True
    return event.type in NEW_ORDER_EVENTS or key == f"order:{order_id}"


def too_old(event: Event, plan: schema.Definition, now: datetime) -> bool:
    """An event trigger's event that happened more than the journey's ``max_age_hours`` before
    ``now`` (the engine's clock) is history: imported, backfilled, seeded, or handed over late
    by a backlog. It never enters, whenever it was recorded."""
    return event.occurred_at < now - timedelta(hours=plan.entry.max_age_hours)


def wait_matches(wanted: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Every wanted value in the payload, compared as conditions compare (``311`` is
    ``"311"``); a value the trigger did not have (None) matches nothing."""
    return all(
        value is not None and key in payload and equal(payload[key], value)
        for key, value in wanted.items()
    )


def mark_exited(enrollment: Enrollment, reason: str, now: datetime) -> None:
    enrollment.state, enrollment.exit_reason, enrollment.finished_at = (
        EnrollmentState.EXITED,
        reason,
        now,
    )
    enrollment.next_run_at, enrollment.wait_event, enrollment.wait_match = None, "", {}
    JourneyStepLog.unscoped.create(
        merchant_id=enrollment.merchant_id,
        enrollment=enrollment,
        step_type="exit",
        outcome="exited",
        detail=reason,
        occurred_at=now,
    )


def _goals(merchant: Merchant, event: Event, now: datetime, only_journey=None) -> None:
    """Record a conversion on the customer's enrollments whose goal is this event, within the
    goal's window since entry (holdouts included: that is what lift is measured against)."""
    candidates = (
        Enrollment.unscoped.select_for_update()
        .filter(
            merchant=merchant,
            customer_id=event.customer_id,
            converted_at__isnull=True,
            version__goal_event=event.type,
            entered_at__lte=event.occurred_at,
            entered_at__gte=event.occurred_at - MAX_GOAL_WINDOW,
        )
        .select_related("version")
        .order_by("pk")
    )
    if only_journey is not None:
        candidates = candidates.filter(journey_id=only_journey)
    for enrollment in candidates:
        goal = definition(enrollment.version).goal
        if goal is None or goal.event != event.type or not about_its_order(enrollment.key, event):
            continue
        if event.occurred_at > enrollment.entered_at + timedelta(hours=goal.within_hours):
            continue
        enrollment.converted_at = event.occurred_at
        enrollment.revenue = revenue_of(event.payload)
        enrollment.save(update_fields=["converted_at", "revenue"])
        JourneyStepLog.unscoped.create(
            merchant=merchant,
            enrollment=enrollment,
            step_type="goal",
            outcome="converted",
            detail=f"{event.type} #{event.pk}",
            occurred_at=now,
        )


def _enter(merchant: Merchant, event: Event, now: datetime, only_journey=None) -> list[Enrollment]:
    live = JourneyVersion.unscoped.filter(
        merchant=merchant,
        trigger_event=event.type,
        journey__status=JourneyStatus.LIVE,
        journey__live_version=F("pk"),
    )
    if only_journey is not None:
        live = live.filter(journey_id=only_journey)
    versions = [
        version
        for version in live.select_related("journey").order_by("pk")
        if not too_old(event, definition(version), now)
    ]
    if not versions:
        return []
    customer = Customer.unscoped.filter(merchant=merchant, pk=event.customer_id).first()
    if customer is None:
        return []
    order_id = event.payload.get("order_id")
    order = (
        Order.unscoped.filter(merchant=merchant, pk=order_id).first()
        if isinstance(order_id, int)
        else None
    )
    paths = [c.path for version in versions for c in definition(version).trigger.conditions]
    [found] = facts.gather(merchant=merchant, subjects=[Subject(customer, order)], paths=paths)
    known = {"event": event.payload, **found}
    created = []
    for version in versions:
        plan = definition(version)
        if not all_hold(plan.trigger.conditions, known):
            continue
        enrollment = _enroll(merchant, version, plan, customer, event, order, now)
        if enrollment is not None:
            created.append(enrollment)
    return created


def _enroll(merchant, version, plan, customer, event, order, now) -> Enrollment | None:
    """Enter ``customer`` on ``event`` if the entry rules allow it; ``None`` otherwise."""
    key, context = entry_of(event, plan, order)
    return enroll(
        merchant=merchant,
        version=version,
        plan=plan,
        customer=customer,
        key=key,
        context=context,
        now=now,
        detail=f"{event.type} #{event.pk}",
    )


def entry_of(event: Event, plan: schema.Definition, order: Order | None) -> tuple[str, dict]:
    """The key and the context of an enrollment entered on ``event``: keyed by its order when the
    journey enters once per order and the event names one, else by the customer."""
    order_id = event.payload.get("order_id")
    per_order = plan.entry.per == "order" and isinstance(order_id, int)
    context: dict[str, Any] = {"event": event.payload, "event_id": event.pk}
    if order is not None:
        context["order_id"] = order.pk
    if isinstance(event.payload.get("shipment_id"), int):
        context["shipment_id"] = event.payload["shipment_id"]
    return (f"order:{order_id}" if per_order else "customer"), context


def entry_allowed(
    entry: schema.Entry,
    key: str,
    past: list[tuple[str, str, datetime]],
    now: datetime,
    once_per_key: bool = False,
) -> bool:
    """Whether the entry rules let a customer in under ``key``, given the ``(key, state,
    entered_at)`` of every enrollment the customer ever had in the journey: one open at a time
    (per order, for a journey entered per order), re-entry never or after a cooldown, at most
    ``max_entries`` in all, and (``once_per_key``) never twice under one key."""
    keyed = [row for row in past if row[0] == key]
    if once_per_key and keyed:
        return False
    counted = keyed if entry.per == "order" and key.startswith("order:") else past
    if any(state in OPEN_STATES for _, state, _ in counted):
        return False
    if counted:
        if entry.reentry == "never":
            return False
        last = max(entered_at for _, _, entered_at in counted)
        if entry.reentry == "after" and last + timedelta(hours=entry.cooldown_hours) > now:
            return False
    return entry.max_entries is None or len(past) < entry.max_entries


def enroll(
    *,
    merchant: Merchant,
    version: JourneyVersion,
    plan: schema.Definition,
    customer: Customer,
    key: str,
    context: dict[str, Any],
    now: datetime,
    detail: str,
    first_run_at: datetime | None = None,
    once_per_key: bool = False,
) -> Enrollment | None:
    """A new enrollment under ``key`` if the entry rules allow it (and, ``once_per_key``, if
    none ever had that key: a date or an inactivity period enters once); ``None`` otherwise.
    It runs first at ``first_run_at`` (default: now)."""
    past = list(
        Enrollment.unscoped.filter(journey=version.journey, customer=customer).values_list(
            "key", "state", "entered_at"
        )
    )
    if not entry_allowed(plan.entry, key, past, now, once_per_key=once_per_key):
        return None
    enrollment = Enrollment(
        merchant=merchant,
        journey=version.journey,
        version=version,
        customer=customer,
        key=key,
        state=EnrollmentState.ACTIVE,
        current_step=plan.start,
        next_run_at=first_run_at or now,
        context=context,
        entered_at=now,
    )
    try:
        with transaction.atomic():
            enrollment.save(force_insert=True)
    except IntegrityError:
        return None  # entered at the same moment by another event: one open per key
    enrollment.holdout = bucket(enrollment.pk, "holdout") < plan.holdout_percent * 100
    if enrollment.holdout:
        Enrollment.unscoped.filter(pk=enrollment.pk).update(holdout=True)
    JourneyStepLog.unscoped.create(
        merchant=merchant,
        enrollment=enrollment,
        step_type="entry",
        outcome="held_out" if enrollment.holdout else "entered",
        detail=detail,
        occurred_at=now,
    )
    return enrollment


# --- the scheduler ---------------------------------------------------------------------------


def journeys_tick(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    budget: timedelta = TICK_BUDGET,
    clock: Callable[[], float] = clock_time.monotonic,
) -> int:
    """Advance every due enrollment of a live journey, a batch at a time, until none is due or
    ``budget`` is spent (the next tick goes on). Returns how many were advanced."""
    now = now or timezone.now()
    batch_size = batch_size or settings.JOURNEYS_TICK_BATCH
    stop_at = clock() + budget.total_seconds()
    advanced = 0
    while True:
        taken = _tick_batch(now=now, batch_size=batch_size)
        advanced += taken
        if taken < batch_size or clock() >= stop_at:
            return advanced


def _tick_batch(*, now: datetime, batch_size: int) -> int:
    with transaction.atomic():
        due = list(
            Enrollment.unscoped.select_for_update(skip_locked=True, of=("self",))
            .filter(
                state__in=OPEN_STATES,
                next_run_at__lte=now,
                journey__status=JourneyStatus.LIVE,
                merchant__is_active=True,
            )
            .order_by("next_run_at", "pk")[:batch_size]
        )
        # each version read once, not once per row (its definition is the biggest column)
        versions = JourneyVersion.unscoped.in_bulk({e.version_id for e in due})
        for enrollment in due:
            enrollment.version = versions[enrollment.version_id]
        by_merchant: dict[int, list[Enrollment]] = defaultdict(list)
        for enrollment in due:
            by_merchant[enrollment.merchant_id].append(enrollment)
        for merchant_id, enrollments in sorted(by_merchant.items()):  # one lock order
            merchant = Merchant.objects.get(pk=merchant_id)
            woken = {e.pk: "timeout" for e in enrollments if e.state == EnrollmentState.WAITING}
            enrollments_advance(merchant=merchant, enrollments=enrollments, now=now, woken=woken)
    return len(due)
