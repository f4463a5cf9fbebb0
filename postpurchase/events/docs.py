"""``docs/events.md``, made from the event catalogue: every type with its description and its
payload's keys. ``manage.py events_doc`` writes it; a test fails when the committed page and
the catalogue differ, so the page cannot drift from the code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from postpurchase.events.catalogue import EventType, catalogue

INTRO = """\
# Events

Every change the platform notices is recorded as an **event** in the event log, in the same
transaction as the change (see [the spine](spine.md#the-event-log)). Journeys start,
wait for and end on events; outbound [webhooks](webhooks.md) send them to integrators, with the
payload below as `data` (plus `event_id` and `customer`).

This page is generated from the event catalogue (`postpurchase/events/catalogue.py`, filled by
each app's `events.py`) with `python manage.py events_doc`; a test fails when it differs from
the code. Each payload is exactly the keys listed: a key marked *optional* is left out, not
`null`, when it does not apply.

A type in a **reserved namespace** is the platform's: one that no app declared is refused, and
integrators' custom events (`POST /api/v1/events`, such as `product.setup_completed`) may not
use the namespace. A type the platform declares outside a reserved namespace (such as
`customer.redacted`) is refused as a custom event too; the rest of that namespace is open.

`event_record` holds every event to this page (`event_record_many`, the bulk path, the first
of each type in a batch): a platform type no app declared is refused, and a payload that does
not match its model is refused naming the type and the key (`EVENT_PAYLOAD_VALIDATION=strict`,
the default with `DEBUG` on and in the test suite, so a producer drifting from this page fails
where it is written) or, in production (`log`, its default, the safety valve), recorded as
built with an error logged, so a description lagging behind the code never costs an order.
A journey simulation holds the events it is given to this page in either mode.
"""


def _type_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A property's JSON schema in words: ``string``, ``list of string``, ``string or null``."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        keys = ", ".join(
            f"`{name}` ({_type_of(prop, defs)})" for name, prop in target["properties"].items()
        )
        return f"object: {keys}"
    if "anyOf" in schema:
        return " or ".join(_type_of(option, defs) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(schema.get('items', {}), defs)}"
    return "null" if kind == "null" else kind


def payload_rows(model: type[BaseModel]) -> list[str]:
    """The payload's keys as Markdown table rows, in the model's order."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema["properties"].items():
        words = _type_of(prop, defs)
        note = prop.get("description", "")
        if name not in required:
            note = f"*optional*: {note}" if note else "*optional*"
        rows.append(f"| `{name}` | {words} | {note} |")
    return rows


def _type_section(event_type: EventType) -> list[str]:
    lines = [
        f"### `{event_type.name}`",
        "",
        f"{event_type.description or event_type.label} Declared by `{event_type.owner}`.",
        "",
        "| key | type | meaning |",
        "|---|---|---|",
        *payload_rows(event_type.payload_model),
        "",
    ]
    return lines


def events_doc() -> str:
    """The whole page, as the catalogue holds it now."""
    lines = [INTRO, "## Reserved namespaces", "", "| namespace | owner | what |", "|---|---|---|"]
    for namespace in catalogue.namespaces():
        lines.append(f"| `{namespace.name}.*` | `{namespace.owner}` | {namespace.description} |")
    lines += ["", "## Types", ""]
    for event_type in catalogue.types():
        lines += _type_section(event_type)
    return "\n".join(lines).rstrip("\n") + "\n"
