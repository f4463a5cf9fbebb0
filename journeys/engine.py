"""The journey engine: advances enrollments step by step until each reaches its next wait (a
delay, an event to wait for) or its end, in the caller's transaction, with the clock passed in.

Callers lock the enrollments first (the scheduler with ``SELECT … FOR UPDATE SKIP LOCKED``, the
event consumer for one customer), then ``enrollments_advance`` locks their customers in id order
(as ``message_send_batch`` does), runs the steps, sends what the steps send in one outbox batch
(each message keyed ``journey:<enrollment>:<step>:<visit>``, so a re-run sends nothing twice),
writes the step log and saves the enrollments. Nothing waits on a broker timer: a wait is
``next_run_at`` on the row.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection
from django.utils.dateparse import parse_date, parse_datetime

from journeys import schema
from journeys.actions import ActionContext, actions
from journeys.conditions import MISSING, all_hold, resolve
from journeys.facts import Subject, facts
from journeys.links import links
from journeys.models import Enrollment, EnrollmentState, JourneyStepLog
from journeys.variables import registry as feature_variables
from notifications.context import message_context, order_context, shipment_context
from notifications.models import MessageStatus, MessageTemplate
from notifications.outbox import SendRequest, message_send_batch
from orders.models import Customer, Order, Shipment
from orders.selectors import orders_for_messages
from postpurchase.pgbulk import unnest_update
from postpurchase.tenancy.models import Merchant

logger = logging.getLogger(__name__)
MAX_STEPS = 200  # per advance; the schema forbids loops, so this is only a guard
SAVED_FIELDS = [
    "state",
    "current_step",
    "next_run_at",
    "wait_event",
    "wait_match",
    "context",
    "assignments",
    "finished_at",
    "exit_reason",
]
NOT_SENT = {MessageStatus.SUPPRESSED, MessageStatus.FAILED}


@lru_cache(maxsize=1024)
def definition_of(version_id: int, raw: str) -> schema.Definition:
    """A version's definition, parsed once per process (versions never change)."""
    return schema.Definition.model_validate_json(raw, context=schema.STORED)


def definition(version) -> schema.Definition:
    """The parsed definition of ``version`` (an instance keeps it after the first call), read
    as it was stored: a fact or an action unregistered since fails only where it is used."""
    parsed = getattr(version, "_parsed_definition", None)
    if parsed is None:
        raw = json.dumps(version.definition, sort_keys=True)
        parsed = version._parsed_definition = definition_of(version.pk, raw)
    return parsed


def bucket(*parts: Any) -> int:
    """A stable number in 0..9999 from ``parts``: the same enrollment always lands alike."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


def zone_of(customer: Customer, merchant: Merchant) -> ZoneInfo:
    for name in (customer.timezone, merchant.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def date_of(value: Any, zone: ZoneInfo) -> datetime | None:
    """A fact's date or date-time (ISO text, as facts hold them), as an aware moment: a bare
    date at midnight in ``zone``."""
    if not isinstance(value, str) or not value:
        return None
    try:  # a well-formed but impossible date ("2026-02-30") is no date
        moment = parse_datetime(value)
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)
        day = parse_date(value)
    except ValueError:
        return None
    return datetime.combine(day, time(0), zone) if day is not None else None


def delay_until(
    step: schema.DelayStep, now: datetime, zone: ZoneInfo, facts: dict[str, Any] | None = None
) -> datetime:
    """The end of a delay: ``days`` and ``hours`` on (or ``offset_days`` from the ``until``
    date, never before now), then the next ``at`` on an allowed weekday in the customer's zone
    (DST-correct: the wall time is kept)."""
    # days on the customer's calendar (the same wall time across a DST change), hours as hours
    local_days = now.astimezone(zone) + timedelta(days=step.days)
    until = local_days.astimezone(now.tzinfo) + timedelta(hours=step.hours)
    if step.until is not None:
        found = date_of(resolve(facts or {}, step.until), zone)
        try:
            until = max(now, found + timedelta(days=step.offset_days)) if found else now
        except OverflowError:
            until = now
    if step.at is None and not step.weekdays:
        return until
    local = until.astimezone(zone)
    hour, minute = (int(x) for x in (step.at or "00:00").split(":"))
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if step.weekdays and day.weekday() not in step.weekdays:
            continue
        wall = datetime.combine(day, time(hour, minute) if step.at else local.time(), zone)
        if wall >= local:
            return wall
    return until  # pragma: no cover - a week always holds an allowed day


@dataclass
class Pending:
    """A send a step asked for, and what to do with its message."""

    enrollment: Enrollment
    step: schema.SendStep
    key: str
    template: str
    entry: JourneyStepLog | None = None  # the step's log entry, completed once sent
    parent: JourneyStepLog | None = None  # for a fallback: the first template's entry


@dataclass
class Run:
    """One ``enrollments_advance``: what it loaded once and what it will write."""

    merchant: Merchant
    now: datetime
    customers: dict[int, Customer]
    orders: dict[int, Order] = field(default_factory=dict)
    templates: dict[str, MessageTemplate] = field(default_factory=dict)
    sends: list[Pending] = field(default_factory=list)
    logs: list[JourneyStepLog] = field(default_factory=list)
    changed: dict[int, set[str]] = field(default_factory=dict)  # customer → fields an action set
    memos: dict[tuple, Any] = field(default_factory=dict)

    def log(self, enrollment, step_id, step_type, outcome, detail="", message=None):
        entry = JourneyStepLog(
            merchant=self.merchant,
            enrollment=enrollment,
            step_id=step_id,
            step_type=step_type,
            outcome=outcome,
            detail=detail[:2000],
            message=message,
            occurred_at=self.now,
        )
        entry.followups = []  # a fallback send, logged right after its step
        self.logs.append(entry)
        return entry

    def entries(self) -> list[JourneyStepLog]:
        """The log in the order things happened (a send's outcome at its step's place)."""
        ordered = []
        for entry in self.logs:
            ordered.append(entry)
            ordered.extend(entry.followups)
        return ordered

    def memo(self, key: tuple, make):
        """``make()`` once per run for ``key``: an order's facts, its context, a shipment (many
        enrollments of a batch can share them)."""
        if key not in self.memos:
            self.memos[key] = make()
        return self.memos[key]

    def order(self, order_id) -> Order | None:
        if not isinstance(order_id, int):
            return None
        if order_id not in self.orders:
            found = Order.unscoped.filter(merchant=self.merchant, pk=order_id).first()
            self.orders[order_id] = found
        return self.orders[order_id]


def facts_for(run: Run, enrollment: Enrollment, paths: list[str]) -> dict[str, Any]:
    """The facts ``paths`` read (``journeys/facts.py``): the trigger's payload, and each
    namespace they name, an order's computed once per run."""
    subject = Subject(
        run.customers[enrollment.customer_id], run.order(enrollment.context.get("order_id"))
    )
    [found] = facts.gather(merchant=run.merchant, subjects=[subject], paths=paths, memo=run.memo)
    return {"event": enrollment.context.get("event", {}), **found}


def _step_statuses(enrollment: Enrollment) -> dict[str, Any]:
    rows = (
        JourneyStepLog.unscoped.filter(enrollment=enrollment, message__isnull=False)
        .values_list("step_id", "message__status")
        .order_by("occurred_at", "id")
    )
    return {step_id: {"status": status} for step_id, status in rows}


def enrollments_advance(
    *,
    merchant: Merchant,
    enrollments: list[Enrollment],
    now: datetime,
    woken: dict[int, str] | None = None,
) -> None:
    """Run each enrollment (locked by the caller) from its current step to its next wait or its
    end. ``woken``: for waiting enrollments, ``"event"`` (what they waited for came) or
    ``"timeout"``."""
    if not enrollments:
        return
    woken = woken or {}
    ids = sorted({e.customer_id for e in enrollments})
    customers = {
        c.pk: c
        for c in Customer.unscoped.select_for_update(no_key=True)
        .filter(merchant=merchant, pk__in=ids)
        .order_by("pk")
    }
    run = Run(merchant=merchant, now=now, customers=customers)
    order_ids = {e.context.get("order_id") for e in enrollments}
    run.orders.update(
        orders_for_messages(
            merchant=merchant, order_ids={pk for pk in order_ids if isinstance(pk, int)}
        )
    )
    for enrollment in enrollments:
        _advance_one(run, enrollment, woken.get(enrollment.pk))
    _send(run)
    if run.changed:
        fields = sorted(set().union(*run.changed.values()))
        Customer.unscoped.bulk_update([customers[pk] for pk in sorted(run.changed)], fields)
    _save(merchant, enrollments)
    JourneyStepLog.unscoped.bulk_create(run.entries())


def _advance_one(run: Run, enrollment: Enrollment, why: str | None) -> None:
    """One enrollment's steps. A step that fails on this enrollment's data (an impossible date
    in a payload, say) fails this enrollment at that step (state ``failed``, the error in its
    log), never the batch, the other enrollments or the other merchants of a tick; what its
    earlier steps did stands, as they were taken."""
    try:
        _resume(run, enrollment, why)
        _walk(run, enrollment)
    except Exception as exc:
        logger.exception("Enrollment %s failed at step %r", enrollment.pk, enrollment.current_step)
        step = enrollment.current_step
        _finish(run, enrollment, EnrollmentState.FAILED, "error")
        run.log(enrollment, step, "error", "failed", f"{type(exc).__name__}: {exc}")


def _resume(run: Run, enrollment: Enrollment, why: str | None) -> None:
    """A waiting enrollment woken: on to the step after the wait, by the event's way or the
    timeout's."""
    if enrollment.state != EnrollmentState.WAITING:
        return
    step = definition(enrollment.version).step(enrollment.current_step)
    came = why == "event"
    run.log(enrollment, step.id, step.type, "event_arrived" if came else "timed_out")
    enrollment.current_step = step.next if came else step.timeout_next
    enrollment.state = EnrollmentState.ACTIVE
    enrollment.wait_event, enrollment.wait_match = "", {}
    enrollment.next_run_at = run.now


def _finish(run: Run, enrollment: Enrollment, state: str, reason: str = "") -> None:
    enrollment.state = state
    enrollment.exit_reason = reason
    enrollment.finished_at = run.now
    enrollment.next_run_at = None
    enrollment.current_step = ""
    enrollment.wait_event, enrollment.wait_match = "", {}


def _walk(run: Run, enrollment: Enrollment) -> None:
    """Take steps until a wait or the end."""
    plan = definition(enrollment.version)
    steps = plan.by_id()
    for _ in range(MAX_STEPS):
        if enrollment.state != EnrollmentState.ACTIVE:
            return
        if not enrollment.current_step:
            _finish(run, enrollment, EnrollmentState.COMPLETED)
            run.log(enrollment, "", "end", "completed")
            return
        step = steps[enrollment.current_step]
        visits = enrollment.context.setdefault("visits", {})
        visits[step.id] = visits.get(step.id, 0) + 1
        following = _take(run, enrollment, step, visits[step.id])
        if following is None:  # waits, or ended
            return
        enrollment.current_step = following
    _finish(run, enrollment, EnrollmentState.FAILED, "too_many_steps")  # pragma: no cover


def _take(run: Run, enrollment: Enrollment, step, visit: int) -> str | None:
    """One step; returns the id of the next (``""``: the end), or ``None`` to stop here."""
    return TAKE[type(step)](run, enrollment, step, visit)


def _send_step(run: Run, enrollment: Enrollment, step: schema.SendStep, visit: int) -> str:
    if enrollment.holdout:
        run.log(enrollment, step.id, step.type, "held_out", "In the holdout: nothing sent.")
    else:
        key = f"journey:{enrollment.pk}:{step.id}:{visit}"
        entry = run.log(enrollment, step.id, step.type, "sending", step.template)
        run.sends.append(Pending(enrollment, step, key, step.template, entry))
    return step.next


def _delay_step(run: Run, enrollment: Enrollment, step: schema.DelayStep, visit: int):
    customer = run.customers[enrollment.customer_id]
    found = facts_for(run, enrollment, [step.until]) if step.until else None
    until = delay_until(step, run.now, zone_of(customer, run.merchant), found)
    run.log(enrollment, step.id, step.type, "waiting", f"until {until.isoformat()}")
    if not step.next:
        return ""
    enrollment.current_step, enrollment.next_run_at = step.next, until
    return None if until > run.now else step.next


def _wait_step(run: Run, enrollment: Enrollment, step: schema.WaitStep, visit: int) -> None:
    trigger = enrollment.context.get("event", {})
    match = {}
    for key, value in step.match.items():
        if isinstance(value, str) and value.startswith("trigger."):
            found = resolve(trigger, value.removeprefix("trigger."))
            value = None if found is MISSING else found
        match[key] = value
    enrollment.state = EnrollmentState.WAITING
    enrollment.current_step = step.id
    enrollment.wait_event, enrollment.wait_match = step.event, match
    enrollment.next_run_at = run.now + timedelta(hours=step.timeout_hours)
    run.log(enrollment, step.id, step.type, "waiting", f"for {step.event}")
    return None


def _condition_step(run: Run, enrollment: Enrollment, step: schema.ConditionStep, visit: int):
    paths = [condition.path for condition in step.conditions]
    found = facts_for(run, enrollment, paths)
    if any(path.startswith("steps.") for path in paths):
        found["steps"] = _step_statuses(enrollment)
    passed = all_hold(step.conditions, found, match=step.match)
    run.log(enrollment, step.id, step.type, "yes" if passed else "no")
    return step.then if passed else step.otherwise


def _split_step(run: Run, enrollment: Enrollment, step: schema.SplitStep, visit: int) -> str:
    index = enrollment.assignments.get(step.id)
    if index is None:
        total = sum(branch.weight for branch in step.branches)
        point = bucket(enrollment.pk, step.id) * total // 10_000
        for index, branch in enumerate(step.branches):  # noqa: B007 - kept after the loop
            point -= branch.weight
            if point < 0:
                break
        enrollment.assignments[step.id] = index
    branch = step.branches[index]
    run.log(enrollment, step.id, step.type, f"branch_{index}", branch.name)
    return branch.next


def _action_step(run: Run, enrollment: Enrollment, step: schema.ActionStep, visit: int) -> str:
    """The registered action (``journeys/actions.py``), keyed like the step's sends; a held-out
    customer gets nothing the journey does, or lift would be measured wrong."""
    if enrollment.holdout:
        run.log(enrollment, step.id, step.type, "held_out", "In the holdout: not done.")
        return step.next
    customer = run.customers[enrollment.customer_id]
    context = ActionContext(
        merchant=run.merchant,
        enrollment=enrollment,
        customer=customer,
        step_id=step.id,
        key=f"journey:{enrollment.pk}:{step.id}:{visit}",
        now=run.now,
    )
    result = actions.run(step.action, step.params, context)
    if result.customer_fields:
        run.changed.setdefault(customer.pk, set()).update(result.customer_fields)
    run.log(enrollment, step.id, step.type, result.outcome, result.detail)
    return step.next


def _exit_step(run: Run, enrollment: Enrollment, step: schema.ExitStep, visit: int) -> None:
    _finish(run, enrollment, EnrollmentState.EXITED, "exit_step")
    run.log(enrollment, step.id, step.type, "exited")
    return None


TAKE = {
    schema.SendStep: _send_step,
    schema.DelayStep: _delay_step,
    schema.WaitStep: _wait_step,
    schema.ConditionStep: _condition_step,
    schema.SplitStep: _split_step,
    schema.ActionStep: _action_step,
    schema.ExitStep: _exit_step,
}


def _templates(run: Run, keys: set[str]) -> None:
    missing = keys - set(run.templates)
    if missing:
        for template in MessageTemplate.unscoped.filter(merchant=run.merchant, key__in=missing):
            run.templates[template.key] = template


def _context(run: Run, enrollment: Enrollment) -> dict[str, Any]:
    """A send's template context: the customer, the trigger's order and shipment (each read and
    shaped once per run), the links the registered makers fill (``journeys/links.py``) and the
    variables features fill from the trigger (``journeys/variables.py``: a claim)."""
    customer = run.customers[enrollment.customer_id]
    order = run.order(enrollment.context.get("order_id"))
    shipment_id = enrollment.context.get("shipment_id")
    shipment = (
        run.memo(
            ("shipment", shipment_id),
            lambda: Shipment.unscoped.filter(merchant=run.merchant, pk=shipment_id).first(),
        )
        if isinstance(shipment_id, int)
        else None
    )
    found = links.fill(
        merchant=run.merchant, customer=customer, order=order, shipment=shipment, memo=run.memo
    )
    context = message_context(merchant=run.merchant, customer=customer, links=found)
    if order is not None:
        context["order"] = run.memo(("context", order.pk), lambda: order_context(order))
    if shipment is not None:
        context["shipment"] = shipment_context(shipment)
    event = enrollment.context.get("event")
    if isinstance(event, dict) and event:
        context.update(feature_variables.fill(merchant=run.merchant, event=event, memo=run.memo))
    return context


def _send(run: Run) -> None:
    """Every send the steps asked for, in one outbox batch; a step's fallback template goes out
    in a second batch for those the first may not reach (consent, address, suppression)."""
    pending = run.sends
    for attempt in (0, 1):
        if not pending:
            return
        _templates(run, {p.template for p in pending})
        requests, asked = [], []
        for p in pending:
            if p.entry is None:  # a fallback: its own entry, right after the step's
                p.entry = run.log(p.enrollment, p.step.id, p.step.type, "sending", p.template)
                run.logs.pop()
                p.parent.followups.append(p.entry)
            template = run.templates.get(p.template)
            if template is None or template.current_version_id is None:
                p.entry.outcome, p.entry.detail = "failed", f"no template {p.template!r}"
                continue
            customer = run.customers[p.enrollment.customer_id]
            requests.append(SendRequest(template, customer, _context(run, p.enrollment), p.key))
            asked.append(p)
        messages = message_send_batch(merchant=run.merchant, requests=requests, now=run.now)
        retry = []
        for p, message in zip(asked, messages, strict=True):
            outcome = message.status if not message.reason else f"{message.status}:{message.reason}"
            p.entry.outcome, p.entry.message = outcome[:40], message
            fallback = p.step.fallback_template
            if attempt == 0 and fallback and message.status in NOT_SENT:
                retry.append(
                    Pending(p.enrollment, p.step, f"{p.key}:fallback", fallback, parent=p.entry)
                )
        pending = retry


def _save(merchant: Merchant, enrollments: list[Enrollment]) -> None:
    if connection.vendor == "postgresql":
        unnest_update(Enrollment, enrollments, SAVED_FIELDS, merchant_id=merchant.pk)
    else:
        Enrollment.unscoped.bulk_update(enrollments, SAVED_FIELDS)


def revenue_of(payload: dict[str, Any]) -> Decimal | None:
    try:
        return Decimal(str(payload.get("total"))) if payload.get("total") is not None else None
    except ArithmeticError:
        return None
