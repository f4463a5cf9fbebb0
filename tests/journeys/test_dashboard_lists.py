"""The journeys pages' lists: the journeys with exact counts (in the same queries for any number
of journeys), the enrollments filtered by state with an enrollment's step log, and the
blueprints offered and installed. Who may open what, and other merchants' rows, are in
tests/dashboard/test_access.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from journeys.blueprints import blueprint_get, blueprints_all, journey_blueprint_install
from journeys.models import Journey
from journeys.schema import Definition
from journeys.services import journeys_handle_event
from notifications.models import Message
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, event_payload
from tests.journeys.dashboard_helpers import (
    DEFINITION,
    T0,
    enroll,
    journey_rows,
    make_journey,
    page_data,
)

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
    assert list(rows) == [blueprint.key for blueprint in blueprints_all()]
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


@pytest.mark.parametrize("key", [blueprint.key for blueprint in blueprints_all()])
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
