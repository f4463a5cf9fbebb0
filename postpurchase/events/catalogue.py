"""The event catalogue: every event type the platform records, declared once by the app that
owns it, with a label, a description and a pydantic model of its payload.

Journeys, outbound webhooks, integrators and analytics read payloads by key; the model is the
contract they read against, so a renamed key is caught by a test instead of silently breaking a
journey's condition or an integrator's parser. Each app declares its types in ``<app>/events.py``
and registers them in its ``AppConfig.ready()``; ``docs/events.md`` is generated from here
(``manage.py events_doc``) and a test keeps it equal to the code.

Names: lowercase ASCII words (letters, digits, ``_``) joined by dots, at most 100 characters
(``TYPE_PATTERN``, the one pattern every part of the platform checks names against). The first
word is the **namespace**. A namespace an app reserves (``order``, ``shipment``, ``journey``…)
is the platform's alone: every type in it must be registered, and integrators' custom events
(``POST /api/v1/events``) may not use it. A type may also be registered outside a reserved
namespace (``customer.redacted``): that one name is then the platform's, the rest of the
namespace stays open to custom events. A family, ``journey.*``, stands for every type of its
namespace that is not registered by name (a journey's webhook action names its own event).

Payload checks (``event_payload_check``) run on every event ``event_record`` records whose type
has a model, and on the first event of each type of an ``event_record_many`` batch (a batch's
payloads of one type come from one builder; one check per type keeps bulk ingestion's cost
flat). What a mismatch does is ``settings.EVENT_PAYLOAD_VALIDATION``: ``"strict"`` (the
default with ``DEBUG`` on, and the test suite's) raises a ``DomainError`` naming the type and
the field, so a producer drifting from its declaration fails where it is written; ``"log"``
(production's default, the safety valve) logs that error and records the event as built, so
an order is never refused because the description of its event lags behind the code. Unknown
platform types are refused in both modes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from pydantic import BaseModel, ConfigDict, ValidationError

from postpurchase.errors import DomainError
from postpurchase.events.errors import EventsErrorCode

logger = logging.getLogger(__name__)

TYPE_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"
TYPE_MAX_LENGTH = 100
FAMILY_SUFFIX = ".*"
VALIDATION_MODES = ("log", "strict")
CHECKED_NAMES_KEPT = 10_000
_TYPE_RE = re.compile(TYPE_PATTERN)


class Payload(BaseModel):
    """Base of every payload model: exactly the keys listed, each of exactly its JSON type
    (strict: ``"5"`` is not an id, ``1`` is not text), so a renamed or retyped key fails."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


@dataclass(frozen=True)
class EventType:
    """One event type. ``name`` is ``namespace.word…``, or ``namespace.*`` for a family;
    ``label`` is a short phrase for lists (the webhook form, the journey editor);
    ``description`` says when it is recorded; ``owner`` is the app label that records it."""

    name: str
    label: str
    payload_model: type[BaseModel]
    owner: str
    description: str = ""

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def is_family(self) -> bool:
        return self.name.endswith(FAMILY_SUFFIX)


@dataclass(frozen=True)
class Namespace:
    """A namespace an app keeps for the platform (``order`` for ``order.*``)."""

    name: str
    owner: str
    description: str


class EventCatalogue:
    """The registry itself. Registering the same declaration twice is harmless (an app's
    ``ready()`` may run again in a test); two different declarations of one name are a bug."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}
        self._namespaces: dict[str, Namespace] = {}
        # Names already checked, with their declaration (None: a custom type): recording looks
        # a name up once, not with a regular expression per event. Cleared on registration.
        self.checked: dict[str, EventType | None] = {}

    def register(self, event_type: EventType) -> EventType:
        if event_type.is_family:
            if not re.fullmatch(r"[a-z0-9_]+\.\*", event_type.name):
                raise ValueError(f"{event_type.name!r} is not a family: name it 'namespace.*'")
            if event_type.namespace not in self._namespaces:
                raise ValueError(f"reserve {event_type.namespace!r} before its family")
        elif not type_name_valid(event_type.name):
            raise ValueError(f"{event_type.name!r} is not an event type name")
        existing = self._types.get(event_type.name)
        if existing is not None and existing != event_type:
            raise ValueError(f"{event_type.name!r} is already registered by {existing.owner}")
        self._types[event_type.name] = event_type
        self.checked.clear()
        return event_type

    def reserve(self, namespace: Namespace) -> Namespace:
        if not re.fullmatch(r"[a-z0-9_]+", namespace.name):
            raise ValueError(f"{namespace.name!r} is not a namespace")
        existing = self._namespaces.get(namespace.name)
        if existing is not None and existing != namespace:
            raise ValueError(f"the {namespace.name!r} namespace is already {existing.owner}'s")
        self._namespaces[namespace.name] = namespace
        self.checked.clear()
        return namespace

    def get(self, name: str) -> EventType | None:
        """The declaration ``name`` is recorded under: its own, or its namespace's family."""
        found = self._types.get(name)
        if found is None and "." in name:
            found = self._types.get(name.split(".", 1)[0] + FAMILY_SUFFIX)
        return found

    def is_platform(self, name: str) -> bool:
        """A name only the platform records: in a reserved namespace, or registered by name."""
        return name.split(".", 1)[0] in self._namespaces or name in self._types

    def types(self) -> Iterator[EventType]:
        """Every declaration, families included, in registration order."""
        return iter(tuple(self._types.values()))

    def namespaces(self) -> Iterator[Namespace]:
        return iter(sorted(self._namespaces.values(), key=lambda n: n.name))

    def unregister(self, name: str) -> None:
        """For tests that declare a type of their own."""
        self._types.pop(name, None)
        self.checked.clear()


catalogue = EventCatalogue()


def type_name_valid(name: object) -> bool:
    """Whether ``name`` has the form of an event type (``order.placed``)."""
    return isinstance(name, str) and len(name) <= TYPE_MAX_LENGTH and bool(_TYPE_RE.match(name))


def event_type_register(
    *, name: str, label: str, payload: type[BaseModel], owner: str, description: str = ""
) -> EventType:
    """Declare an event type (in the owning app's ``ready()``, from its ``events.py``)."""
    return catalogue.register(
        EventType(
            name=name, label=label, payload_model=payload, owner=owner, description=description
        )
    )


def event_namespace_reserve(*, name: str, owner: str, description: str) -> Namespace:
    """Keep ``name.*`` for the platform: custom events may not use it, and a type in it that
    no app registered is refused."""
    return catalogue.reserve(Namespace(name=name, owner=owner, description=description))


def event_type_get(name: str) -> EventType | None:
    return catalogue.get(name)


def event_types_listed() -> list[EventType]:
    """The types one can pick by name (the webhook form, the journey editor), in the order
    their apps declared them; families are not a name one can pick."""
    return [t for t in catalogue.types() if not t.is_family]


def reserved_namespaces() -> frozenset[str]:
    return frozenset(n.name for n in catalogue.namespaces())


def platform_type_is(name: str) -> bool:
    """Whether ``name`` is the platform's: an integrator's custom event may not use it."""
    return catalogue.is_platform(name)


def reserved_types_pattern() -> str:
    """A regular expression matching every platform name, for the API schema's ``not``."""
    namespaces = "|".join(sorted(reserved_namespaces()))
    named = [
        re.escape(t.name) for t in event_types_listed() if t.namespace not in reserved_namespaces()
    ]
    pattern = f"^({namespaces})\\."
    return pattern + (f"|^({'|'.join(sorted(named))})$" if named else "")


def event_type_check(name: object) -> EventType | None:
    """Refuse a name that is not an event type's, or a platform name no app registered (a typo
    such as ``order.plcaed`` would otherwise be recorded and never trigger anything). Returns
    the declaration, or ``None`` for a custom type."""
    try:
        return catalogue.checked[name]
    except (KeyError, TypeError):  # not seen yet, or not even a string
        pass
    if not type_name_valid(name):
        raise DomainError(
            EventsErrorCode.INVALID,
            "An event type is lowercase words separated by dots, such as 'order.placed'.",
            field="type",
        )
    found = catalogue.get(name)
    if found is None and catalogue.is_platform(name):
        raise DomainError(
            EventsErrorCode.UNKNOWN_EVENT_TYPE,
            f"{name!r} is not an event type the platform records "
            f"({name.split('.', 1)[0]}.* types are declared in the event catalogue).",
            field="type",
        )
    if len(catalogue.checked) >= CHECKED_NAMES_KEPT:  # integrators' names are not bounded
        catalogue.checked.clear()
    catalogue.checked[name] = found
    return found


def event_payload_check(event_type: EventType | None, payload: dict[str, Any] | None) -> None:
    """Hold ``payload`` to ``event_type``'s model (see the module's note on the two modes)."""
    if event_type is None:
        return
    try:
        event_type.payload_model.__pydantic_validator__.validate_python(payload or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        message = (
            f"The payload of a {event_type.name!r} event does not match its model: "
            f"{where}: {error['msg']}."
        )
        if getattr(settings, "EVENT_PAYLOAD_VALIDATION", "log") == "strict":
            raise DomainError(
                EventsErrorCode.PAYLOAD_MISMATCH, message, field=f"payload.{where}"
            ) from None
        logger.error(message)


def event_record_check(name: object, payload: dict[str, Any] | None) -> None:
    """What ``event_record`` checks of one event: its type, then its payload."""
    event_payload_check(event_type_check(name), payload)


def event_records_check(events: Iterable[tuple[object, dict[str, Any] | None]]) -> None:
    """What ``event_record_many`` checks of a batch: every event's type, and the payload of
    the first event of each type. A batch's payloads of one type are built by one function
    (the bulk engine's), so the first shows any drift of its keys; checking one per type keeps
    the check out of bulk ingestion's cost."""
    checked: set[object] = set()
    for name, payload in events:
        event_type = event_type_check(name)
        if name not in checked:
            checked.add(name)
            event_payload_check(event_type, payload)
