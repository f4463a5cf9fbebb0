"""Reads about journeys that are more than one filter: what publishing a draft would start now.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from journeys import schema
from journeys.conditions import all_hold
from journeys.engine import customer_facts, order_facts
from journeys.links import Need
from journeys.models import OPEN_STATES, Enrollment, Journey
from journeys.scheduled import candidates, merchant_zone
from journeys.services import CONSUMER_NAME, journey_needs
from orders.models import Customer, Order
from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.validation import parse_payload

WAITS = (schema.DelayStep, schema.WaitStep)


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
    orders only when a condition reads the order)."""
    conditions = plan.trigger.conditions
    if not conditions:
        return found
    ids = {candidate.customer_id for candidate in found}
    customers = {
        c.pk: customer_facts(c)
        for c in Customer.unscoped.filter(merchant_id=journey.merchant_id, pk__in=ids)
    }
    orders = {}
    if any(condition.path.startswith("order.") for condition in conditions):
        order_ids = {c.payload.get("order_id") for c in found}
        order_ids = {pk for pk in order_ids if isinstance(pk, int)}
        for order in Order.unscoped.filter(merchant_id=journey.merchant_id, pk__in=order_ids):
            orders[order.pk] = order_facts(order)
    kept = []
    for candidate in found:
        facts = {
            "event": candidate.payload,
            "customer": customers.get(candidate.customer_id, {}),
            "order": orders.get(candidate.payload.get("order_id"), {}),
        }
        if candidate.customer_id in customers and all_hold(conditions, facts):
            kept.append(candidate)
    return kept
