"""The draft editor: the forms of one journey's definition together (``journeys/forms.py``), made
from the stored draft or from what was posted, read back into a definition for
``journey_save``, and given the service's errors at the fields they name.

Adding or removing a step is a round trip that saves nothing: what was posted is read back as
typed (``EditorState``), changed, and shown again in unbound forms, so a half-written step shows
no errors until it is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from journeys.forms import (
    MAX_STEPS,
    ConditionForm,
    ConditionFormSet,
    EntryForm,
    JourneyForm,
    RulesForm,
    TriggerForm,
    emitted_rows,
)
from journeys.schema import MAX_AGE_HOURS
from journeys.step_forms import STEP_FORMS, StepForm
from orders.events import ORDER_PLACED
from postpurchase.errors import DomainError

ENTRY_DEFAULTS = {
    "per": "customer",
    "reentry": "always",
    "cooldown_hours": 0,
    "max_entries": None,
    "max_age_hours": MAX_AGE_HOURS,
}
STARTER_TRIGGER = {"type": "event", "event": ORDER_PLACED}
# Pydantic's words for a pattern that does not match, in the merchant's.
PATTERN_MESSAGES = {
    "event": "Not an event type: lower-case words joined by dots, e.g. order.placed.",
    "id": "A step id is letters, digits, - and _.",
    "template": "Not a template key.",
}
ROW = re.compile(r"^(?P<name>[a-z_]+)\[(?P<index>\d+)\]$")


@dataclass
class StepDraft:
    kind: str
    initial: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EditorState:
    """What the editor shows, in the forms' own terms (initial values)."""

    journey: dict[str, Any]
    trigger: dict[str, Any]
    conditions: list[dict[str, Any]]
    entry: dict[str, Any]
    rules: dict[str, Any]
    steps: list[StepDraft]

    @classmethod
    def of(cls, *, name: str, key: str, description: str, definition: dict) -> EditorState:
        trigger = definition.get("trigger") or STARTER_TRIGGER
        steps = []
        for step in definition.get("steps", []):
            form = STEP_FORMS.get(step.get("type"))
            if form is not None:
                initial, rows = form.initial_for(step)
                steps.append(StepDraft(form.kind, initial, rows))
        return cls(
            journey={"name": name, "key": key, "description": description},
            trigger=TriggerForm.initial_for(trigger),
            conditions=[ConditionForm.initial_for(c) for c in trigger.get("conditions", [])],
            entry=ENTRY_DEFAULTS | (definition.get("entry") or {}),
            rules=RulesForm.initial_for(definition),
            steps=steps,
        )

    def add_step(self, kind: str) -> None:
        """A new step at the end, with an id of its own; the step before it, when it ended the
        journey, now goes on to it (and it is the first step of an empty journey)."""
        form = STEP_FORMS.get(kind)
        if form is None or len(self.steps) >= MAX_STEPS:
            return
        taken = {str(step.initial.get("id") or "") for step in self.steps}
        number = len(self.steps) + 1
        while f"{kind}_{number}" in taken:
            number += 1
        new_id = f"{kind}_{number}"
        if self.steps:
            last = self.steps[-1]
            if "next" in STEP_FORMS[last.kind].targets and not last.initial.get("next"):
                last.initial["next"] = new_id
        if not self.rules.get("start"):
            self.rules["start"] = new_id
        initial, rows = form.initial_for({"id": new_id})
        self.steps.append(StepDraft(kind, initial, rows))

    def remove_step(self, index: int) -> None:
        """Steps that went to it keep its id, shown as "not a step" until another is chosen."""
        if 0 <= index < len(self.steps):
            del self.steps[index]


def raw_values(form) -> dict[str, Any]:
    """What was posted for each field, as the widgets read it (before any cleaning)."""
    return {
        bound.name: bound.field.widget.value_from_datadict(form.data, form.files, bound.html_name)
        for bound in form
    }


def put_error(form, name: str | None, messages: list[str]) -> None:
    """``messages`` on the field ``name``; above the form when it has no such field."""
    if name and name in form.fields:
        form.add_error(name, messages)
    elif name:
        form.add_error(None, [f"{name}: {message}" for message in messages])
    else:
        form.add_error(None, messages)


def _is_blank_row(values: dict[str, Any]) -> bool:
    return not any(value for name, value in values.items() if name != "op")


class Editor:
    """``Editor(state=…)`` shows a state; ``Editor(data=request.POST)`` reads a posted one."""

    def __init__(self, *, templates, state: EditorState | None = None, data=None) -> None:
        self.templates = list(templates)
        self.errors: list[str] = []  # above the editor
        self.step_errors: list[str] = []  # above the steps
        self.is_bound = data is not None
        if data is not None:
            self._bind(data)
        else:
            self._show(state)

    def _show(self, state: EditorState) -> None:
        step_ids = [str(step.initial.get("id") or "") for step in state.steps]
        self.journey_form = JourneyForm(initial=state.journey)
        self.trigger_form = TriggerForm(initial=state.trigger, prefix="trigger")
        self.conditions = ConditionFormSet(initial=state.conditions, prefix="trigger-conditions")
        self.entry_form = EntryForm(initial=state.entry, prefix="entry")
        self.rules_form = RulesForm(initial=state.rules, prefix="rules", step_ids=step_ids)
        self.steps = [
            STEP_FORMS[step.kind](
                initial=step.initial,
                rows=step.rows,
                prefix=f"steps-{index}",
                step_ids=step_ids,
                templates=self.templates,
            )
            for index, step in enumerate(state.steps)
        ]

    def _bind(self, data) -> None:
        try:
            count = max(0, min(int(data.get("steps-TOTAL", "0")), MAX_STEPS))
        except ValueError:
            count = 0
        kinds = [data.get(f"steps-{index}-type", "") for index in range(count)]
        step_ids = [data.get(f"steps-{index}-id", "").strip() for index in range(count)]
        self.journey_form = JourneyForm(data)
        self.trigger_form = TriggerForm(data, prefix="trigger")
        self.conditions = ConditionFormSet(data, prefix="trigger-conditions")
        self.entry_form = EntryForm(data, prefix="entry")
        self.rules_form = RulesForm(data, prefix="rules", step_ids=step_ids)
        self.steps = [
            STEP_FORMS[kind](
                data, prefix=f"steps-{index}", step_ids=step_ids, templates=self.templates
            )
            for index, kind in enumerate(kinds)
            if kind in STEP_FORMS  # a tampered type is dropped, like a removed step
        ]

    # --- reading -----------------------------------------------------------------------------

    def state(self) -> EditorState:
        """The posted values as typed, to show again after adding or removing a step."""

        def rows(formset) -> list[dict]:
            values = (raw_values(form) for form in formset.forms) if formset else ()
            return [row for row in values if not _is_blank_row(row)]

        return EditorState(
            journey=raw_values(self.journey_form),
            trigger=raw_values(self.trigger_form),
            conditions=rows(self.conditions),
            entry=raw_values(self.entry_form),
            rules=raw_values(self.rules_form),
            steps=[StepDraft(step.kind, raw_values(step), rows(step.rows)) for step in self.steps],
        )

    def is_valid(self) -> bool:
        parts = [self.journey_form, self.trigger_form, self.conditions, self.entry_form]
        parts += [self.rules_form, *self.steps]
        valid = all([part.is_valid() for part in parts])  # every part, so each shows its errors
        if not self.steps:
            self.step_errors.append("Add at least one step.")
        return valid and bool(self.steps)

    def definition(self) -> dict[str, Any]:
        """The definition the forms hold; they must be valid."""
        conditions = emitted_rows(
            self, [(form, form.to_condition()) for form in self.conditions.forms]
        )
        rules = self.rules_form.cleaned_data
        self.exit_events = self.rules_form.exit_event_list()
        definition: dict[str, Any] = {
            "trigger": self.trigger_form.to_trigger(conditions),
            "entry": self.entry_form.to_entry(),
            "exit_events": self.exit_events,
            "holdout_percent": rules["holdout_percent"],
            "start": rules["start"],
            "steps": [step.to_step() for step in self.steps],
        }
        if rules.get("goal_event"):
            definition["goal"] = {
                "event": rules["goal_event"].strip(),
                "within_hours": rules["goal_within_hours"],
            }
        return definition

    def journey_fields(self) -> dict[str, str]:
        data = self.journey_form.cleaned_data
        return {
            "name": data["name"],
            "key": data["key"].strip(),
            "description": data["description"],
        }

    @property
    def has_errors(self) -> bool:
        forms = [self.journey_form, self.trigger_form, self.entry_form, self.rules_form]
        rows = [self.conditions, *(step.rows for step in self.steps if step.rows)]
        return bool(
            self.errors
            or self.step_errors
            or any(form.errors for form in [*forms, *self.steps])
            or any(formset.total_error_count() for formset in rows)
        )

    # --- the service's errors ----------------------------------------------------------------

    def add_domain_error(self, error: DomainError) -> None:
        """Each of ``error``'s fields on the form it names; what names no field, above."""
        if not error.fields:
            self.errors.append(error.message)
            return
        for path, problems in error.fields.items():
            last = re.sub(r"\[\d+\]$", "", path.rpartition(".")[2])
            messages = [
                PATTERN_MESSAGES.get(last, problem["message"])
                if problem.get("code") == "string_pattern_mismatch"
                else problem["message"]
                for problem in problems
            ]
            self._place(path, messages)

    def _place(self, path: str, messages: list[str]) -> None:
        head, _, rest = path.partition(".")
        if path in self.journey_form.fields:
            put_error(self.journey_form, path, messages)
        elif head == "trigger" and rest.startswith("conditions"):
            self._place_row(self, self.trigger_form, rest, messages)
        elif head in ("trigger", "entry"):
            form = self.trigger_form if head == "trigger" else self.entry_form
            put_error(form, rest or None, messages)
        elif head == "goal":
            name = "goal_within_hours" if rest == "within_hours" else "goal_event"
            put_error(self.rules_form, name, messages)
        elif head.startswith("exit_events"):
            match = ROW.match(head)
            names = getattr(self, "exit_events", [])
            index = int(match["index"]) if match else len(names)
            if index < len(names):
                messages = [f"{names[index]}: {message}" for message in messages]
            put_error(self.rules_form, "exit_events", messages)
        elif head in ("holdout_percent", "start"):
            put_error(self.rules_form, head, messages)
        elif head == "steps":
            self.step_errors.extend(messages)
        elif head.startswith("steps["):
            self._place_step(head, rest, messages)
        elif path == "non_field_errors":
            self.errors.extend(messages)
        else:
            self.errors.extend(f"{path}: {message}" for message in messages)

    def _place_step(self, head: str, rest: str, messages: list[str]) -> None:
        index = int(head[len("steps[") : -1])
        if index >= len(self.steps):
            self.step_errors.extend(messages)
            return
        step: StepForm = self.steps[index]
        kind, _, inner = rest.partition(".")
        if kind == step.kind:  # pydantic names the step's type: steps[2].delay.hours
            rest = inner
        name, _, _ = rest.partition(".")
        if step.row_field and name.startswith(step.row_field):
            self._place_row(step, step, rest, messages)
        else:
            put_error(step, {"else": "otherwise"}.get(name, name) or None, messages)

    @staticmethod
    def _place_row(owner, form, rest: str, messages: list[str]) -> None:
        """``conditions[k].path`` on the k-th row ``owner`` sent; else on ``form`` itself."""
        head, _, name = rest.partition(".")
        match = ROW.match(head)
        rows = getattr(owner, "row_forms", [])
        if match and int(match["index"]) < len(rows):
            put_error(rows[int(match["index"])], name or None, messages)
        else:
            put_error(form, None, messages)
