"""The journey editor's JSON view and what the pillars register: a valid definition saved, each
error shown and nothing saved, an action or fact nobody registered named, and a pillar's action
offered and saved with its own fields (or refused by its own model, on the step)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from pydantic import BaseModel, ConfigDict

from journeys.actions import ActionResult, actions
from journeys.facts import Fact, facts
from tests.journeys.dashboard_helpers import DEFINITION, journey_rows, make_journey, page_data

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
