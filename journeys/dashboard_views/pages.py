"""The journeys pages: the list with live counts and the blueprints to install, and a journey's
page (its live version, counts, versions, and the draft editor in forms or as JSON). Anyone may
read them; changing a journey needs ``Perm.EDIT_CONTENT``, as message templates do."""

from __future__ import annotations

import importlib
from types import ModuleType

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views import View

from journeys.dashboard_views.describe import (
    JOURNEY_TONES,
    entry_in_words,
    goal_in_words,
    plural,
    step_in_words,
    trigger_in_words,
)
from journeys.dashboard_views.editor import Editor, EditorState
from journeys.facts import facts
from journeys.forms import DefinitionJsonForm
from journeys.models import Journey, JourneyStatus
from journeys.schema import MAX_AGE_HOURS
from journeys.selectors import journey_counts, journey_draft_changed, journeys_with_counts
from journeys.services import journey_save
from journeys.step_forms import STEP_KINDS
from notifications.models import Kind, MessageTemplate
from orders.events import ORDER_PLACED
from postpurchase.dashboard.formatting import event_label
from postpurchase.dashboard.mixins import DashboardMixin, ScopedListView
from postpurchase.errors import DomainError
from postpurchase.events.catalogue import event_types_listed
from postpurchase.tenancy.permissions import Perm, role_has_perm

VERSION_HISTORY_LENGTH = 10
# Offered as one types a condition's path (any path of journeys/schema.py's form may be typed).
PATH_SUGGESTIONS = (
    "event.total",
    "customer.orders_count",
    "customer.total_spent",
    "customer.tags",
    "customer.email_marketing_consent",
    "customer.locale",
    "order.total",
    "order.categories",
    "order.skus",
    "order.line_count",
)
KIND_LABELS = dict(Kind.choices)
STARTER_STEP = {"id": "send_1", "type": "send", "template": ""}


def blueprints_module() -> ModuleType | None:
    """``journeys.blueprints``, once it is there (it is written alongside these pages)."""
    try:
        return importlib.import_module("journeys.blueprints")
    except ModuleNotFoundError as error:
        if error.name != "journeys.blueprints":
            raise
        return None


def blueprint_rows(merchant) -> list[dict]:
    """The blueprints the merchant may install, each with ``key``, ``name``, ``description``,
    ``kind`` (in words), ``installed`` and the installed journey's id (``journey_id``)."""
    module = blueprints_module()
    rows = []
    for choice in module.blueprints_available(merchant=merchant) if module else []:
        blueprint = getattr(choice, "blueprint", choice)
        kind = getattr(blueprint, "kind", "")
        rows.append(
            {
                "key": blueprint.key,
                "name": blueprint.name,
                "description": blueprint.description,
                "kind": KIND_LABELS.get(kind, kind),
                "installed": choice.installed,
                "journey_id": getattr(choice, "journey_id", None),
                "needs": getattr(choice, "needed_features", []),
            }
        )
    return rows


def journey_or_404(pk: int) -> Journey:
    """One of the current merchant's journeys; another merchant's is not there (404)."""
    journey = (
        Journey.objects.select_related("live_version", "live_version__published_by")
        .filter(pk=pk)
        .first()
    )
    if journey is None:
        raise Http404("No such journey.")
    return journey


def definition_summary(definition: dict) -> dict:
    """A definition in words, for the live version's card."""
    event_trigger = definition.get("trigger", {}).get("type", "event") == "event"
    max_age = definition.get("entry", {}).get("max_age_hours", MAX_AGE_HOURS)
    return {
        "trigger": trigger_in_words(definition.get("trigger", {})),
        "entry": entry_in_words(definition.get("entry", {})),
        "max_age": plural(max_age, "hour") if event_trigger else "",
        "exit_events": [event_label(name) for name in definition.get("exit_events", [])],
        "goal": goal_in_words(definition.get("goal")),
        "holdout_percent": definition.get("holdout_percent", 0),
        "start": definition.get("start", ""),
        "steps": [(step.get("id"), step_in_words(step)) for step in definition.get("steps", [])],
    }


class JourneyListView(ScopedListView):
    required_perm = Perm.VIEW
    model = Journey
    template_name = "journeys/list.html"
    context_object_name = "journeys"

    def filter_scoped(self, queryset):
        return journeys_with_counts(journeys=queryset).order_by("name", "id")

    def get_context_data(self, **kwargs):
        journeys = list(self.object_list)
        for journey in journeys:
            shown = journey.live_version.definition if journey.live_version else journey.draft
            journey.tone = JOURNEY_TONES.get(journey.status, "neutral")
            journey.trigger_words = trigger_in_words(shown.get("trigger", {}))
        return super().get_context_data(
            journeys=journeys,
            blueprints=blueprint_rows(self.merchant),
            can_edit=role_has_perm(self.membership.role, Perm.EDIT_CONTENT),
            **kwargs,
        )


class _EditorPage(DashboardMixin, View):
    """What a journey's page and the new-journey page share: the editor and the page."""

    template_name = "journeys/detail.html"

    def templates(self) -> list[tuple[str, str]]:
        templates = MessageTemplate.objects.order_by("name", "id")
        return [(t.key, f"{t.name} ({t.get_channel_display()})") for t in templates]

    def stored_editor(self, journey: Journey) -> Editor:
        state = EditorState.of(
            name=journey.name,
            key=journey.key,
            description=journey.description,
            definition=journey.draft,
        )
        return Editor(templates=self.templates(), state=state)

    def render(self, *, journey: Journey | None, editor: Editor, json_form=None, note: str = ""):
        can_edit = role_has_perm(self.membership.role, Perm.EDIT_CONTENT)
        context = {
            "journey": journey,
            "editor": editor,
            "note": note,
            "can_edit": can_edit,
            "step_kinds": STEP_KINDS,
            "event_types": [(t.name, t.label) for t in event_types_listed()],
            # the common ones first, then every registered fact (a pillar's too)
            "path_suggestions": list(dict.fromkeys([*PATH_SUGGESTIONS, *facts.paths()])),
        }
        if journey is not None:
            version = journey.live_version
            context.update(
                tone=JOURNEY_TONES.get(journey.status, "neutral"),
                live=definition_summary(version.definition) if version else None,
                counts=journey_counts(journey=journey),
                versions=journey.versions.select_related("published_by")[:VERSION_HISTORY_LENGTH],
                unpublished=journey_draft_changed(journey=journey),
                json_form=json_form
                or DefinitionJsonForm(initial=DefinitionJsonForm.initial_for(journey.draft)),
            )
        return TemplateResponse(self.request, self.template_name, context)

    def post_editor(self, journey: Journey | None):
        """Save the posted editor, or add or remove a step in it (saving nothing)."""
        editor = Editor(templates=self.templates(), data=self.request.POST)
        action = self.request.POST.get("action", "save")
        if action == "add" or action.startswith("remove:"):
            state = editor.state()
            if action == "add":
                state.add_step(self.request.POST.get("new_step", ""))
                note = "Step added. Save the draft to keep it."
            else:
                index = action.partition(":")[2]
                state.remove_step(int(index) if index.isdigit() else -1)
                note = "Step removed. Save the draft to keep it."
            editor = Editor(templates=self.templates(), state=state)
            return self.render(journey=journey, editor=editor, note=note)
        if not editor.is_valid():
            return self.render(journey=journey, editor=editor)
        try:
            saved = journey_save(
                merchant=self.merchant,
                definition=editor.definition(),
                journey=journey,
                **editor.journey_fields(),
            )
        except DomainError as error:
            if journey is not None:
                journey.refresh_from_db()  # the service set the refused values on it
            editor.add_domain_error(error)
            return self.render(journey=journey, editor=editor)
        if saved.status == JourneyStatus.DRAFT:
            messages.success(self.request, "Draft saved. Publish it to start it.")
        else:
            messages.success(self.request, "Draft saved. Publish it to make it the live version.")
        return redirect("dashboard:journey_detail", pk=saved.pk)


class JourneyDetailView(_EditorPage):
    """The journey: its live version, counts and versions, and the draft editor (read-only for
    roles that may not edit)."""

    required_perm = Perm.VIEW

    def get(self, request, pk: int):
        journey = journey_or_404(pk)
        return self.render(journey=journey, editor=self.stored_editor(journey))


class JourneyCreateView(_EditorPage):
    required_perm = Perm.EDIT_CONTENT

    def get(self, request):
        templates = self.templates()
        step = {**STARTER_STEP, "template": templates[0][0] if templates else ""}
        definition = {"trigger": {"event": ORDER_PLACED}, "start": "send_1", "steps": [step]}
        state = EditorState.of(name="", key="", description="", definition=definition)
        return self.render(journey=None, editor=Editor(templates=templates, state=state))

    def post(self, request):
        return self.post_editor(None)


class JourneySaveView(_EditorPage):
    required_perm = Perm.EDIT_CONTENT
    http_method_names = ["post"]

    def post(self, request, pk: int):
        return self.post_editor(journey_or_404(pk))


class JourneyJsonSaveView(_EditorPage):
    """The definition as JSON, checked and saved the same way as the forms'."""

    required_perm = Perm.EDIT_CONTENT
    http_method_names = ["post"]

    def post(self, request, pk: int):
        journey = journey_or_404(pk)
        form = DefinitionJsonForm(request.POST)
        if form.is_valid():
            try:
                journey_save(
                    merchant=self.merchant,
                    key=journey.key,
                    name=journey.name,
                    description=journey.description,
                    definition=form.cleaned_data["definition"],
                    journey=journey,
                )
            except DomainError as error:
                journey.refresh_from_db()
                for path, problems in (error.fields or {"": [{"message": error.message}]}).items():
                    for problem in problems:
                        where = f"{path}: " if path else ""
                        form.add_error("definition", f"{where}{problem['message']}")
            else:
                messages.success(request, "Draft saved from its JSON.")
                return redirect("dashboard:journey_detail", pk=journey.pk)
        return self.render(journey=journey, editor=self.stored_editor(journey), json_form=form)
