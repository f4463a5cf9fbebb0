"""The things an action step can do, by name: ``add_tag``, ``remove_tag`` and ``webhook`` (the
journeys app's own, ``journeys/builtins.py``), and what a pillar plugs in
(``loyalty.award_points``, ``returns.offer_credit``) without editing ``journeys/``.

An app registers an action in its ``AppConfig.ready()``:
``actions.register("loyalty.award_points", AwardPoints, award_points, label="Award points")``.
``AwardPoints`` is a pydantic model of the step's own fields (``{"id": "a", "type": "action",
"action": "loyalty.award_points", "points": 50}``: every key but id, type, action and next): a
definition naming an unregistered action, or fields its model refuses, is not saved
(``journeys/schema.py`` checks them and names the field).

The engine calls ``handler(params, context)`` in its run's transaction, with the customer's row
locked. ``context.key`` is the step's idempotency key, ``journey:<enrollment>:<step>:<visit>``
(the key a send of that step uses): a handler that writes keys its row by it (a unique
constraint), so a re-run after a crash does nothing twice. A handler may change the customer
instance it is given (``context.customer``) and name the fields it changed in its result; the
engine saves them once for the whole batch, and later steps of the run see them. A held-out
enrollment runs no action (the engine logs it and goes on).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from journeys.models import Enrollment
    from orders.models import Customer
    from postpurchase.tenancy.models import Merchant

NAME = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$"  # add_tag, loyalty.award_points
STEP_FIELDS = ("id", "type", "action", "next")  # every action step's; the rest are its params


@dataclass(frozen=True)
class ActionContext:
    """What a handler is told about the step it runs for."""

    merchant: Merchant
    enrollment: Enrollment
    customer: Customer  # locked by the engine; change it and name the fields in the result
    step_id: str
    key: str  # journey:<enrollment>:<step>:<visit>, unique per step taken
    now: datetime

    @property
    def trigger(self) -> dict[str, Any]:
        """The payload of the event that entered the customer."""
        return self.enrollment.context.get("event", {})


@dataclass(frozen=True)
class ActionResult:
    """What the step log shows (``outcome``, ``detail``), and the customer's fields the handler
    changed on ``context.customer`` (saved by the engine)."""

    outcome: str
    detail: str = ""
    customer_fields: tuple[str, ...] = ()


Handler = Callable[[Any, ActionContext], ActionResult]


@dataclass(frozen=True)
class Action:
    name: str
    params: type[BaseModel]
    handler: Handler
    label: str
    describe: Callable[[dict[str, Any]], str] | None = field(default=None)  # in the dashboard

    def in_words(self, step: dict[str, Any]) -> str:
        return self.describe(step) if self.describe else self.label


class ActionRegistry:
    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(
        self,
        name: str,
        params: type[BaseModel],
        handler: Handler,
        *,
        label: str = "",
        describe: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        """Offer the action ``name`` to action steps; ``params`` validates the step's own
        fields (it should forbid extra ones); ``describe(step)`` says in words what a step
        does (default: ``label``)."""
        if not re.fullmatch(NAME, name):
            raise ValueError(f"not an action name: {name!r}")
        if name in self._actions:
            raise ValueError(f"action {name!r} is registered already")
        clash = set(params.model_fields) & set(STEP_FIELDS)
        if clash:
            raise ValueError(f"action {name!r}: {', '.join(sorted(clash))} are the step's own")
        self._actions[name] = Action(name, params, handler, label or name, describe)

    def unregister(self, name: str) -> None:
        self._actions.pop(name, None)

    def get(self, name: str) -> Action | None:
        return self._actions.get(name)

    def names(self) -> list[str]:
        return list(self._actions)

    def choices(self) -> list[tuple[str, str]]:
        return [(name, action.label) for name, action in self._actions.items()]

    def unknown(self, name: str) -> str:
        return f"no action {name!r}; the actions are {', '.join(self._actions)}"

    def run(self, name: str, params: dict[str, Any], context: ActionContext) -> ActionResult:
        """Run the action ``name`` with the step's ``params`` (validated again: a version
        stored before an action changed, or whose pillar is gone, fails its enrollment at this
        step, with the reason in its log)."""
        action = self._actions.get(name)
        if action is None:
            raise LookupError(self.unknown(name))
        return action.handler(action.params.model_validate(params), context)


actions = ActionRegistry()
