"""The event types an endpoint can subscribe to, and how a subscription list is checked.

The platform's own types come from the event catalogue (``postpurchase.events.catalogue``), for
the dashboard and the docs; integrators' custom events (posted through the API) have names of
their own, so any well-formed name is accepted."""

from __future__ import annotations

import re

from postpurchase.errors import DomainError
from postpurchase.events.catalogue import TYPE_MAX_LENGTH, event_types_listed
from postpurchase.events.catalogue import TYPE_PATTERN as CATALOGUE_TYPE_PATTERN
from webhooks.errors import WebhooksErrorCode
from webhooks.events import WEBHOOK_TEST

ALL = "*"
MAX_TYPES = 50
TYPE_PATTERN = re.compile(CATALOGUE_TYPE_PATTERN)
TEST_EVENT_TYPE = WEBHOOK_TEST


def known_event_types() -> list[tuple[str, str]]:
    """``(name, label)`` of every type the platform records, as its apps declared them (read
    when asked: the catalogue is filled in the apps' ``ready()``)."""
    return [(event_type.name, event_type.label) for event_type in event_types_listed()]


def event_types_clean(value) -> list[str]:
    """A subscription list: ``["*"]`` alone, or distinct event type names, sorted."""
    choose = 'Choose at least one event type, or "*" for every event.'
    if value is None or (isinstance(value, list | tuple) and not value):
        raise DomainError(WebhooksErrorCode.NO_EVENT_TYPES, choose, field="event_types")
    if not isinstance(value, list | tuple):  # a text or an object: the wrong shape
        raise DomainError(WebhooksErrorCode.INVALID, choose, field="event_types")
    names = []
    for item in value:
        name = item.strip() if isinstance(item, str) else ""
        if name != ALL and (len(name) > TYPE_MAX_LENGTH or not TYPE_PATTERN.match(name)):
            raise DomainError(
                WebhooksErrorCode.INVALID,
                f"{item!r} is not an event type: use lowercase words joined by dots, such as "
                '"order.placed", or "*" for every event.',
                field="event_types",
            )
        names.append(name)
    names = sorted(set(names))
    if ALL in names:
        if len(names) > 1:
            raise DomainError(
                WebhooksErrorCode.INVALID,
                '"*" already means every event; leave the other types out.',
                field="event_types",
            )
        return [ALL]
    if len(names) > MAX_TYPES:
        raise DomainError(
            WebhooksErrorCode.TOO_MANY_EVENT_TYPES,
            f'Subscribe to at most {MAX_TYPES} event types, or to all with "*".',
            field="event_types",
        )
    return names
