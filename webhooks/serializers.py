"""How the integrator API reads and shows webhook endpoints and deliveries. Input serializers
only check shapes; the services validate meaning (URL destination, event type names)."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from postpurchase.api.serializers import StrictBooleanField, StrictCharField
from postpurchase.events.catalogue import TYPE_MAX_LENGTH
from webhooks.event_types import ALL, MAX_TYPES, TYPE_PATTERN, known_event_types
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

EVENT_TYPES_HELP = (
    'Event types to receive, or ["*"] for every event. Built-in types: '
    + ", ".join(name for name, _ in known_event_types())
    + "; custom events posted through the API are matched by their own names."
)
URL_HELP = (
    "Where to POST events: an http(s) URL whose host resolves only to public addresses "
    "(private, loopback, link-local and reserved addresses are refused). Redirects are not "
    "followed."
)


@extend_schema_field(
    {
        "oneOf": [
            # Repeats count once (["*", "*"] is ["*"]), so neither list has a maximum length
            # of items; at most MAX_TYPES distinct names.
            {"type": "array", "items": {"type": "string", "enum": [ALL]}, "minItems": 1},
            {
                "type": "array",
                "items": {
                    "type": "string",
                    "maxLength": TYPE_MAX_LENGTH,
                    "pattern": TYPE_PATTERN.pattern,
                },
                "minItems": 1,
            },
        ],
        "description": f"{EVENT_TYPES_HELP} At most {MAX_TYPES} distinct types.",
    }
)
class EventTypesField(serializers.ListField):
    """``["*"]`` alone, or up to ``MAX_TYPES`` lowercase dotted names: the schema says what
    ``event_types_clean`` enforces."""


class WebhookEndpointInSerializer(serializers.Serializer):
    url = StrictCharField(max_length=2000, help_text=URL_HELP)
    description = StrictCharField(
        max_length=200, required=False, allow_blank=True, help_text="A note for your team."
    )
    event_types = EventTypesField(
        child=StrictCharField(max_length=100), min_length=1, help_text=EVENT_TYPES_HELP
    )
    enabled = StrictBooleanField(
        required=False,
        help_text="Only on PATCH: false stops sending (pending deliveries are cancelled); true "
        "starts again with a clean failure count.",
    )


class WebhookEndpointHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["healthy", "failing", "disabled"],
        source="health",
        help_text="failing: the last attempt failed; disabled: nothing is sent.",
    )
    consecutive_failures = serializers.IntegerField(
        help_text="Failed attempts in a row since the last success."
    )
    failing_since = serializers.DateTimeField(
        allow_null=True, help_text="The first failure of the current streak."
    )
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_failure_at = serializers.DateTimeField(allow_null=True)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.CharField(help_text=URL_HELP)
    event_types = serializers.ListField(child=serializers.CharField(), help_text=EVENT_TYPES_HELP)
    disabled_reason = serializers.CharField(
        help_text="Why the endpoint was disabled (by you, or after it kept failing)."
    )
    health = WebhookEndpointHealthSerializer(source="*")

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_at",
            "disabled_reason",
            "health",
            "created_at",
            "updated_at",
        ]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text="The signing secret (whsec_…). Shown only in this response: store it now.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    status_code = serializers.IntegerField(
        allow_null=True, help_text="The HTTP status answered; null when no answer came."
    )
    latency_ms = serializers.IntegerField(help_text="Time to the answer, in milliseconds.")
    response_excerpt = serializers.CharField(help_text="The first kilobyte of the answer's body.")
    error = serializers.CharField(help_text="Why it failed (timeout, refused, HTTP status).")

    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "attempted_at",
            "succeeded",
            "status_code",
            "latency_ms",
            "response_excerpt",
            "error",
        ]


@extend_schema_field({"type": "object", "additionalProperties": True})
class _PayloadField(serializers.Field):
    def __init__(self, **kwargs) -> None:
        super().__init__(source="body", read_only=True, **kwargs)

    def to_representation(self, body: str):
        return json.loads(body)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    message_id = serializers.CharField(help_text="Sent as the webhook-id header; same on retries.")
    event_id = serializers.IntegerField(
        allow_null=True, help_text="The event delivered; null for a test event."
    )
    status = serializers.ChoiceField(
        choices=WebhookDelivery._meta.get_field("status").choices,
        help_text="pending (will be tried), succeeded, failed (gave up after 24 hours, 15 "
        "attempts or a 410 Gone), cancelled (the endpoint was disabled).",
    )
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="When it will be tried next, while pending."
    )
    payload = _PayloadField(help_text="The JSON body sent.")
    attempts = WebhookAttemptSerializer(source="attempt_log", many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "message_id",
            "event_type",
            "event_id",
            "status",
            "next_attempt_at",
            "first_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "created_at",
            "payload",
            "attempts",
        ]
