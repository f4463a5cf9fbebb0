"""Reads about journeys that are more than one filter, used by the API, the dashboard and (to
come) analytics alike: enrollments counted (per journey, per step, per A/B branch), whether a
draft differs from the live version, and what publishing a draft would start now.

Every count is an aggregate query: one for any number of journeys' enrollment counts, two for a
journey's per-step counts, one per split step, whatever the number of enrollments. ``COUNTED``
says once what each count counts; the API's list and the dashboard's read the same numbers.

``journey_publish_preview`` answers the publish confirmation: how many customers would enter at
once and how many messages that means, so a merchant never mails a year of orders by surprise.

- An event trigger: the events of its type within the draft's maximum age that the journeys
  consumer has not handled yet (a backlog, events recorded in the last moments): those are the
  ones publishing lets in. Events it has already handled never enter later. For scale it also
  counts every such event within the maximum age (what a day of this trigger looks like).
- A date or inactivity trigger: the customers the next hourly run enters (today's dates, the
  inactivity period ending today).

Both apply the draft's conditions and entry rules to what is already there (the journey's past
enrollments, and the earlier candidates of the same preview), reading rows in a few set-based
queries, never one per customer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from pydantic import ValidationError

from journeys import schema
from journeys.conditions import all_hold
from journeys.facts import Subject, facts
from journeys.links import Need
from journeys.models import OPEN_STATES, Enrollment, EnrollmentState, Journey, JourneyStepLog
from journeys.scheduled import candidates, merchant_zone
from journeys.services import CONSUMER_NAME, journey_needs
from orders.models import Customer, Order
from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.validation import parse_payload

WAITS = (schema.DelayStep, schema.WaitStep)
STATES = [state.value for state in EnrollmentState]
# name → the enrollments it counts (in progress: active or waiting for an event)
COUNTED: dict[str, Q] = {
    "entered": Q(),
    **{state: Q(state=state) for state in STATES},
    "in_progress": Q(state__in=OPEN_STATES),
    "converted": Q(converted_at__isnull=False),
    "holdout": Q(holdout=True),
}


# --- counts ----------------------------------------------------------------------------------


def enrollment_counts(*, journey_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per journey (of those that have any): its enrollments, of every version, for each name
    of ``COUNTED`` (one query)."""
    rows = (
        Enrollment.objects.filter(journey_id__in=list(journey_ids))
        .values("journey_id")
        .annotate(**{name: Count("id", filter=q) for name, q in COUNTED.items()})
        .order_by()
    )
    return {row.pop("journey_id"): row for row in rows}


def no_enrollments() -> dict[str, int]:
    """The counts of a journey no one has entered."""
    return dict.fromkeys(COUNTED, 0)


def journey_counts(*, journey: Journey) -> dict[str, int]:
    """One journey's enrollments for each name of ``COUNTED``."""
    return enrollment_counts(journey_ids=[journey.pk]).get(journey.pk) or no_enrollments()


def journeys_with_counts(*, journeys: QuerySet[Journey]) -> QuerySet[Journey]:
    """``journeys`` with their live version, each with ``<name>_count`` for every name of
    ``COUNTED``: one query, a join to the enrollments grouped by journey (a list page)."""
    counts = {}
    for name, q in COUNTED.items():
        through = {f"enrollments__{key}": value for key, value in q.children}
        counts[f"{name}_count"] = Count("enrollments", filter=Q(**through) if through else None)
    return journeys.select_related("live_version").annotate(**counts)


def journey_step_counts(*, journey: Journey) -> dict[str, dict[str, Any]]:
    """Per step of the live version, in the definition's order: how many of the version's
    enrollments took it and how often each outcome was logged there (two queries)."""
    version = journey.live_version
    if version is None:
        return {}
    found: dict[str, dict[str, Any]] = {
        step["id"]: {"entered": 0, "outcomes": {}} for step in version.definition["steps"]
    }
    logs = JourneyStepLog.objects.filter(enrollment__version_id=version.pk).exclude(step_id="")
    took = logs.values("step_id").annotate(n=Count("enrollment_id", distinct=True)).order_by()
    for row in took:
        found.setdefault(row["step_id"], {"entered": 0, "outcomes": {}})["entered"] = row["n"]
    outcomes = (
        logs.values("step_id", "outcome").annotate(n=Count("id")).order_by("step_id", "outcome")
    )
    for row in outcomes:
        found[row["step_id"]]["outcomes"][row["outcome"]] = row["n"]
    return found


def journey_split_results(*, journey: Journey) -> dict[str, list[dict[str, Any]]]:
    """Per A/B split step of the live version: each branch's enrollments, conversions and
    revenue (one query per split step)."""
    version = journey.live_version
    if version is None:
        return {}
    found: dict[str, list[dict[str, Any]]] = {}
    for step in version.definition["steps"]:
        if step.get("type") != "split":
            continue
        rows = {
            row["branch"]: row
            for row in Enrollment.objects.filter(version_id=version.pk)
            .annotate(branch=KeyTransform(step["id"], "assignments"))
            .exclude(branch=None)
            .values("branch")
            .annotate(
                entered=Count("id"),
                converted=Count("id", filter=Q(converted_at__isnull=False)),
                revenue=Sum("revenue"),
            )
            .order_by()
        }
        found[step["id"]] = [
            {
                "branch": index,
                "name": branch.get("name", ""),
                "weight": branch["weight"],
                "entered": rows.get(index, {}).get("entered", 0),
                "converted": rows.get(index, {}).get("converted", 0),
                "revenue": str(rows.get(index, {}).get("revenue") or "0"),
            }
            for index, branch in enumerate(step["branches"])
        ]
    return found


def journey_draft_changed(*, journey: Journey) -> bool:
    """Whether publishing the draft would make a version unlike the live one (compared as
    publishing stores it: validated, with its defaults filled in), or nothing is published."""
    if journey.live_version is None:
        return True
    try:
        draft = schema.Definition.model_validate(journey.draft)
    except ValidationError:
        return True
    # compared parsed: a version stored before a field was added reads with its default
    return draft != schema.stored_definition(journey.live_version.definition)


# --- the publish preview ---------------------------------------------------------------------


@dataclass
class PublishPreview:
    """What publishing the draft would start now."""

    trigger_type: str
    customers: int = 0  # customers who would enter at once
    entries: int = 0  # enrollments (per order: one customer may enter for two orders)
    messages_at_once: int = 0  # at most: sent before the first wait
    messages: int = 0  # at most, along the longest way through the steps
    recent_events: int = 0  # an event trigger's events within the maximum age, handled or not
    max_age_hours: int = schema.MAX_AGE_HOURS
    needs: list[Need] = field(default_factory=list)


@dataclass
class _Candidate:
    customer_id: int
    key: str
    payload: dict


def sends_per_entry(plan: schema.Definition) -> tuple[int, int]:
    """The most messages one enrollment can be sent before its first wait, and in all (the
    longest way through the steps; a fallback replaces its send, so it is not counted)."""
    steps = plan.by_id()

    def most(step_id: str, stop_at_wait: bool) -> int:
        step = steps.get(step_id)
        if step is None or (stop_at_wait and isinstance(step, WAITS)):
            return 0
        own = 1 if isinstance(step, schema.SendStep) else 0
        following = [most(target, stop_at_wait) for target in schema.targets(step)]
        return own + max(following, default=0)

    return most(plan.start, True), most(plan.start, False)


def journey_publish_preview(*, journey: Journey, now: datetime | None = None) -> PublishPreview:
    """How many customers publishing ``journey``'s draft would enter now, and the messages."""
    now = now or timezone.now()
    plan = parse_payload(schema.Definition, journey.draft)
    preview = PublishPreview(trigger_type=plan.trigger.type, max_age_hours=plan.entry.max_age_hours)
    sent = {s.template for s in plan.steps if isinstance(s, schema.SendStep)}
    preview.needs = journey_needs(merchant_id=journey.merchant_id, keys=sent)
    if plan.trigger.type == "event":
        found = _event_candidates(journey, plan, now, preview)
    else:
        found = _scheduled_candidates(journey, plan, now)
    entering = _admitted(journey, plan, found, now)
    at_once, in_all = sends_per_entry(plan)
    preview.entries = len(entering)
    preview.customers = len({candidate.customer_id for candidate in entering})
    preview.messages_at_once, preview.messages = len(entering) * at_once, len(entering) * in_all
    return preview


def _event_candidates(journey, plan, now, preview) -> list[_Candidate]:
    """The trigger's events within the maximum age, and those the journeys consumer has not
    handled yet (oldest first, as the dispatch takes them)."""
    since = now - timedelta(hours=plan.entry.max_age_hours)
    recent = Event.unscoped.filter(
        merchant_id=journey.merchant_id,
        type=plan.trigger.event,
        customer__isnull=False,
        occurred_at__gte=since,
        occurred_at__lte=now,
    )
    preview.recent_events = recent.count()
    handled = EventConsumerRun.objects.filter(
        event=OuterRef("pk"),
        consumer=CONSUMER_NAME,
        status__in=[ConsumerRunStatus.DONE, ConsumerRunStatus.GAVE_UP],
    )
    pending = recent.filter(dispatched_at__isnull=True).exclude(Exists(handled))
    rows = pending.order_by("occurred_at", "pk").values_list("customer_id", "payload")
    per_order = plan.entry.per == "order"
    found = []
    for customer_id, payload in rows:
        order_id = payload.get("order_id") if isinstance(payload, dict) else None
        key = f"order:{order_id}" if per_order and isinstance(order_id, int) else "customer"
        found.append(_Candidate(customer_id, key, payload or {}))
    return found


def _scheduled_candidates(journey, plan, now) -> list[_Candidate]:
    """The customers the next hourly run enters, keyed as it keys them, less those it entered
    under that key already."""
    today = now.astimezone(merchant_zone(journey.merchant)).date()
    found, key_of = candidates(plan.trigger, journey.merchant, today)
    customers = found if isinstance(found, list) else list(found.order_by("pk"))
    keyed = [(customer.pk, key_of(customer)) for customer in customers]
    entered = set(
        Enrollment.unscoped.filter(
            journey=journey,
            customer_id__in=[pk for pk, _ in keyed],
            key__in={key for _, key in keyed},
        ).values_list("customer_id", "key")
    )
    return [_Candidate(pk, key, {}) for pk, key in keyed if (pk, key) not in entered]


def _admitted(journey, plan, found: list[_Candidate], now) -> list[_Candidate]:
    """The candidates the conditions and entry rules let in, in order, as the engine would."""
    if not found:
        return []
    found = _meeting_conditions(journey, plan, found)
    history = _history(journey, {candidate.customer_id for candidate in found})
    ends_at_once = not any(isinstance(step, WAITS) for step in plan.steps)
    entry, admitted = plan.entry, []
    for candidate in found:
        mine = history[candidate.customer_id]
        scope = mine[candidate.key] if candidate.key.startswith("order:") else mine["*"]
        if scope["open"] or (scope["n"] and entry.reentry == "never"):
            continue
        cooldown = timedelta(hours=entry.cooldown_hours)
        if scope["n"] and entry.reentry == "after" and scope["last"] + cooldown > now:
            continue
        if entry.max_entries is not None and mine["*"]["n"] >= entry.max_entries:
            continue
        admitted.append(candidate)
        for record in (scope, mine["*"]) if scope is not mine["*"] else (scope,):
            record["n"] += 1
            record["last"] = now
            record["open"] += 0 if ends_at_once else 1
    return admitted


def _history(journey, customer_ids: set[int]):
    """Per customer: their enrollments in the journey, under ``"*"`` and per key (how many, how
    many open, the last entry): one grouped query."""
    history = defaultdict(lambda: defaultdict(lambda: {"n": 0, "open": 0, "last": None}))
    rows = (
        Enrollment.unscoped.filter(journey=journey, customer_id__in=customer_ids)
        .values("customer_id", "key")
        .annotate(n=Count("id"), open=Count("id", filter=Q(state__in=OPEN_STATES)))
        .annotate(last=Max("entered_at"))
        .order_by()
    )
    for row in rows:
        for record in (history[row["customer_id"]][row["key"]], history[row["customer_id"]]["*"]):
            record["n"] += row["n"]
            record["open"] += row["open"]
            if record["last"] is None or row["last"] > record["last"]:
                record["last"] = row["last"]
    return history


def _meeting_conditions(journey, plan, found: list[_Candidate]) -> list[_Candidate]:
    """The candidates whose facts meet the trigger's conditions (customers read in one query,
    orders only when a condition reads the order, each provider asked once for them all)."""
    conditions = plan.trigger.conditions
    if not conditions:
        return found
    paths = [condition.path for condition in conditions]
    ids = {candidate.customer_id for candidate in found}
    customers = Customer.unscoped.filter(merchant_id=journey.merchant_id, pk__in=ids).in_bulk()
    orders = {}
    if any(provider.about == "order" for provider in facts.needed(paths)):
        order_ids = {c.payload.get("order_id") for c in found}
        order_ids = {pk for pk in order_ids if isinstance(pk, int)}
        orders = Order.unscoped.filter(merchant_id=journey.merchant_id, pk__in=order_ids).in_bulk()
    known = [c for c in found if c.customer_id in customers]
    subjects = [Subject(customers[c.customer_id], _order_of(c, orders)) for c in known]
    gathered = facts.gather(merchant=journey.merchant, subjects=subjects, paths=paths)
    return [
        candidate
        for candidate, facts_of in zip(known, gathered, strict=True)
        if all_hold(conditions, {"event": candidate.payload, **facts_of})
    ]


def _order_of(candidate: _Candidate, orders: dict[int, Order]) -> Order | None:
    order_id = candidate.payload.get("order_id")
    return orders.get(order_id) if isinstance(order_id, int) else None
