"""The journeys pages: the list with exact counts and the blueprints, the draft editor (saved
exactly, steps added and removed, errors at the step they are about, JSON), publishing,
pausing and resuming, enrollments and their step log, and what a viewer may do. Who may open
what, and other merchants' rows, are in tests/dashboard/test_access.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pydantic import BaseModel, ConfigDict

from journeys.actions import ActionResult, actions
from journeys.blueprints import BLUEPRINTS, blueprint_get, journey_blueprint_install
from journeys.facts import Fact, facts
from journeys.models import Enrollment, Journey, JourneyVersion
from journeys.schema import Definition
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications.models import Message
from notifications.services import message_template_save
from postpurchase.events.services import event_record
from postpurchase.tenancy.permissions import Role
from tests.factories import CustomerFactory, event_payload

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


@pytest.fixture
def signed_in():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def owner(owner_a, signed_in):
    return signed_in(owner_a)


@pytest.fixture
def templates_a(merchant_a):
    for key in ("hello", "reminder"):
        message_template_save(
            merchant=merchant_a,
            payload={
                "key": key,
                "name": key.title(),
                "channel": "email",
                "category": "transactional",
                "variants": [{"locale": "en", "subject": key, "html_body": "<p>Hi</p>"}],
            },
        )


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


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_each_journey_with_exact_counts(owner, merchant_a, merchant_b, templates_a):
    # given
    welcome = make_journey(merchant_a)
    draft = make_journey(merchant_a, key="winback", name="Win-back", publish=False)
    for state in ("active", "active", "waiting"):
        enroll(welcome, state)
    enroll(welcome, "completed", converted=True)
    enroll(welcome, "completed", holdout=True)
    enroll(welcome, "completed")
    enroll(welcome, "exited", converted=True, holdout=True)
    enroll(welcome, "failed")
    make_journey(merchant_b, key="bravo", name="Bravo only", publish=False)
    # when
    response = owner.get(reverse("dashboard:journey_list"))
    # then
    assert response.status_code == 200
    rows = {
        j.key: (
            *(j.status, j.in_progress_count, j.completed_count),
            *(j.exited_count, j.converted_count, j.holdout_count),
        )
        for j in response.context["journeys"]
    }
    assert rows == {"welcome": ("live", 3, 3, 1, 2, 2), "winback": ("draft", 0, 0, 0, 0, 0)}
    html = response.content.decode()
    assert "Bravo only" not in html
    assert "Order placed, when event.total is more than 100" in html
    assert f'href="/app/journeys/{draft.pk}/"' in html


def test_the_lists_counts_take_the_same_queries_for_any_number_of_journeys(
    owner, merchant_a, templates_a
):
    # given
    enroll(make_journey(merchant_a, key="one"), "active")
    owner.get(reverse("dashboard:journey_list"))  # sessions, caches: warm
    with CaptureQueriesContext(connection) as one:
        owner.get(reverse("dashboard:journey_list"))
    for key in ("two", "three", "four"):
        enroll(make_journey(merchant_a, key=key), "completed")
    # when
    with CaptureQueriesContext(connection) as four:
        response = owner.get(reverse("dashboard:journey_list"))
    # then
    assert len(response.context["journeys"]) == 4
    assert len(four.captured_queries) == len(one.captured_queries)


# --- a journey's page ---------------------------------------------------------------------------


def test_the_journey_page_shows_the_live_version_counts_and_the_draft(
    owner, merchant_a, templates_a
):
    # given
    journey = make_journey(merchant_a)
    enroll(journey, "waiting")
    enroll(journey, "completed", converted=True)
    # when
    response = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    # then
    assert response.status_code == 200
    counts = response.context["counts"]
    assert (counts["in_progress"], counts["completed"], counts["converted"]) == (1, 1, 1)
    assert counts["entered"] == 2
    live = response.context["live"]
    assert live["trigger"] == "Order placed, when event.total is more than 100"
    assert live["steps"] == [
        ("hello", "Send hello → wait"),
        ("wait", "Wait 3 days, then until 10:00 on Mon, Wed → ask"),
        ("ask", "Send reminder (else hello) → end"),
    ]
    assert live["goal"] == "Review submitted within 336 hours of entry"
    editor = response.context["editor"]
    assert [step.kind for step in editor.steps] == ["send", "delay", "send"]
    assert response.context["unpublished"] is False


def test_saving_the_page_unchanged_keeps_the_draft_exactly(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    # when
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), page_data(page))
    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:journey_detail", args=[journey.pk])
    journey.refresh_from_db()
    assert journey.draft == DEFINITION
    assert (journey.status, journey.live_version.number) == ("live", 1)


def test_editing_the_trigger_rules_and_steps_saves_the_draft_exactly(
    owner, merchant_a, templates_a
):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    data = page_data(
        page,
        name="Welcome series",
        trigger__event="order.fulfilled",
        trigger__conditions__1__path="order.categories",
        trigger__conditions__1__op="contains",
        trigger__conditions__1__value="electronics",
        entry__reentry="after",
        entry__cooldown_hours="48",
        rules__exit_events="order.cancelled, order.refunded",
        rules__goal_event="",
        rules__goal_within_hours="",
        rules__holdout_percent="0",
        steps__1__days="",
        steps__1__hours="36",
        steps__1__weekdays=[],
        steps__2__fallback_template="",
    )
    # when
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.name == "Welcome series"
    assert journey.draft == {
        "trigger": {
            "type": "event",
            "event": "order.fulfilled",
            "conditions": [
                {"path": "event.total", "op": "gt", "value": 100},
                {"path": "order.categories", "op": "contains", "value": "electronics"},
            ],
        },
        "entry": {
            "per": "order",
            "reentry": "after",
            "cooldown_hours": 48,
            "max_entries": None,
            "max_age_hours": 24,
        },
        "exit_events": ["order.cancelled", "order.refunded"],
        "holdout_percent": 0,
        "start": "hello",
        "steps": [
            {"id": "hello", "type": "send", "template": "hello", "next": "wait"},
            {"id": "wait", "type": "delay", "hours": 36, "at": "10:00", "next": "ask"},
            {"id": "ask", "type": "send", "template": "reminder"},
        ],
    }
    # the live version is what customers get until the draft is published
    assert JourneyVersion.unscoped.filter(journey=journey).count() == 1
    assert journey.live_version.definition["trigger"]["event"] == "order.placed"


def test_a_date_trigger_saves_its_own_fields(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a, publish=False)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    data = page_data(
        page,
        trigger__type="date",
        trigger__date="customer.birthday",
        trigger__offset_days="-3",
        trigger__yearly="on",
        trigger__at="09:30",
        trigger__conditions__0__path="",
    )
    # when
    owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    journey.refresh_from_db()
    assert journey.draft["trigger"] == {
        "type": "date",
        "date": "customer.birthday",
        "offset_days": -3,
        "yearly": True,
        "at": "09:30",
    }


def test_adding_a_step_shows_it_unsaved_and_saving_keeps_it(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    before = journey_rows()
    # when: adding a tag step
    added = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]),
        page_data(page, action="add", new_step="action"),
    )
    # then: shown after the last step, which now goes on to it; nothing saved
    assert added.status_code == 200
    steps = added.context["editor"].steps
    assert [(step.kind, step["id"].value()) for step in steps][-1] == ("action", "action_4")
    assert steps[2]["next"].value() == "action_4"
    assert "Step added. Save the draft to keep it." in added.content.decode()
    assert journey_rows() == before

    # when: filling it in and saving
    data = page_data(added, steps__3__tag="welcomed", action="save")
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.draft["steps"][2:] == [
        {
            "id": "ask",
            "type": "send",
            "template": "reminder",
            "fallback_template": "hello",
            "next": "action_4",
        },
        {"id": "action_4", "type": "action", "action": "add_tag", "tag": "welcomed"},
    ]


def test_removing_a_step_leaves_the_steps_that_went_to_it_to_be_fixed(
    owner, merchant_a, templates_a
):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    # when: removing the delay
    removed = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]), page_data(page, action="remove:1")
    )
    # then: hello still names it, shown as not a step; saved as it is, the error is at hello
    steps = removed.context["editor"].steps
    assert [step["id"].value() for step in steps] == ["hello", "ask"]
    assert "wait (not a step)" in removed.content.decode()
    refused = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]), page_data(removed, action="save")
    )
    assert refused.context["editor"].steps[0].non_field_errors() == [
        "goes to 'wait', which is not a step"
    ]
    # when: pointing hello at ask instead
    data = page_data(refused, steps__0__next="ask", action="save")
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    assert response.status_code == 302
    journey.refresh_from_db()
    assert [step["id"] for step in journey.draft["steps"]] == ["hello", "ask"]
    assert journey.draft["steps"][0]["next"] == "ask"


def test_an_unreachable_step_shows_the_error_at_that_step_and_saves_nothing(
    owner, merchant_a, templates_a
):
    # given: hello ends the journey, so the delay can no longer be reached
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    before = journey_rows()
    # when
    response = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]), page_data(page, steps__0__next="")
    )
    # then
    assert response.status_code == 200
    steps = response.context["editor"].steps
    assert steps[1].non_field_errors() == ["step 'wait' cannot be reached from the start"]
    assert not steps[0].errors and not steps[2].errors
    html = response.content.decode()
    assert "nothing was saved" in html
    assert 'class="step step--error" id="step-1"' in html
    assert journey_rows() == before


def test_a_loop_is_shown_above_the_steps_and_saves_nothing(owner, merchant_a, templates_a):
    # given: ask goes back to hello
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    before = journey_rows()
    # when
    response = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]),
        page_data(page, steps__2__next="hello"),
    )
    # then
    assert response.context["editor"].step_errors == [
        "the steps loop (hello → wait → ask → hello); a journey must always end"
    ]
    assert journey_rows() == before


def test_the_schemas_errors_land_on_the_field_and_row_they_name(owner, merchant_a, templates_a):
    # given: a condition step whose second condition has a path the schema refuses
    definition = {
        **DEFINITION,
        "steps": [
            {
                "id": "hello",
                "type": "condition",
                "conditions": [{"path": "customer.orders_count", "op": "eq", "value": 1}],
                "match": "all",
                "then": "wait",
            },
            *DEFINITION["steps"][1:],
        ],
    }
    journey = make_journey(merchant_a, definition=definition, publish=False)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    before = journey_rows()
    # when: a bad path in a new row, and a delay longer than the schema allows
    data = page_data(
        page,
        steps__1__days="400",
        steps__0__conditions__1__path="basket.total",
        steps__0__conditions__1__op="gt",
        steps__0__conditions__1__value="5",
    )
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    editor = response.context["editor"]
    rows = editor.steps[0].rows.forms
    assert rows[1].errors == {"path": ["a path starts with event., customer., order. or steps."]}
    assert not rows[0].errors
    assert editor.steps[1].errors == {"days": ["Input should be less than or equal to 366"]}
    assert not editor.steps[2].errors
    assert journey_rows() == before


def test_a_key_the_service_refuses_is_shown_on_the_key_field(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    before = journey_rows()
    # when
    response = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]), page_data(page, key="wel come")
    )
    # then
    assert response.context["editor"].journey_form.errors == {
        "key": ["A key of lowercase letters, digits, - and _ (at most 100)."]
    }
    assert journey_rows() == before


def test_a_journey_with_no_steps_is_not_saved(owner, merchant_a, templates_a):
    # given: every step removed
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    for index in (2, 1, 0):
        page = owner.post(
            reverse("dashboard:journey_save", args=[journey.pk]),
            page_data(page, action=f"remove:{index}"),
        )
    before = journey_rows()
    # when
    response = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]), page_data(page, action="save")
    )
    # then
    assert response.context["editor"].step_errors == ["Add at least one step."]
    assert journey_rows() == before


def test_a_taken_key_is_shown_on_the_key_field(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    make_journey(merchant_a, key="winback", name="Win-back", publish=False)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    before = journey_rows()
    # when
    response = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]), page_data(page, key="winback")
    )
    # then
    assert response.context["editor"].journey_form.errors == {
        "key": ["Another journey has key 'winback'."]
    }
    assert response.context["journey"].key == "welcome"
    assert journey_rows() == before


def test_a_new_journey_is_created_from_the_new_journey_page(owner, merchant_a, templates_a):
    # given
    page = owner.get(reverse("dashboard:journey_create"))
    data = page_data(page, name="Thank you", key="thanks")
    # when
    response = owner.post(reverse("dashboard:journey_create"), data)
    # then
    journey = Journey.unscoped.get(merchant=merchant_a, key="thanks")
    assert response["Location"] == reverse("dashboard:journey_detail", args=[journey.pk])
    assert (journey.name, journey.status, journey.live_version) == ("Thank you", "draft", None)
    assert journey.draft == {
        "trigger": {"type": "event", "event": "order.placed"},
        "entry": {
            "per": "customer",
            "reentry": "always",
            "cooldown_hours": 0,
            "max_entries": None,
            "max_age_hours": 24,
        },
        "exit_events": [],
        "holdout_percent": 0,
        "start": "send_1",
        "steps": [{"id": "send_1", "type": "send", "template": "hello"}],
    }


# --- JSON -------------------------------------------------------------------------------------


def test_the_json_editor_saves_a_valid_definition(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    text = page.context["json_form"]["definition"].value()
    # when
    response = owner.post(
        reverse("dashboard:journey_json_save", args=[journey.pk]),
        {"definition": text.replace('"holdout_percent": 10', '"holdout_percent": 20')},
    )
    # then
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.draft == {**DEFINITION, "holdout_percent": 20}


def test_the_json_editor_shows_each_error_and_saves_nothing(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    before = journey_rows()
    broken = {**DEFINITION, "start": "nowhere", "holdout_percent": 90}
    # when
    response = owner.post(
        reverse("dashboard:journey_json_save", args=[journey.pk]),
        {"definition": json.dumps(broken)},
    )
    # then
    assert response.status_code == 200
    assert response.context["json_form"].errors == {
        "definition": ["holdout_percent: Input should be less than or equal to 50"]
    }
    assert '<details class="card json-editor" open' in response.content.decode()
    assert journey_rows() == before


def test_the_json_editor_refuses_an_action_nobody_registered_naming_the_field(
    owner, merchant_a, templates_a
):
    # given
    journey = make_journey(merchant_a)
    before = journey_rows()
    steps = [*DEFINITION["steps"][:2], {"id": "ask", "type": "action", "action": "perks.give"}]
    # when
    response = owner.post(
        reverse("dashboard:journey_json_save", args=[journey.pk]),
        {"definition": json.dumps({**DEFINITION, "steps": steps})},
    )
    # then
    assert response.status_code == 200
    assert response.context["json_form"].errors == {
        "definition": [
            "steps[2].action.action: no action 'perks.give'; the actions are add_tag, "
            "remove_tag, webhook"
        ]
    }
    assert journey_rows() == before


def test_a_condition_on_a_fact_nobody_registered_is_shown_on_its_row(
    owner, merchant_a, templates_a
):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    before = journey_rows()
    # when
    data = page_data(page, trigger__conditions__0__path="customer.shoe_size")
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    [row, *_] = response.context["editor"].conditions.forms
    assert row.errors == {
        "path": [
            "customer.shoe_size is not a fact; the customer facts are birthday, email, "
            "email_marketing_consent, first_name, id, locale, orders_count, phone, "
            "sms_marketing_consent, tags, timezone, total_spent"
        ]
    }
    assert journey_rows() == before


@pytest.fixture
def perks_action():
    """A pillar's action with a field of its own, as its ready() would register it."""

    class Points(BaseModel):
        model_config = ConfigDict(extra="forbid")
        points: int

    actions.register(
        "perks.award_points",
        Points,
        lambda params, context: ActionResult("awarded"),
        label="Award points",
        describe=lambda step: f"Award {step.get('points')} points",
    )
    yield
    actions.unregister("perks.award_points")


def test_a_pillars_action_is_offered_and_saved_with_its_own_fields(
    owner, merchant_a, templates_a, perks_action
):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    added = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]),
        page_data(page, action="add", new_step="action"),
    )
    choices = added.context["editor"].steps[3].fields["action"].choices
    assert ("perks.award_points", "Award points") in choices
    # when
    data = page_data(
        added,
        steps__3__action="perks.award_points",
        steps__3__settings='{"points": 50}',
        action="save",
    )
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.draft["steps"][3] == {
        "id": "action_4",
        "type": "action",
        "action": "perks.award_points",
        "points": 50,
    }
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    assert json.loads(page.context["editor"].steps[3]["settings"].value()) == {"points": 50}


def test_a_pillars_action_refused_by_its_own_model_is_shown_on_the_step(
    owner, merchant_a, templates_a, perks_action
):
    # given
    journey = make_journey(merchant_a)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    added = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]),
        page_data(page, action="add", new_step="action"),
    )
    before = journey_rows()
    # when
    data = page_data(
        added,
        steps__3__action="perks.award_points",
        steps__3__settings='{"points": "many"}',
        action="save",
    )
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), data)
    # then
    assert response.status_code == 200
    assert response.context["editor"].steps[3].non_field_errors() == [
        "points: Input should be a valid integer, unable to parse string as an integer"
    ]
    assert journey_rows() == before


def test_the_editor_suggests_every_registered_fact_a_pillars_too(owner, merchant_a, templates_a):
    # given: a pillar's facts, registered as its ready() would
    facts.register("perks", facts={"tier": Fact("text")}, compute=lambda **about: [])
    try:
        # when
        page = owner.get(reverse("dashboard:journey_create"))
    finally:
        facts.unregister("perks")
    # then: the common ones first, then the rest, each once
    suggested = page.context["path_suggestions"]
    assert suggested[:3] == ["event.total", "customer.orders_count", "customer.total_spent"]
    assert {"customer.birthday", "order.placed_at", "perks.tier"} <= set(suggested)
    assert len(suggested) == len(set(suggested))
    assert '<option value="perks.tier">' in page.content.decode()


# --- publish, pause, resume -------------------------------------------------------------------


def test_publishing_makes_the_draft_version_2(owner, owner_a, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    journey_save(
        merchant=merchant_a,
        key="welcome",
        name="Welcome",
        definition={**DEFINITION, "holdout_percent": 0},
        journey=journey,
    )
    # when
    response = owner.post(reverse("dashboard:journey_publish", args=[journey.pk]))
    # then
    assert response["Location"] == reverse("dashboard:journey_detail", args=[journey.pk])
    journey.refresh_from_db()
    version = journey.live_version
    assert (version.number, version.published_by, journey.status) == (2, owner_a, "live")
    assert version.definition["holdout_percent"] == 0
    assert JourneyVersion.unscoped.filter(journey=journey).count() == 2
    page = owner.get(response["Location"])
    assert "Published as version 2" in page.content.decode()


def test_a_draft_sending_a_missing_template_is_not_published(owner, merchant_a, templates_a):
    # given
    steps = [{"id": "hello", "type": "send", "template": "nope"}]
    definition = {**DEFINITION, "start": "hello", "steps": steps}
    journey = make_journey(merchant_a, definition=definition, publish=False)
    before = journey_rows()
    # when
    response = owner.post(reverse("dashboard:journey_publish", args=[journey.pk]), follow=True)
    # then
    assert "Not published: No such message template: nope." in response.content.decode()
    assert journey_rows() == before


def test_pausing_and_resuming_a_live_journey(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    # when
    owner.post(reverse("dashboard:journey_pause", args=[journey.pk]))
    # then
    journey.refresh_from_db()
    assert journey.status == "paused"
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk])).content.decode()
    assert f'action="/app/journeys/{journey.pk}/resume/"' in page
    # when
    owner.post(reverse("dashboard:journey_resume", args=[journey.pk]))
    # then
    journey.refresh_from_db()
    assert (journey.status, journey.live_version.number) == ("live", 1)


@pytest.mark.parametrize(("status", "action"), [("draft", "pause"), ("live", "resume")])
def test_pausing_or_resuming_from_another_status_changes_nothing(
    status, action, owner, merchant_a, templates_a
):
    # given
    journey = make_journey(merchant_a, publish=status == "live")
    before = journey_rows()
    # when
    response = owner.post(reverse(f"dashboard:journey_{action}", args=[journey.pk]), follow=True)
    # then
    assert f"Only a {'live' if action == 'pause' else 'paused'} journey" in (
        response.content.decode()
    )
    assert journey_rows() == before


# --- what a viewer may do ---------------------------------------------------------------------


def test_a_viewer_reads_the_journey_without_the_means_to_change_it(
    merchant_a, member_of, signed_in, templates_a
):
    # given
    journey = make_journey(merchant_a)
    viewer = signed_in(member_of(merchant_a, Role.VIEWER))
    # when
    response = viewer.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "your role cannot change it" in html
    assert '<fieldset class="plain stack" disabled>' in html
    for action in ("json", "publish", "pause"):
        assert f'action="/app/journeys/{journey.pk}/{action}/"' not in html
    assert "Save draft" not in html and "Add step" not in html


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("journey_save", {"name": "Sneaky", "key": "welcome", "steps-TOTAL": "0"}),
        ("journey_json_save", {"definition": json.dumps(DEFINITION)}),
        ("journey_publish", {}),
        ("journey_pause", {}),
        ("journey_resume", {}),
    ],
)
def test_a_viewer_cannot_change_a_journey(
    name, body, merchant_a, member_of, signed_in, templates_a
):
    # given
    journey = make_journey(merchant_a)
    viewer = signed_in(member_of(merchant_a, Role.VIEWER))
    before = journey_rows()
    # when
    response = viewer.post(reverse(f"dashboard:{name}", args=[journey.pk]), body)
    # then
    assert response.status_code == 403
    assert journey_rows() == before


def test_a_viewer_cannot_create_a_journey_or_install_a_blueprint(
    merchant_a, member_of, signed_in, templates_a
):
    # given
    viewer = signed_in(member_of(merchant_a, Role.VIEWER))
    before = journey_rows()
    # when
    created = viewer.post(reverse("dashboard:journey_create"), {"name": "x", "key": "x"})
    installed = viewer.post(reverse("dashboard:journey_blueprint_install"), {"key": "win_back"})
    # then
    assert (created.status_code, installed.status_code) == (403, 403)
    assert journey_rows() == before


# --- enrollments --------------------------------------------------------------------------------


def test_the_enrollments_list_filters_by_state(owner, merchant_a, merchant_b, templates_a):
    # given
    journey = make_journey(merchant_a)
    waiting = enroll(journey, "waiting", entered_at=T0 + timedelta(hours=1))
    active = enroll(journey, "active", entered_at=T0 + timedelta(hours=2))
    done = enroll(journey, "completed", converted=True)
    url = reverse("dashboard:journey_enrollments", args=[journey.pk])
    # when
    everyone = owner.get(url)
    only_waiting = owner.get(url, {"state": "waiting"})
    unknown_state = owner.get(url, {"state": "sneaky"})
    # then
    assert [e.pk for e in everyone.context["enrollments"]] == [active.pk, waiting.pk, done.pk]
    assert [e.pk for e in only_waiting.context["enrollments"]] == [waiting.pk]
    assert [e.pk for e in unknown_state.context["enrollments"]] == [active.pk, waiting.pk, done.pk]
    tabs = {value: count for value, _, count in everyone.context["state_tabs"]}
    assert tabs == {"": 3, "active": 1, "waiting": 1, "completed": 1, "exited": 0, "failed": 0}
    html = only_waiting.content.decode()
    assert f'href="/app/journeys/enrollments/{waiting.pk}/"' in html
    assert "Jun 5, 2026, 11:00" in html  # next run, in the merchant's zone (New York)


def test_an_enrollments_page_shows_its_step_log_with_links_to_the_messages(
    owner, merchant_a, templates_a
):
    # given: a customer entered by an order, the first message sent, the delay running (no
    # holdout: whether an enrollment is held out depends on its id)
    make_journey(merchant_a, definition={**DEFINITION, "holdout_percent": 0})
    customer = CustomerFactory(merchant=merchant_a, email="ada@example.com", first_name="Ada")
    event, _ = event_record(
        merchant=merchant_a,
        type="order.placed",
        customer=customer,
        payload=event_payload(
            "order.placed", merchant=merchant_a, customer=customer, total="150.00"
        ),
        occurred_at=T0,
        now=T0,
    )
    [enrollment] = journeys_handle_event(event=event, now=T0)
    message = Message.unscoped.get(customer=customer)
    # when
    response = owner.get(reverse("dashboard:journey_enrollment_detail", args=[enrollment.pk]))
    # then
    assert response.status_code == 200
    log = [(e.step_id, e.outcome, e.message_id) for e in response.context["log"]]
    assert log == [
        ("", "entered", None),
        ("hello", "queued", message.pk),
        ("wait", "waiting", None),
    ]
    html = response.content.decode()
    assert f'href="/app/messages/{message.pk}/"' in html
    # the step it runs when the delay ends, on Monday at 10:00 in the merchant's zone
    assert "Send reminder (else hello) → end" in html
    assert "<dt>Next run</dt><dd>Jun 8, 2026, 10:00</dd>" in html


# --- blueprints -------------------------------------------------------------------------------


def test_the_list_offers_the_blueprints_to_install(owner, merchant_a):
    # given
    journey_blueprint_install(merchant=merchant_a, key="win_back")
    # when
    response = owner.get(reverse("dashboard:journey_list"))
    # then
    rows = {row["key"]: row for row in response.context["blueprints"]}
    assert list(rows) == [blueprint.key for blueprint in BLUEPRINTS]
    assert rows["win_back"]["installed"] is True
    assert rows["review_request"]["installed"] is False
    assert (rows["review_request"]["name"], rows["review_request"]["kind"]) == (
        "Review request",
        "Feedback",
    )
    html = response.content.decode()
    assert 'name="key" value="review_request"' in html
    assert 'name="key" value="win_back"' not in html  # installed: opened, not installed again


def test_installing_a_blueprint_opens_its_draft_in_the_editor(owner, merchant_a):
    # when
    response = owner.post(reverse("dashboard:journey_blueprint_install"), {"key": "review_request"})
    # then
    journey = Journey.unscoped.get(merchant=merchant_a, key="review_request")
    assert response["Location"] == reverse("dashboard:journey_detail", args=[journey.pk])
    assert (journey.status, journey.live_version) == ("draft", None)
    page = owner.get(response["Location"])
    assert "“Review request” installed as a draft." in page.content.decode()
    steps = page.context["editor"].steps
    assert [(step.kind, step["id"].value()) for step in steps] == [
        ("wait_for_event", "first_week"),
        ("send", "ask"),
        ("wait_for_event", "answer"),
        ("send", "remind"),
    ]
    assert steps[0]["match"].value() == "order_id = trigger.order_id"


def test_installing_a_blueprint_twice_says_so_and_changes_nothing(owner, merchant_a):
    # given
    owner.post(reverse("dashboard:journey_blueprint_install"), {"key": "win_back"})
    before = journey_rows()
    # when
    response = owner.post(
        reverse("dashboard:journey_blueprint_install"), {"key": "win_back"}, follow=True
    )
    # then
    assert response.redirect_chain == [(reverse("dashboard:journey_list"), 302)]
    assert "Another journey has key &#x27;win_back&#x27;." in response.content.decode()
    assert journey_rows() == before


def test_installing_an_unknown_blueprint_answers_404(owner, merchant_a):
    # when
    response = owner.post(reverse("dashboard:journey_blueprint_install"), {"key": "sneaky"})
    # then
    assert response.status_code == 404
    assert not Journey.unscoped.exists()


@pytest.mark.parametrize("key", [blueprint.key for blueprint in BLUEPRINTS])
def test_every_blueprint_saved_unchanged_through_the_forms_keeps_its_meaning(
    key, owner, merchant_a
):
    # given
    journey = journey_blueprint_install(merchant=merchant_a, key=key)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    # when
    response = owner.post(reverse("dashboard:journey_save", args=[journey.pk]), page_data(page))
    # then
    assert response.status_code == 302
    saved = Journey.unscoped.get(pk=journey.pk).draft
    assert meaning(saved) == meaning(blueprint_get(key).definition)


def meaning(definition: dict) -> dict:
    return Definition.model_validate(definition).model_dump(mode="json", by_alias=True)
