"""What the journeys pages' tests share: a definition as the editor writes it back, a journey
made (and published) in one call, enrollments in a given state, the journeys' rows, and the
editor's form read back from a page, changed, and posted as a browser would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from journeys.models import Enrollment, Journey, JourneyVersion
from journeys.services import journey_publish, journey_save
from tests.factories import CustomerFactory

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
# A definition as the editor writes it back, so saving the page unchanged keeps it as it is.
DEFINITION = {
    "trigger": {
        "type": "event",
        "event": "order.placed",
        "conditions": [{"path": "event.total", "op": "gt", "value": 100}],
    },
    "entry": {
        "per": "order",
        "reentry": "always",
        "cooldown_hours": 0,
        "max_entries": None,
        "max_age_hours": 24,
    },
    "exit_events": ["order.cancelled"],
    "holdout_percent": 10,
    "start": "hello",
    "steps": [
        {"id": "hello", "type": "send", "template": "hello", "next": "wait"},
        {
            "id": "wait",
            "type": "delay",
            "days": 3,
            "at": "10:00",
            "weekdays": [0, 2],
            "next": "ask",
        },
        {"id": "ask", "type": "send", "template": "reminder", "fallback_template": "hello"},
    ],
    "goal": {"event": "review.submitted", "within_hours": 336},
}


def make_journey(merchant, *, key="welcome", name="Welcome", definition=None, publish=True):
    journey = journey_save(
        merchant=merchant, key=key, name=name, definition=definition or DEFINITION, now=T0
    )
    if publish:
        journey_publish(journey=journey, now=T0)
        journey.refresh_from_db()
    return journey


def enroll(journey, state, *, converted=False, holdout=False, entered_at=T0) -> Enrollment:
    customer = CustomerFactory(merchant=journey.merchant)
    return Enrollment.unscoped.create(
        merchant=journey.merchant,
        journey=journey,
        version=journey.live_version,
        customer=customer,
        key="customer",
        state=state,
        current_step="wait" if state in ("active", "waiting") else "",
        next_run_at=T0 + timedelta(days=3) if state in ("active", "waiting") else None,
        converted_at=T0 if converted else None,
        holdout=holdout,
        entered_at=entered_at,
    )


def journey_rows():
    return [
        list(Journey.unscoped.order_by("pk").values()),
        list(JourneyVersion.unscoped.order_by("pk").values()),
        list(Enrollment.unscoped.order_by("pk").values()),
    ]


class _FormReader(HTMLParser):
    """What a browser would post from the page's ``<form id=…>``: its fields' current values."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, []
        self.select, self.options, self.textarea = None, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and attrs.get("name") and attrs.get("type") != "submit":
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.data.append((attrs["name"], attrs.get("value", "on")))
            else:
                self.data.append((attrs["name"], attrs.get("value", "")))
        elif tag == "select":
            self.select, self.options = attrs.get("name"), []
        elif tag == "option" and self.select:
            self.options.append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea":
            self.textarea = [attrs["name"], ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select:
            chosen = [value for value, selected in self.options if selected] or [
                value for value, _ in self.options[:1]
            ]
            self.data.extend((self.select, value) for value in chosen)
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.data.append((self.textarea[0], self.textarea[1].removeprefix("\n")))
            self.textarea = None


def page_data(response, form_id="journey-form", **changes) -> dict:
    """The editor's POST as the page would send it, with ``changes`` (keys as the fields' names;
    dashes may be written as ``__``)."""
    reader = _FormReader(form_id)
    reader.feed(response.content.decode())
    data: dict = {}
    for name, value in reader.data:
        if name in data:
            data[name] = (
                [*data[name], value] if isinstance(data[name], list) else [data[name], value]
            )
        else:
            data[name] = value
    data.pop("csrfmiddlewaretoken", None)
    data.update({key.replace("__", "-"): value for key, value in changes.items()})
    return data
