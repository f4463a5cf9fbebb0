"""The journey editor's step forms: one form per kind of step, with exactly the fields of
``journeys/schema.py``; a step's ``next`` fields choose among the draft's step ids."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from journeys.actions import actions
from journeys.forms import (
    CODE,
    END,
    EVENT_INPUT,
    WEEKDAYS,
    ConditionForm,
    ConditionFormSet,
    current_value,
    emitted_rows,
    format_value,
    number,
    offer,
    parse_value,
)


def target_choices(step_ids, own_id: str) -> list[tuple[str, str]]:
    return [(END, "— End the journey —")] + [(i, i) for i in step_ids if i and i != own_id]


class BranchForm(forms.Form):
    """One branch of a split; a row left blank is left out."""

    weight = forms.IntegerField(required=False, min_value=1, max_value=1000)
    next = forms.ChoiceField(label="Then", required=False)
    name = forms.CharField(required=False, max_length=50, help_text="e.g. A, B.")

    def __init__(self, *args, step_ids=(), own_id="", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        options = target_choices(step_ids, own_id)
        offer(self.fields["next"], options, current_value(self, "next"), "{} (not a step)")

    def to_branch(self) -> dict | None:
        data = self.cleaned_data
        if data.get("weight") is None and not data.get("next") and not data.get("name"):
            return None
        branch: dict[str, Any] = {"weight": data.get("weight"), "next": data.get("next") or END}
        if data.get("name"):
            branch["name"] = data["name"]
        return branch

    @staticmethod
    def initial_for(branch: dict) -> dict:
        return {k: branch.get(k, d) for k, d in (("weight", None), ("next", ""), ("name", ""))}


BranchFormSet = forms.formset_factory(BranchForm, extra=1, max_num=10, absolute_max=20)


class StepForm(forms.Form):
    """What every step has; a subclass per type adds that type's fields (``journeys/schema.py``).
    ``targets`` are the fields that name the next step, chosen from the journey's step ids."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    targets: ClassVar[tuple[str, ...]] = ("next",)
    row_formset: ClassVar[Any] = None  # the rows inside the step (conditions, branches)
    row_field: ClassVar[str] = ""

    id = forms.CharField(
        label="Step id", max_length=64, widget=forms.TextInput(attrs={**CODE, "class": "mono"})
    )

    def __init__(self, *args, step_ids=(), templates=(), rows=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        own_id = str(current_value(self, "id") or "")
        for name in self.targets:
            options = target_choices(step_ids, own_id)
            offer(self.fields[name], options, current_value(self, name), "{} (not a step)")
        self.rows = None
        if self.row_formset is not None:
            prefix = self.add_prefix(self.row_field)
            kwargs = {"step_ids": step_ids, "own_id": own_id} if self.kind == "split" else {}
            data = self.data if self.is_bound else None
            self.rows = self.row_formset(data, prefix=prefix, initial=rows, form_kwargs=kwargs)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return (self.rows.is_valid() if self.rows is not None else True) and valid

    def row_values(self) -> list[dict]:
        return []

    def to_step(self) -> dict:
        step = {"id": self.cleaned_data["id"].strip(), "type": self.kind}
        step.update(self.fields_of_step(self.cleaned_data))
        return step

    def fields_of_step(self, data: dict) -> dict:
        return {name: data[name] for name in self.targets if data.get(name)}

    @classmethod
    def initial_for(cls, step: dict) -> tuple[dict, list[dict]]:
        """The form's initial values and its rows' for a step of the definition."""
        names = [name for name in cls.base_fields if name != "otherwise"]
        initial = {name: step[name] for name in names if name in step}
        return initial, []


class SendStepForm(StepForm):
    kind, label = "send", "Send a message"
    template = forms.ChoiceField(label="Template")
    fallback_template = forms.ChoiceField(
        label="Fallback template",
        required=False,
        help_text="Sent instead when the first may not go (no consent, no address).",
    )
    next = forms.ChoiceField(label="Then", required=False)

    def __init__(self, *args, templates=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, empty in (("template", "Choose a template"), ("fallback_template", "None")):
            options = [("", empty), *templates]
            offer(self.fields[name], options, current_value(self, name), "{} (no such template)")

    def fields_of_step(self, data: dict) -> dict:
        found = {"template": data["template"]}
        if data.get("fallback_template"):
            found["fallback_template"] = data["fallback_template"]
        return found | super().fields_of_step(data)


class DelayStepForm(StepForm):
    kind, label = "delay", "Wait"
    days = forms.FloatField(required=False, min_value=0)
    hours = forms.FloatField(required=False, min_value=0)
    until = forms.CharField(
        label="Or until the date",
        required=False,
        max_length=200,
        help_text="A date of the journey's: order.placed_at, customer.birthday, event.<key>.",
    )
    offset_days = forms.IntegerField(
        label="Days from that date", required=False, min_value=-366, max_value=366
    )
    at = forms.TimeField(
        label="Then until",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="A local time of day in the customer's zone.",
    )
    weekdays = forms.TypedMultipleChoiceField(
        label="On",
        required=False,
        coerce=int,
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only these days (none: any day).",
    )
    next = forms.ChoiceField(label="Then", required=False)

    def fields_of_step(self, data: dict) -> dict:
        found: dict[str, Any] = {}
        for name in ("days", "hours"):
            if data.get(name):
                found[name] = number(data[name])
        if data.get("until"):
            found["until"] = data["until"].strip()
            if data.get("offset_days"):
                found["offset_days"] = data["offset_days"]
        if data.get("at") is not None:
            found["at"] = data["at"].strftime("%H:%M")
        if data.get("weekdays"):
            found["weekdays"] = sorted(data["weekdays"])
        return found | super().fields_of_step(data)


class MatchField(forms.CharField):
    """``match`` as lines of ``key = value`` (a value as typed, or ``trigger.<key>``)."""

    widget = forms.Textarea(attrs={**CODE, "rows": 2, "class": "source"})

    def to_python(self, value) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for number_, line in enumerate(str(value or "").splitlines(), start=1):
            if not line.strip():
                continue
            key, equals, text = line.partition("=")
            if not equals or not key.strip():
                raise forms.ValidationError(f"Line {number_}: write key = value.")
            found[key.strip()] = parse_value(text)
        return found

    @staticmethod
    def format(match: dict) -> str:
        return "\n".join(f"{key} = {format_value(value)}" for key, value in match.items())


class WaitStepForm(StepForm):
    kind, label = "wait_for_event", "Wait for an event"
    targets = ("next", "timeout_next")
    event = forms.CharField(max_length=100, widget=EVENT_INPUT)
    match = MatchField(
        required=False,
        help_text="Its payload must match: one key = value a line, e.g. "
        "order_id = trigger.order_id (the same order).",
    )
    timeout_hours = forms.FloatField(label="At most (hours)", min_value=0)
    next = forms.ChoiceField(label="If it comes", required=False)
    timeout_next = forms.ChoiceField(label="If it does not", required=False)

    def fields_of_step(self, data: dict) -> dict:
        found = {"event": data["event"].strip(), "timeout_hours": number(data["timeout_hours"])}
        if data.get("match"):
            found["match"] = data["match"]
        return found | super().fields_of_step(data)

    @classmethod
    def initial_for(cls, step: dict) -> tuple[dict, list[dict]]:
        initial, rows = super().initial_for(step)
        initial["match"] = MatchField.format(step.get("match") or {})
        return initial, rows


class ConditionStepForm(StepForm):
    kind, label = "condition", "Check a condition"
    targets = ("then", "otherwise")
    row_formset, row_field = ConditionFormSet, "conditions"
    match = forms.ChoiceField(
        label="Holds when", choices=[("all", "All conditions hold"), ("any", "Any one holds")]
    )
    then = forms.ChoiceField(label="If it holds", required=False)
    otherwise = forms.ChoiceField(label="Else", required=False)

    def fields_of_step(self, data: dict) -> dict:
        found: dict[str, Any] = {"conditions": self.row_values(), "match": data["match"]}
        for name, key in (("then", "then"), ("otherwise", "else")):
            if data.get(name):
                found[key] = data[name]
        return found

    def row_values(self) -> list[dict]:
        return emitted_rows(self, [(form, form.to_condition()) for form in self.rows.forms])

    @classmethod
    def initial_for(cls, step: dict) -> tuple[dict, list[dict]]:
        initial, _ = super().initial_for(step)
        initial["otherwise"] = step.get("else", "")
        initial.pop("conditions", None)
        return initial, [ConditionForm.initial_for(c) for c in step.get("conditions", [])]


class SplitStepForm(StepForm):
    kind, label = "split", "Split (A/B)"
    targets = ()
    row_formset, row_field = BranchFormSet, "branches"

    def fields_of_step(self, data: dict) -> dict:
        return {"branches": self.row_values()}

    def row_values(self) -> list[dict]:
        return emitted_rows(self, [(form, form.to_branch()) for form in self.rows.forms])

    @classmethod
    def initial_for(cls, step: dict) -> tuple[dict, list[dict]]:
        branches = step.get("branches") or [{"weight": 50, "name": n} for n in ("A", "B")]
        return {"id": step.get("id", "")}, [BranchForm.initial_for(b) for b in branches]


class ActionStepForm(StepForm):
    """An action registered with journeys (``journeys/actions.py``): the tag of ``add_tag`` and
    ``remove_tag``, the event of ``webhook``, and a pillar's action's own fields as JSON."""

    kind, label = "action", "Tag the customer, call a webhook, or another action"
    action = forms.ChoiceField(choices=actions.choices)
    tag = forms.CharField(max_length=100, required=False)
    event = forms.CharField(
        max_length=100,
        required=False,
        help_text="For a webhook: journey.<name>, the type your endpoints subscribe to.",
    )
    settings = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={**CODE, "rows": 2, "class": "source"}),
        help_text='Another action\'s own fields, as JSON: {"points": 50}.',
    )
    next = forms.ChoiceField(label="Then", required=False)
    typed = ("tag", "event")  # the fields with their own input

    def clean_settings(self):
        settings = self.cleaned_data.get("settings")
        if settings in (None, ""):
            return {}
        if not isinstance(settings, dict):
            raise forms.ValidationError('An object of fields, e.g. {"points": 50}.')
        return settings

    def fields_of_step(self, data: dict) -> dict:
        action = actions.get(data["action"])
        wanted = action.params.model_fields if action else {}
        found = {"action": data["action"]}
        for name in self.typed:
            if name in wanted:
                found[name] = (data.get(name) or "").strip()
        found.update(data.get("settings") or {})
        return found | super().fields_of_step(data)

    @classmethod
    def initial_for(cls, step: dict) -> tuple[dict, list[dict]]:
        initial, rows = super().initial_for(step)
        own = ("id", "type", "action", "next", *cls.typed)
        settings = {key: value for key, value in step.items() if key not in own}
        initial.pop("settings", None)
        if settings:
            initial["settings"] = settings
        return initial, rows


class ExitStepForm(StepForm):
    kind, label = "exit", "End the journey here"
    targets = ()


STEP_FORMS: dict[str, type[StepForm]] = {
    form.kind: form
    for form in (
        SendStepForm,
        DelayStepForm,
        WaitStepForm,
        ConditionStepForm,
        SplitStepForm,
        ActionStepForm,
        ExitStepForm,
    )
}
STEP_KINDS = [(kind, form.label) for kind, form in STEP_FORMS.items()]
