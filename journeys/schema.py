"""A journey's definition: what starts it, who may enter, what ends it, and its steps, as a
graph of steps with stable ids. Validated whole before a draft is saved or published: every
reference resolves, nothing is unreachable, and there is no loop (a journey always ends).

    {
      "trigger": {"event": "order.placed",
                  "conditions": [{"path": "event.total", "op": "gt", "value": 100}]},
      "entry": {"per": "order", "reentry": "always", "cooldown_hours": 0, "max_entries": null,
                "max_age_hours": 24},
      "exit_events": ["order.cancelled"],
      "goal": {"event": "review.submitted", "within_hours": 336},
      "holdout_percent": 10,
      "start": "confirm",
      "steps": [
        {"id": "confirm", "type": "send", "template": "order_confirmation", "next": "wait"},
        {"id": "wait", "type": "delay", "hours": 72, "next": "ask"},
        {"id": "ask", "type": "send", "template": "review_request"}
      ]
    }
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from journeys.actions import NAME as ACTION_NAME
from journeys.actions import actions
from journeys.facts import facts
from postpurchase.events.catalogue import TYPE_MAX_LENGTH, TYPE_PATTERN

StepId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# The event catalogue's one pattern for a type's name (any type: the platform's or a custom one).
EventType = Annotated[str, Field(min_length=1, max_length=TYPE_MAX_LENGTH, pattern=TYPE_PATTERN)]
KEY = r"^[a-z0-9][a-z0-9_-]*$"  # a template's or a journey's key
TemplateKey = Annotated[str, Field(min_length=1, max_length=100, pattern=KEY)]
Next = Annotated[str, Field(max_length=64)]
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "not_contains", "in", "exists", "missing")
PATH = re.compile(r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$")  # a namespace, then a fact's name
STORED = {"stored": True}  # a published version, read as it was stored (``stored_definition``)
TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def checking(info: ValidationInfo) -> bool:
    """Whether the registries are checked: for a definition being saved or published, not for
    a stored version (it was checked when published; a pillar gone since fails only the
    enrollments that reach its fact or action, rather than the whole journey's loading)."""
    return not (info.context or {}).get("stored")


def fact_path(value: str, info: ValidationInfo) -> str:
    """A path to a fact (``journeys/facts.py``): its namespace, then a fact of it."""
    problem = None if PATH.fullmatch(value) else facts.expected()
    if problem is None and checking(info):
        problem = facts.path_error(value)
    if problem:
        raise ValueError(problem)
    return value


class Condition(Strict):
    """``path`` names a value: ``event.<payload key>``, ``customer.<fact>`` (orders_count,
    total_spent, tags, email, locale, …), ``order.<fact>`` (total, categories, skus,
    line_count, …), a registered pillar's fact (``loyalty.tier``), or ``steps.<step
    id>.status`` (the status of the message that step sent). ``op`` must suit the fact's type
    (``journeys/facts.py``)."""

    path: Annotated[str, Field(max_length=200)]
    op: Literal[OPS]  # type: ignore[valid-type]
    value: Any = None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str, info: ValidationInfo) -> str:
        return fact_path(value, info)

    @field_validator("op")
    @classmethod
    def _op(cls, value: str, info: ValidationInfo) -> str:
        path = info.data.get("path")
        problem = facts.op_error(path, value) if path and checking(info) else None
        if problem:
            raise ValueError(problem)
        return value


DATE_FIELDS = ("customer.birthday", "customer.first_order_at", "customer.last_order_at")


class Trigger(Strict):
    """What enters a customer:

    - ``event``: an event of that type about the customer (``conditions`` may read the event,
      the customer and the order);
    - ``date``: a date of the customer's (``date``: birthday, first or last order), ``offset_days``
      before (negative) or after it, every year when ``yearly`` (a birthday, an order
      anniversary), starting at the local time ``at`` in the customer's zone;
    - ``inactivity``: ``days`` since the customer's last order, starting at ``at``.

    Dates and inactivity are looked for once a day per journey, on the merchant's calendar."""

    type: Literal["event", "date", "inactivity"] = "event"
    event: EventType | None = None
    conditions: Annotated[list[Condition], Field(max_length=20)] = []
    date: Literal[DATE_FIELDS] | None = None  # type: ignore[valid-type]
    offset_days: Annotated[int, Field(ge=-366, le=366)] = 0
    yearly: bool = False
    days: Annotated[int | None, Field(ge=1, le=3650)] = None
    at: str = "10:00"

    @field_validator("at")
    @classmethod
    def _at(cls, value: str) -> str:
        if not TIME_OF_DAY.fullmatch(value):
            raise ValueError("a time of day as HH:MM")
        return value

    @model_validator(mode="after")
    def _complete(self) -> Trigger:
        needs = {"event": "event", "date": "date", "inactivity": "days"}[self.type]
        if getattr(self, needs) is None:
            raise ValueError(f"a {self.type} trigger needs {needs!r}")
        return self


MAX_AGE_HOURS = 24  # an event trigger's default: older events are history, not news
MAX_AGE_LIMIT = 24 * 30


class Entry(Strict):
    """``per``: one open enrollment per customer, or per order (two orders, two journeys).
    ``reentry``: ``never`` again, ``always`` (once the last one ended), or ``after`` a cooldown
    since the last entry. ``max_entries``: a cap on entries per customer (None: no cap).
    ``max_age_hours``: an event trigger's event older than this (its ``occurred_at`` against
    the engine's clock) does not enter: imported history, a backlog, a late replay."""

    per: Literal["customer", "order"] = "customer"
    reentry: Literal["never", "always", "after"] = "always"
    cooldown_hours: Annotated[int, Field(ge=0, le=24 * 366)] = 0
    max_entries: Annotated[int | None, Field(ge=1, le=10_000)] = None
    max_age_hours: Annotated[int, Field(ge=1, le=MAX_AGE_LIMIT)] = MAX_AGE_HOURS


class Goal(Strict):
    event: EventType
    within_hours: Annotated[int, Field(ge=1, le=24 * 366)]


class SendStep(Strict):
    id: StepId
    type: Literal["send"]
    template: TemplateKey
    fallback_template: TemplateKey | None = None  # when the first may not go (consent, address)
    next: Next = ""


class DelayStep(Strict):
    """Wait ``hours`` (and ``days``); or, with ``until``, until a date of the journey's facts
    (``order.placed_at``, ``customer.birthday``, ``event.estimated_delivery``…) ``offset_days``
    before or after it; then, if set, until the next ``at`` local time of day in the customer's
    zone, on one of ``weekdays`` (0 Monday … 6 Sunday)."""

    id: StepId
    type: Literal["delay"]
    days: Annotated[float, Field(ge=0, le=366)] = 0
    hours: Annotated[float, Field(ge=0, le=24 * 366)] = 0
    until: Annotated[str | None, Field(max_length=200)] = None
    offset_days: Annotated[int, Field(ge=-366, le=366)] = 0
    at: str | None = None
    weekdays: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(max_length=7)] = []
    next: Next = ""

    @field_validator("at")
    @classmethod
    def _at(cls, value: str | None) -> str | None:
        if value is not None and not TIME_OF_DAY.fullmatch(value):
            raise ValueError("a time of day as HH:MM")
        return value

    @field_validator("until")
    @classmethod
    def _until(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else fact_path(value, info)


class WaitStep(Strict):
    """Wait for ``event`` for this customer, whose payload matches ``match`` (payload key →
    a value, or ``"trigger.<key>"`` for the trigger's value: the same order), at most
    ``timeout_hours``; then ``next`` if it came, ``timeout_next`` if not."""

    id: StepId
    type: Literal["wait_for_event"]
    event: EventType
    match: Annotated[dict[str, Any], Field(max_length=10)] = {}
    timeout_hours: Annotated[float, Field(gt=0, le=24 * 366)]
    next: Next = ""
    timeout_next: Next = ""


class ConditionStep(Strict):
    id: StepId
    type: Literal["condition"]
    conditions: Annotated[list[Condition], Field(min_length=1, max_length=20)]
    match: Literal["all", "any"] = "all"
    then: Next = ""
    otherwise: Next = Field(default="", alias="else")


class Branch(Strict):
    weight: Annotated[int, Field(ge=1, le=1000)]
    next: Next = ""
    name: Annotated[str, Field(max_length=50)] = ""


class SplitStep(Strict):
    id: StepId
    type: Literal["split"]
    branches: Annotated[list[Branch], Field(min_length=2, max_length=10)]


class ActionStep(BaseModel):
    """``action`` names a registered action (``journeys/actions.py``): ``add_tag`` /
    ``remove_tag`` (``tag``) on the customer, ``webhook`` (``event``: an event named
    ``journey.…``, recorded once, which the merchant's outbound webhook endpoints subscribed to
    it receive, signed and retried like every event), or a pillar's. The step's other keys are
    the action's own fields, checked by its model with the definition's cross-field rules."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    id: StepId
    type: Literal["action"]
    action: Annotated[str, Field(min_length=1, max_length=100, pattern=ACTION_NAME)]
    next: Next = ""

    @field_validator("action")
    @classmethod
    def _registered(cls, value: str, info: ValidationInfo) -> str:
        if checking(info) and actions.get(value) is None:
            raise ValueError(actions.unknown(value))
        return value

    @property
    def params(self) -> dict[str, Any]:
        """The action's own fields: every key of the step but its id, type, action and next."""
        return dict(self.model_extra or {})

    def params_errors(self, at: str) -> dict[str, list[dict[str, str]]]:
        """The action model's objections to this step's fields, by path (``steps[2].tag``)."""
        action = actions.get(self.action)
        if action is None:
            return {f"{at}.action": [{"code": "invalid", "message": actions.unknown(self.action)}]}
        try:
            action.params.model_validate(self.params)
        except ValidationError as error:
            found: dict[str, list[dict[str, str]]] = {}
            for problem in error.errors(include_url=False):
                where = ".".join(str(part) for part in problem["loc"]) or "action"
                message = problem["msg"].removeprefix("Value error, ")
                found.setdefault(f"{at}.{where}", []).append(
                    {"code": problem["type"], "message": message}
                )
            return found
        return {}


class ExitStep(Strict):
    id: StepId
    type: Literal["exit"]


Step = Annotated[
    SendStep | DelayStep | WaitStep | ConditionStep | SplitStep | ActionStep | ExitStep,
    Field(discriminator="type"),
]


def targets(step) -> list[str]:
    """The step ids a step can go to next."""
    if isinstance(step, ConditionStep):
        found = [step.then, step.otherwise]
    elif isinstance(step, SplitStep):
        found = [branch.next for branch in step.branches]
    elif isinstance(step, WaitStep):
        found = [step.next, step.timeout_next]
    elif isinstance(step, ExitStep):
        found = []
    else:
        found = [step.next]
    return [target for target in found if target]


class Definition(Strict):
    trigger: Trigger
    entry: Entry = Entry()
    exit_events: Annotated[list[EventType], Field(max_length=20)] = []
    goal: Goal | None = None
    holdout_percent: Annotated[int, Field(ge=0, le=50)] = 0
    start: StepId
    steps: Annotated[list[Step], Field(min_length=1, max_length=100)]

    def step(self, step_id: str):
        return self.by_id().get(step_id)

    def by_id(self) -> dict[str, Any]:
        return {step.id: step for step in self.steps}

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        """Ids unique, every reference resolves, every step reachable from ``start``, no loop."""
        errors: dict[str, list[dict[str, str]]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append({"code": "invalid", "message": message})

        ids: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            if step.id in ids:
                add(f"steps[{i}].id", f"another step has id {step.id!r}")
            ids.setdefault(step.id, i)
        if self.start not in ids:
            add("start", f"no step has id {self.start!r}")
        for i, step in enumerate(self.steps):
            for target in targets(step):
                if target not in ids:
                    add(f"steps[{i}]", f"goes to {target!r}, which is not a step")
            if isinstance(step, ActionStep):
                for path, problems in step.params_errors(f"steps[{i}]").items():
                    errors.setdefault(path, []).extend(problems)
        if errors:
            return errors
        graph = {step.id: targets(step) for step in self.steps}
        seen: set[str] = set()
        path: list[str] = []

        def visit(node: str) -> None:
            if node in path:
                loop = " → ".join([*path[path.index(node) :], node])
                add("steps", f"the steps loop ({loop}); a journey must always end")
                return
            if node in seen:
                return
            seen.add(node)
            path.append(node)
            for target in graph[node]:
                visit(target)
            path.pop()

        visit(self.start)
        for i, step in enumerate(self.steps):
            if step.id not in seen and not errors:
                add(f"steps[{i}]", f"step {step.id!r} cannot be reached from the start")
        return errors


def stored_definition(raw: dict[str, Any]) -> Definition:
    """A published version's definition, read as it was stored (the registries unchecked)."""
    return Definition.model_validate(raw, context=STORED)
