"""The journeys consumer for a batch of events: what ``journeys_handle_event`` does for one event,
done for many with a few statements per batch instead of a dozen per event.

The batch is the event log's (``postpurchase.events.dispatch.events_dispatch``): one merchant's
events, in the order they were recorded, in the consumer's transaction. It locks the open
enrollments of every customer in the batch, then those customers (the order the tick and the
one-event path lock in), and works through the batch in *rounds*: a round holds at most one event
per customer, the customer's next, so every customer's events are taken in their order, and
within a round customers are independent (a journey's entry rules, exits, goals and waits are
each about one customer). Each round:

1. ends the enrollments its events exit and wakes those waiting for them (one ``UPDATE`` for the
   exits, one engine run for the woken);
2. records goals, from one query for all the round's customers;
3. enters customers in the live journeys their events trigger: the versions read once per batch,
   the facts the trigger conditions read gathered for all the round's subjects at once, the entry
   rules checked against one query of past enrollments, the new enrollments inserted in one
   statement, and advanced together (``journeys.engine.enrollments_advance``: their first messages
   written in one outbox batch, handed to the channels in one task).

If anything raises, the event log rolls the batch back and hands each event to
``journeys_handle_event`` alone, so a bad event costs only itself.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from journeys.conditions import all_hold
from journeys.engine import bucket, definition, enrollments_advance, revenue_of
from journeys.facts import Subject, facts
from journeys.models import (
    OPEN_STATES,
    Enrollment,
    EnrollmentState,
    JourneyStatus,
    JourneyStepLog,
    JourneyVersion,
)
from journeys.services import (
    MAX_GOAL_WINDOW,
    about_its_order,
    entry_allowed,
    entry_of,
    mark_exited,
    too_old,
    wait_matches,
)
from orders.models import Customer, Order
from postpurchase.events.models import Event
from postpurchase.tenancy.models import Merchant


def journeys_on_events(events: list[Event]) -> None:
    """The batch handler registered with the event log (``JourneysConfig.ready``)."""
    journeys_handle_events(events=events)


def journeys_handle_events(*, events: list[Event], now: datetime | None = None) -> list[Enrollment]:
    """Exits, goals, waits and entries for a batch of events, in one transaction, with the same
    outcome as ``journeys_handle_event`` for each in turn. Returns the enrollments it created."""
    now = now or timezone.now()
    taken = [e for e in events if e.customer_id is not None and not e.is_history]
    by_merchant: dict[int, list[Event]] = defaultdict(list)
    for event in sorted(taken, key=lambda e: e.pk):
        by_merchant[event.merchant_id].append(event)
    created: list[Enrollment] = []
    with transaction.atomic():
        for merchant_id, batch in sorted(by_merchant.items()):
            merchant = Merchant.objects.get(pk=merchant_id)
            created.extend(Batch(merchant, batch, now).run())
    return created


def rounds(events: list[Event]) -> list[list[Event]]:
    """The events in rounds: the n-th round holds each customer's n-th event, in order."""
    taken: list[list[Event]] = []
    seen: dict[int, int] = defaultdict(int)
    for event in events:
        n = seen[event.customer_id]
        seen[event.customer_id] += 1
        if n == len(taken):
            taken.append([])
        taken[n].append(event)
    return taken


class Batch:
    """One merchant's events: what the rounds share (locked enrollments, live versions)."""

    def __init__(self, merchant: Merchant, events: list[Event], now: datetime) -> None:
        self.merchant, self.events, self.now = merchant, events, now
        self.customer_ids = sorted({e.customer_id for e in events})
        self.open: dict[int, list[Enrollment]] = defaultdict(list)

    def run(self) -> list[Enrollment]:
        opened = (
            Enrollment.unscoped.select_for_update()
            .filter(
                merchant=self.merchant, customer_id__in=self.customer_ids, state__in=OPEN_STATES
            )
            .select_related("version", "journey")
            .order_by("pk")
        )
        for enrollment in opened:
            self.open[enrollment.customer_id].append(enrollment)
        # The customers' rows, after their enrollments (the tick's order).
        list(
            Customer.unscoped.select_for_update(no_key=True)
            .filter(merchant=self.merchant, pk__in=self.customer_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        self.live = self._live_versions()
        # The events any version of the merchant's counts as its goal (most batches hold none).
        self.goal_events = set(
            JourneyVersion.unscoped.filter(merchant=self.merchant)
            .exclude(goal_event="")
            .values_list("goal_event", flat=True)
            .distinct()
        )
        created: list[Enrollment] = []
        for round_events in rounds(self.events):
            created.extend(self._round(round_events))
        return created

    def _live_versions(self) -> dict[str, list[JourneyVersion]]:
        """Each trigger event's live versions, read once for the batch."""
        types = {e.type for e in self.events}
        live = (
            JourneyVersion.unscoped.filter(
                merchant=self.merchant,
                trigger_event__in=types,
                journey__status=JourneyStatus.LIVE,
                journey__live_version=F("pk"),
            )
            .select_related("journey")
            .order_by("pk")
        )
        by_type: dict[str, list[JourneyVersion]] = defaultdict(list)
        for version in live:
            by_type[version.trigger_event].append(version)
        return by_type

    def _round(self, events: list[Event]) -> list[Enrollment]:
        woken: dict[int, str] = {}
        exited: list[Enrollment] = []
        wakes: list[Enrollment] = []
        for event in events:
            for enrollment in self.open[event.customer_id]:
                if enrollment.state not in OPEN_STATES:
                    continue
                plan = definition(enrollment.version)
                if event.type in plan.exit_events and about_its_order(enrollment.key, event):
                    mark_exited(enrollment, f"event:{event.type}", self.now)
                    exited.append(enrollment)
                elif (
                    enrollment.state == EnrollmentState.WAITING
                    and enrollment.wait_event == event.type
                    and enrollment.journey.status == JourneyStatus.LIVE
                    and (
                        enrollment.next_run_at is None
                        or event.occurred_at <= enrollment.next_run_at
                    )
                    and wait_matches(enrollment.wait_match, event.payload)
                ):
                    woken[enrollment.pk] = "event"
                    wakes.append(enrollment)
        self._goals(events)
        Enrollment.unscoped.bulk_update(
            exited,
            ["state", "exit_reason", "finished_at", "next_run_at", "wait_event", "wait_match"],
        )
        wakes = [e for e in wakes if e.state == EnrollmentState.WAITING]
        enrollments_advance(merchant=self.merchant, enrollments=wakes, now=self.now, woken=woken)
        created = self._enter(events)
        enrollments_advance(merchant=self.merchant, enrollments=created, now=self.now)
        for enrollment in created:
            self.open[enrollment.customer_id].append(enrollment)
        return created

    def _goals(self, events: list[Event]) -> None:
        """A conversion on each enrollment of the round's customers whose goal is its event,
        within the goal's window since entry (``journeys.services._goals``, for a round)."""
        events = [e for e in events if e.type in self.goal_events]
        if not events:
            return
        earliest = min(e.occurred_at for e in events)
        candidates = (
            Enrollment.unscoped.select_for_update()
            .filter(
                merchant=self.merchant,
                customer_id__in=sorted({e.customer_id for e in events}),
                converted_at__isnull=True,
                version__goal_event__in={e.type for e in events},
                entered_at__gte=earliest - MAX_GOAL_WINDOW,
            )
            .select_related("version")
            .order_by("pk")
        )
        by_customer: dict[int, list[Enrollment]] = defaultdict(list)
        for enrollment in candidates:
            by_customer[enrollment.customer_id].append(enrollment)
        if not by_customer:
            return
        converted, logs = [], []
        for event in events:
            for enrollment in by_customer.get(event.customer_id, ()):
                goal = definition(enrollment.version).goal
                if (
                    goal is None
                    or goal.event != event.type
                    or not about_its_order(enrollment.key, event)
                    or not (
                        event.occurred_at - MAX_GOAL_WINDOW
                        <= enrollment.entered_at
                        <= event.occurred_at
                    )
                    or event.occurred_at
                    > enrollment.entered_at + timedelta(hours=goal.within_hours)
                ):
                    continue
                enrollment.converted_at = event.occurred_at
                enrollment.revenue = revenue_of(event.payload)
                converted.append(enrollment)
                logs.append(self._log(enrollment, "goal", "converted", f"{event.type} #{event.pk}"))
        Enrollment.unscoped.bulk_update(converted, ["converted_at", "revenue"])
        JourneyStepLog.unscoped.bulk_create(logs)

    def _enter(self, events: list[Event]) -> list[Enrollment]:
        """Each event's customer in every live journey it triggers, where the conditions hold
        and the entry rules allow."""
        asked = []
        for event in events:
            versions = [
                v
                for v in self.live.get(event.type, ())
                if not too_old(event, definition(v), self.now)
            ]
            if versions:
                asked.append((event, versions))
        if not asked:
            return []
        customers = Customer.unscoped.filter(merchant=self.merchant).in_bulk(
            [e.customer_id for e, _ in asked]
        )
        asked = [(e, versions) for e, versions in asked if e.customer_id in customers]
        order_ids = {e.payload.get("order_id") for e, _ in asked}
        orders = Order.unscoped.filter(
            merchant=self.merchant, pk__in=[pk for pk in order_ids if isinstance(pk, int)]
        ).in_bulk()
        subjects = [Subject(customers[e.customer_id], _order_of(e, orders)) for e, _ in asked]
        paths = [
            c.path
            for _, versions in asked
            for v in versions
            for c in definition(v).trigger.conditions
        ]
        found = facts.gather(merchant=self.merchant, subjects=subjects, paths=paths)
        entering = []
        for (event, versions), known_facts in zip(asked, found, strict=True):
            known = {"event": event.payload, **known_facts}
            for version in versions:
                plan = definition(version)
                if all_hold(plan.trigger.conditions, known):
                    key, context = entry_of(event, plan, _order_of(event, orders))
                    entering.append((event, version, plan, key, context))
        return self._enroll(entering, customers)

    def _enroll(self, entering: list[tuple], customers: dict[int, Customer]) -> list[Enrollment]:
        """New enrollments for the candidates the entry rules allow (``entry_allowed``, against
        one query of the past enrollments of these journeys and customers), in one insert."""
        if not entering:
            return []
        past: dict[tuple[int, int], list[tuple[str, str, datetime]]] = defaultdict(list)
        rows = Enrollment.unscoped.filter(
            merchant=self.merchant,
            journey_id__in={v.journey_id for _, v, _, _, _ in entering},
            customer_id__in={e.customer_id for e, _, _, _, _ in entering},
        ).values_list("journey_id", "customer_id", "key", "state", "entered_at")
        for journey_id, customer_id, key, state, entered_at in rows:
            past[(journey_id, customer_id)].append((key, state, entered_at))
        fresh, plans, details = [], [], []
        for event, version, plan, key, context in entering:
            history = past[(version.journey_id, event.customer_id)]
            if not entry_allowed(plan.entry, key, history, self.now):
                continue
            history.append((key, EnrollmentState.ACTIVE, self.now))
            fresh.append(
                Enrollment(
                    merchant=self.merchant,
                    journey=version.journey,
                    version=version,
                    customer=customers[event.customer_id],
                    key=key,
                    state=EnrollmentState.ACTIVE,
                    current_step=plan.start,
                    next_run_at=self.now,
                    context=context,
                    entered_at=self.now,
                )
            )
            plans.append(plan)
            details.append(f"{event.type} #{event.pk}")
        if not fresh:
            return []
        Enrollment.unscoped.bulk_create(fresh)
        held = []
        for enrollment, plan in zip(fresh, plans, strict=True):
            enrollment.holdout = bucket(enrollment.pk, "holdout") < plan.holdout_percent * 100
            if enrollment.holdout:
                held.append(enrollment.pk)
        if held:
            Enrollment.unscoped.filter(pk__in=held).update(holdout=True)
        JourneyStepLog.unscoped.bulk_create(
            self._log(e, "entry", "held_out" if e.holdout else "entered", detail)
            for e, detail in zip(fresh, details, strict=True)
        )
        return fresh

    def _log(self, enrollment: Enrollment, step_type: str, outcome: str, detail: str):
        return JourneyStepLog(
            merchant=self.merchant,
            enrollment=enrollment,
            step_type=step_type,
            outcome=outcome,
            detail=detail,
            occurred_at=self.now,
        )


def _order_of(event: Event, orders: dict[int, Order]) -> Order | None:
    order_id = event.payload.get("order_id")
    return orders.get(order_id) if isinstance(order_id, int) else None
