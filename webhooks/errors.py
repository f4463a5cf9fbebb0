"""Outbound webhooks' error codes: registering and changing a merchant's endpoints."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class WebhooksErrorCode(DomainErrorCode):
    INVALID = "invalid", "A field has the wrong shape or value (each field says why)."
    DESTINATION_NOT_ALLOWED = (
        "destination_not_allowed",
        "The URL's host is, or resolves to, a private, loopback or otherwise non-public address.",
    )
    NO_EVENT_TYPES = "no_event_types", 'No event type chosen (use "*" for every event).'
    TOO_MANY_EVENT_TYPES = (
        "too_many_event_types",
        'More event types than an endpoint takes: subscribe to all with "*".',
    )
    ENDPOINT_LIMIT_REACHED = (
        "endpoint_limit_reached",
        "The merchant has as many endpoints as it may: delete one first.",
    )
    NOT_UPDATABLE = "not_updatable", "The field cannot be changed."
    ENDPOINT_DISABLED = "endpoint_disabled", "A disabled endpoint is sent no test event."
