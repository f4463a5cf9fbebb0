"""The event log's error codes: recording platform and custom events."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class EventsErrorCode(DomainErrorCode):
    INVALID = "invalid", "An event or its body has the wrong shape (each field says why)."
    UNKNOWN_EVENT_TYPE = (
        "unknown_event_type",
        "A platform event type the event catalogue does not declare.",
    )
    PAYLOAD_MISMATCH = (
        "payload_mismatch",
        "A platform event's payload does not match its type's model.",
    )
