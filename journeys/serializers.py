"""How the integrator API shows journeys, and the shape of a simulation request.

Output serializers read what the view loaded: a journey with its live version (one join), its
enrollment counts (``journey.enrollment_counts``, one aggregate query per page) and, for the
detail, its per-step counts (``journey.step_counts``). Input is a pydantic payload, as in the
rest of the API, so errors name the field (``events[2].at``)."""

from __future__ import annotations

import json
from typing import Annotated

from drf_spectacular.utils import extend_schema_field
from pydantic import BaseModel, ConfigDict, Field, field_validator
from rest_framework import serializers

from journeys.models import Journey, JourneyStatus, JourneyVersion
from journeys.schema import EventType
from postpurchase.api.serializers import CachedModelSerializer
from postpurchase.validation import AwareDatetime, ExternalId, no_nul

DEFINITION_HELP = (
    "The journey's definition: trigger, entry rules, exit events, goal, holdout and the graph "
    "of steps with stable ids (see docs/journeys.md)."
)
SIMULATED_EVENTS_MAX = 50  # as journey_simulate takes
SIMULATED_PAYLOAD_LIMIT = 16_384  # characters of JSON, as for a custom event's properties


# --- output ---------------------------------------------------------------------------------


@extend_schema_field({"type": "object", "additionalProperties": True})
class _ObjectField(serializers.JSONField):
    """A JSON object, documented as one."""


@extend_schema_field(
    {"type": "string", "enum": JourneyStatus.values}, component_name="JourneyStatusEnum"
)
class _StatusField(serializers.ChoiceField):
    """A journey's status, as one named enum in the schema (the list and the detail share it;
    drf-spectacular would otherwise name it after a hash, as other resources have a status)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=JourneyStatus.choices, **kwargs)


class EnrollmentCountsSerializer(serializers.Serializer):
    """A journey's enrollments, of every version: ever made, by state, converted, held out."""

    entered = serializers.IntegerField(help_text="Enrollments ever made, in every version.")
    active = serializers.IntegerField(help_text="Due to take their next step.")
    waiting = serializers.IntegerField(help_text="Waiting for an event (or its timeout).")
    completed = serializers.IntegerField(help_text="Reached the end of the journey.")
    exited = serializers.IntegerField(help_text="Left early: an exit event or step, or archived.")
    failed = serializers.IntegerField()
    converted = serializers.IntegerField(help_text="Reached the goal within its window.")
    holdout = serializers.IntegerField(help_text="Held out: sent nothing, measured for lift.")


class LiveVersionSerializer(CachedModelSerializer):
    """The published version new customers enter: its number and what triggers it."""

    class Meta:
        model = JourneyVersion
        fields = ["number", "published_at", "trigger_type", "trigger_event"]
        read_only_fields = fields


class LiveVersionWithDefinitionSerializer(CachedModelSerializer):
    """The published version new customers enter, with its frozen definition."""

    definition = _ObjectField(help_text=DEFINITION_HELP)

    class Meta:
        model = JourneyVersion
        fields = [*LiveVersionSerializer.Meta.fields, "definition"]
        read_only_fields = fields


class JourneySerializer(CachedModelSerializer):
    """A journey, its live version and its enrollments counted by state."""

    status = _StatusField(
        help_text="draft: never published; live: new customers enter; paused: nothing moves; "
        "archived: ended."
    )
    live_version = LiveVersionSerializer(
        allow_null=True, help_text="The published version new enrollments use; null if none."
    )
    counts = EnrollmentCountsSerializer(
        source="enrollment_counts", help_text="Enrollments by state, of every version."
    )

    class Meta:
        model = Journey
        fields = [
            "id",
            "key",
            "name",
            "description",
            "status",
            "live_version",
            "counts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StepCountSerializer(serializers.Serializer):
    """What the live version's enrollments did at one step."""

    entered = serializers.IntegerField(help_text="Enrollments that took this step.")
    outcomes = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="How often each outcome was logged at this step, e.g. queued, "
        "suppressed:no_consent, waiting, timed_out, yes, branch_0.",
    )


class JourneyDetailSerializer(JourneySerializer):
    """A journey with its live definition, what its enrollments did at each step, and its
    draft."""

    live_version = LiveVersionWithDefinitionSerializer(
        allow_null=True, help_text="The published version new enrollments use; null if none."
    )
    step_counts = serializers.DictField(
        child=StepCountSerializer(),
        help_text="Per step id of the live version, in the definition's order: what its "
        "enrollments did there.",
    )
    split_results = serializers.DictField(
        child=serializers.ListField(child=_ObjectField()),
        help_text="Per A/B split step of the live version: for each branch (in the "
        "definition's order) its name, weight, enrollments, conversions and revenue.",
    )
    draft = _ObjectField(help_text="The editable definition. " + DEFINITION_HELP)
    draft_changed = serializers.BooleanField(
        help_text="True when the draft differs from the live version (or nothing is "
        "published): publishing it would make a new version."
    )

    class Meta(JourneySerializer.Meta):
        fields = [
            *JourneySerializer.Meta.fields,
            "step_counts",
            "split_results",
            "draft",
            "draft_changed",
        ]
        read_only_fields = fields


class SimulatedMessageSerializer(serializers.Serializer):
    """The message a send step would send, as the outbox's checks would judge it."""

    template = serializers.CharField(help_text="The template's key.")
    channel = serializers.CharField(help_text="email or sms.")
    status = serializers.CharField(help_text="What would happen: queued, suppressed, deferred…")
    reason = serializers.CharField(help_text="Why it would not go now (no_consent, …), or empty.")
    deferred_until = serializers.DateTimeField(
        allow_null=True, help_text="When quiet hours would let it go."
    )


class SimulatedStepSerializer(serializers.Serializer):
    """One step the customer would take (or an entry, exit, goal or end)."""

    at = serializers.DateTimeField()
    step_id = serializers.CharField(help_text="Empty for entry, end, exit and goal.")
    step_type = serializers.CharField()
    outcome = serializers.CharField()
    detail = serializers.CharField()
    message = SimulatedMessageSerializer(
        allow_null=True, help_text="For a send step: the message it would send."
    )


class SimulatedEndSerializer(serializers.Serializer):
    """Where the simulated enrollment ends up."""

    state = serializers.CharField(help_text="completed, exited, waiting, active…")
    reason = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)


class SimulationSerializer(serializers.Serializer):
    """What would happen to the customer: whether they enter, each step, and the end."""

    entered = serializers.BooleanField(help_text="Whether the customer would enter at all.")
    reason = serializers.CharField(help_text="Why (or why not): trigger, conditions, entry rules.")
    timeline = SimulatedStepSerializer(many=True)
    end = SimulatedEndSerializer()


# --- input ----------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    _nul = field_validator("*")(classmethod(lambda cls, value: no_nul(value)))


class SimulatedEventIn(_In):
    """An event in the simulation: its type, when it happens, and its data."""

    type: Annotated[EventType, Field(examples=["order.placed"])]
    at: AwareDatetime
    payload: dict = Field(default_factory=dict, description="The event's data, as it would come.")

    @field_validator("payload")
    @classmethod
    def _size(cls, value: dict) -> dict:
        try:
            dumped = json.dumps(value, allow_nan=False, ensure_ascii=False)
        except ValueError:
            raise ValueError("must be valid JSON (no NaN or Infinity)") from None
        if len(dumped) > SIMULATED_PAYLOAD_LIMIT:
            raise ValueError(f"must be at most {SIMULATED_PAYLOAD_LIMIT} characters as JSON")
        return value


class JourneySimulateIn(_In):
    """``POST /journeys/{id}/simulate``: who, what happens to them, and from when."""

    customer_id: int | None = Field(default=None, ge=1, description="Our customer id.")
    customer_external_id: ExternalId | None = Field(
        default=None, description="The customer's id in your system."
    )
    events: Annotated[list[SimulatedEventIn], Field(max_length=SIMULATED_EVENTS_MAX)] = Field(
        default_factory=list,
        description="What happens (taken in time order); for an event-triggered journey the "
        "first that triggers it enters the customer.",
    )
    start: AwareDatetime | None = Field(
        default=None, description="When the simulation starts (default: the first event, or now)."
    )
    draft: bool = Field(
        default=False,
        description="Simulate the draft (as if published now) instead of the live version.",
    )

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        if (self.customer_id is None) == (self.customer_external_id is None):
            message = "name the customer by customer_id or customer_external_id (one)"
            return {"customer_id": [{"code": "invalid", "message": message}]}
        return {}
