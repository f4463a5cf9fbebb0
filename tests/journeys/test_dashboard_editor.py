"""The journey page and its draft editor: the live version's counts and the draft, saved
exactly (trigger, rules, steps added and removed), errors shown at the field, row or step they
are about and nothing saved, and a new journey created from the new journey page."""

from __future__ import annotations

from django.urls import reverse

from journeys.models import Journey, JourneyVersion
from tests.journeys.dashboard_helpers import (
    DEFINITION,
    enroll,
    journey_rows,
    make_journey,
    page_data,
)

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
