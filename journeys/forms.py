"""Dashboard forms for journeys: the draft editor's parts. They gather input and nothing else:
``journey_save`` checks the definition whole (``journeys/schema.py``), and the editor puts each
``DomainError`` field back where it came from (``steps[2].delay.hours`` on the third step's
hours, ``trigger.conditions[0].path`` on the trigger's first condition row).

The step forms (one per type, chosen by the step's type; a condition step's conditions and a
split's branches are rows inside it) are in ``journeys/step_forms.py``;
``journeys/dashboard_views/editor.py`` puts them together.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms

from journeys.schema import MAX_AGE_HOURS, MAX_AGE_LIMIT

MAX_STEPS = 100
END = ""  # a step that goes nowhere ends the journey
OPS = [
    ("eq", "equals"),
    ("ne", "does not equal"),
    ("gt", "is more than"),
    ("gte", "is at least"),
    ("lt", "is less than"),
    ("lte", "is at most"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("in", "is one of"),
    ("exists", "is set"),
    ("missing", "is not set"),
]
DATES = [
    ("customer.birthday", "Birthday"),
    ("customer.first_order_at", "First order"),
    ("customer.last_order_at", "Last order"),
]
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
CODE = {"autocomplete": "off", "spellcheck": "false"}
EVENT_INPUT = forms.TextInput(attrs={**CODE, "list": "journey-events", "class": "mono"})


def parse_value(text: str) -> Any:
    """A value as typed: JSON when it reads as JSON (``100``, ``true``, ``["a", "b"]``,
    ``"quoted"``), else the text itself (``electronics``); nothing typed is ``None``."""
    text = text.strip()
    if not text:
        return None

    def refuse(constant: str):
        raise ValueError(constant)  # NaN and Infinity: not JSON a database keeps

    try:
        return json.loads(text, parse_constant=refuse)
    except ValueError:
        return text


def format_value(value: Any) -> str:
    """The text that ``parse_value`` reads back as ``value``."""
    if value is None:
        return ""
    if isinstance(value, str) and parse_value(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def number(value: float | None) -> float | int | None:
    """3.0 → 3, so a definition reads as it was written."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def offer(choice_field, options, current, missing: str) -> None:
    """``options`` as the field's choices, and ``current`` too when it is not one of them (a
    step removed, a template not made yet), so it is shown, and the service says what is wrong."""
    choices = list(options)
    if current and str(current) not in {str(value) for value, _ in choices}:
        choices.append((current, missing.format(current)))
    choice_field.choices = choices


def current_value(form: forms.Form, name: str):
    if form.is_bound:
        return form.data.get(form.add_prefix(name))
    return form.initial.get(name)


# --- the journey, its trigger and rules -----------------------------------------------------


class JourneyForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="What your team calls it.")
    key = forms.CharField(
        max_length=100,
        help_text="Letters, digits, - and _; the API names the journey by it.",
        widget=forms.TextInput(attrs=CODE),
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TriggerForm(forms.Form):
    type = forms.ChoiceField(
        label="Starts on",
        choices=[
            ("event", "An event"),
            ("date", "A date of the customer's"),
            ("inactivity", "No order for a while"),
        ],
    )
    event = forms.CharField(
        required=False,
        max_length=100,
        widget=EVENT_INPUT,
        help_text="For an event: its type, e.g. order.placed.",
    )
    date = forms.ChoiceField(
        required=False, choices=[("", "—"), *DATES], help_text="For a date: which one."
    )
    offset_days = forms.IntegerField(
        label="Days after the date",
        required=False,
        min_value=-366,
        max_value=366,
        help_text="Negative: before it.",
    )
    yearly = forms.BooleanField(required=False, label="Every year (birthdays, anniversaries)")
    days = forms.IntegerField(
        label="Days without an order",
        required=False,
        min_value=1,
        max_value=3650,
        help_text="For inactivity: days since the last order.",
    )
    at = forms.TimeField(
        label="At",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Dates and inactivity: the local time in the customer's zone (10:00 if empty).",
    )

    NEEDS: ClassVar[dict[str, tuple[str, str]]] = {
        "event": ("event", "Which event starts the journey?"),
        "date": ("date", "Which date starts the journey?"),
        "inactivity": ("days", "After how many days without an order?"),
    }

    def clean(self):
        cleaned = super().clean()
        needed, message = self.NEEDS.get(cleaned.get("type"), (None, ""))
        if needed and cleaned.get(needed) in (None, "") and needed not in self.errors:
            self.add_error(needed, message)
        return cleaned

    def to_trigger(self, conditions: list[dict]) -> dict:
        data = self.cleaned_data
        trigger: dict[str, Any] = {"type": data["type"]}
        if data["type"] == "event":
            trigger["event"] = data["event"].strip()
        elif data["type"] == "date":
            trigger.update(date=data["date"], offset_days=data["offset_days"] or 0)
            trigger["yearly"] = data["yearly"]
        else:
            trigger["days"] = data["days"]
        if data["type"] != "event" and data["at"] is not None:
            trigger["at"] = data["at"].strftime("%H:%M")
        if conditions:
            trigger["conditions"] = conditions
        return trigger

    @staticmethod
    def initial_for(trigger: dict) -> dict:
        return {
            "type": trigger.get("type", "event"),
            "event": trigger.get("event") or "",
            "date": trigger.get("date") or "",
            "offset_days": trigger.get("offset_days", 0),
            "yearly": trigger.get("yearly", False),
            "days": trigger.get("days"),
            "at": trigger.get("at", "10:00"),
        }


class ConditionForm(forms.Form):
    """One row: a path, an operator and a value. A row with no path is left out."""

    path = forms.CharField(
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={**CODE, "list": "journey-paths", "class": "mono", "placeholder": "event.total"}
        ),
    )
    op = forms.ChoiceField(label="Is", choices=OPS, initial="eq")
    value = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={**CODE, "placeholder": '100, electronics, ["a", "b"]'}),
    )

    def to_condition(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("path", "").strip():
            return None
        condition = {"path": data["path"].strip(), "op": data["op"]}
        value = parse_value(data.get("value", ""))
        if value is not None:
            condition["value"] = value
        return condition

    @staticmethod
    def initial_for(condition: dict) -> dict:
        return {
            "path": condition.get("path", ""),
            "op": condition.get("op", "eq"),
            "value": format_value(condition.get("value")),
        }


ConditionFormSet = forms.formset_factory(ConditionForm, extra=1, max_num=20, absolute_max=40)


class EntryForm(forms.Form):
    per = forms.ChoiceField(
        label="One at a time per",
        choices=[("customer", "Customer"), ("order", "Order (two orders, two journeys)")],
    )
    reentry = forms.ChoiceField(
        label="Entering again",
        choices=[
            ("always", "Once the last one ended"),
            ("after", "After a cooldown"),
            ("never", "Never"),
        ],
    )
    cooldown_hours = forms.IntegerField(
        label="Cooldown (hours)", min_value=0, required=False, help_text="Since the last entry."
    )
    max_entries = forms.IntegerField(
        label="At most, per customer", min_value=1, required=False, help_text="Empty: no cap."
    )
    max_age_hours = forms.IntegerField(
        label="Ignore events older than (hours)",
        min_value=1,
        max_value=MAX_AGE_LIMIT,
        required=False,
        help_text=f"An older event (an import, a backlog) does not enter. Empty: {MAX_AGE_HOURS}.",
    )

    def to_entry(self) -> dict:
        data = self.cleaned_data
        return {
            "per": data["per"],
            "reentry": data["reentry"],
            "cooldown_hours": data["cooldown_hours"] or 0,
            "max_entries": data["max_entries"],
            "max_age_hours": data["max_age_hours"] or MAX_AGE_HOURS,
        }


class RulesForm(forms.Form):
    """Where the steps start, what ends the journey early, its goal and its holdout."""

    start = forms.ChoiceField(label="First step")
    exit_events = forms.CharField(
        label="Exit events",
        required=False,
        max_length=2200,
        widget=forms.TextInput(attrs={**CODE, "class": "mono"}),
        help_text="Any of these ends a customer's journey, e.g. order.cancelled (commas between).",
    )
    goal_event = forms.CharField(
        label="Goal event",
        required=False,
        max_length=100,
        widget=EVENT_INPUT,
        help_text="Counts the customer as converted, e.g. order.placed.",
    )
    goal_within_hours = forms.IntegerField(
        label="Goal within (hours)", required=False, min_value=1, help_text="Since entry."
    )
    holdout_percent = forms.IntegerField(
        label="Holdout (%)",
        min_value=0,
        max_value=50,
        initial=0,
        help_text="Entrants who get no messages, to measure the lift against.",
    )

    def __init__(self, *args, step_ids=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        options = [(step_id, step_id) for step_id in step_ids if step_id]
        offer(self.fields["start"], options, current_value(self, "start"), "{} (not a step)")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("goal_event") and cleaned.get("goal_within_hours") is None:
            self.add_error("goal_within_hours", "Within how many hours of entry?")
        return cleaned

    def exit_event_list(self) -> list[str]:
        text = self.cleaned_data["exit_events"].replace("\n", ",")
        return [name.strip() for name in text.split(",") if name.strip()]

    @staticmethod
    def initial_for(definition: dict) -> dict:
        goal = definition.get("goal") or {}
        return {
            "start": definition.get("start", ""),
            "exit_events": ", ".join(definition.get("exit_events", [])),
            "goal_event": goal.get("event", ""),
            "goal_within_hours": goal.get("within_hours"),
            "holdout_percent": definition.get("holdout_percent", 0),
        }


# --- steps ------------------------------------------------------------------------------------


def emitted_rows(owner, pairs: list[tuple[forms.Form, dict | None]]) -> list[dict]:
    """The rows that were filled in; ``owner.row_forms[k]`` is the form of the k-th, so an error
    at ``conditions[k]`` lands on the row it is about."""
    owner.row_forms = [form for form, row in pairs if row is not None]
    return [row for _, row in pairs if row is not None]


class DefinitionJsonForm(forms.Form):
    """The advanced way: the whole definition as JSON, checked as the forms' is."""

    definition = forms.CharField(
        label="Definition (JSON)",
        max_length=200_000,
        strip=False,
        widget=forms.Textarea(attrs={**CODE, "rows": 20, "class": "source"}),
    )

    def clean_definition(self) -> dict:
        try:
            value = json.loads(self.cleaned_data["definition"])
        except ValueError as error:
            raise forms.ValidationError(f"This is not JSON: {error}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("The definition is a JSON object: { … }.")
        return value

    @staticmethod
    def initial_for(definition: dict) -> dict:
        """The definition in the schema's order (the database keeps its keys sorted)."""
        order = ("trigger", "entry", "exit_events", "goal", "holdout_percent", "start", "steps")
        ordered = {key: definition[key] for key in order if key in definition} | definition
        if isinstance(ordered.get("steps"), list):
            ordered["steps"] = [
                {"id": step.get("id"), "type": step.get("type")} | step
                for step in ordered["steps"]
                if isinstance(step, dict)
            ]
        return {"definition": json.dumps(ordered, indent=2, ensure_ascii=False)}
