"""The event types an endpoint can subscribe to, and how a subscription list is checked.

The platform's own types are listed for the dashboard and the docs; integrators' custom events
(posted through the API) have names of their own, so any well-formed name is accepted."""

from __future__ import annotations

import re

from postpurchase.errors import DomainError, ErrorCode

ALL = "*"
MAX_TYPES = 50
TYPE_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
TEST_EVENT_TYPE = "webhook.test"

KNOWN_EVENT_TYPES: tuple[tuple[str, str], ...] = (
    ("order.placed", "An order was placed"),
    ("order.updated", "An order changed"),
    ("order.cancelled", "An order was cancelled"),
    ("order.fulfilled", "Every item of an order has shipped"),
    ("shipment.created", "A shipment was created"),
    ("shipment.in_transit", "A shipment is in transit"),
    ("shipment.out_for_delivery", "A shipment is out for delivery"),
    ("shipment.delivered", "A shipment was delivered"),
    ("shipment.exception", "A carrier reported a problem with a shipment"),
    ("shipment.returned_to_sender", "A shipment is going back to the store"),
    ("shipment.cancelled", "A shipment was cancelled by the store (its fulfillment voided)"),
    ("order.refunded", "A refund was issued on an order"),
    ("customer.redacted", "A customer's personal data was erased (a privacy request)"),
)


def event_types_clean(value) -> list[str]:
    """A subscription list: ``["*"]`` alone, or distinct event type names, sorted."""
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise DomainError(
            ErrorCode.INVALID,
            'Choose at least one event type, or "*" for every event.',
            field="event_types",
        )
    names = []
    for item in value:
        name = item.strip() if isinstance(item, str) else ""
        if name != ALL and (len(name) > 100 or not TYPE_PATTERN.match(name)):
            raise DomainError(
                ErrorCode.INVALID,
                f"{item!r} is not an event type: use lowercase words joined by dots, such as "
                '"order.placed", or "*" for every event.',
                field="event_types",
            )
        names.append(name)
    names = sorted(set(names))
    if ALL in names:
        if len(names) > 1:
            raise DomainError(
                ErrorCode.INVALID,
                '"*" already means every event; leave the other types out.',
                field="event_types",
            )
        return [ALL]
    if len(names) > MAX_TYPES:
        raise DomainError(
            ErrorCode.INVALID,
            f'Subscribe to at most {MAX_TYPES} event types, or to all with "*".',
            field="event_types",
        )
    return names
