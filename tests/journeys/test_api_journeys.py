"""Journeys in the API, read: the list and the detail with exact counts (by state, per step of
the live version, and per split branch), the draft compared with the live version, filters,
scopes, and another merchant's journey answering 404. Simulation is in test_api_simulate.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys.models import Enrollment
from journeys.services import journey_publish, journey_save, journeys_handle_event
from postpurchase.api.models import IdempotencyRecord
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, event_payload
from tests.journeys.api_helpers import (
    COUNTS,
    DEFINITION,
    LIST,
    NO_COUNTS,
    T0,
    fire,
    listed,
    snapshot,
)

# --- list -----------------------------------------------------------------------------------


def test_the_list_shows_each_journey_with_its_live_version_and_counts(
    api_a, merchant_a, merchant_b, follow_up
):
    # given: a draft never published, and another merchant's journey
    draft = journey_save(
        merchant=merchant_a,
        key="win-back",
        name="Win-back",
        definition={
            "trigger": {"event": "customer.inactive"},
            "start": "x",
            "steps": [{"id": "x", "type": "exit"}],
        },
        now=T0,
    )
    journey_save(merchant=merchant_b, key="theirs", name="Theirs", definition=DEFINITION)

    # when
    response = api_a.get(LIST)

    # then: newest first
    assert response.status_code == 200
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "id": draft.pk,
                "key": "win-back",
                "name": "Win-back",
                "description": "",
                "status": "draft",
                "live_version": None,
                "counts": NO_COUNTS,
                "created_at": "2026-06-02T15:00:00Z",
                "updated_at": "2026-06-02T15:00:00Z",
            },
            listed(follow_up),
        ],
    }


def test_the_list_filters_by_status_and_key_and_pages_with_a_cursor(api_a, merchant_a, follow_up):
    # given
    journey_save(
        merchant=merchant_a,
        key="draft-one",
        name="Draft",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "x",
            "steps": [{"id": "x", "type": "exit"}],
        },
    )

    # when
    live = api_a.get(f"{LIST}?status=live").json()["results"]
    drafts = api_a.get(f"{LIST}?status=draft").json()["results"]
    by_key = api_a.get(f"{LIST}?key=follow-up").json()["results"]
    first = api_a.get(f"{LIST}?limit=1").json()
    second = api_a.get(first["next"]).json()

    # then
    assert [j["key"] for j in live] == ["follow-up"]
    assert [j["key"] for j in drafts] == ["draft-one"]
    assert [j["key"] for j in by_key] == ["follow-up"]
    assert [j["key"] for j in first["results"] + second["results"]] == ["draft-one", "follow-up"]
    assert second["next"] is None


def test_a_bad_status_filter_is_a_problem_naming_it(api_a):
    response = api_a.get(f"{LIST}?status=running")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == ["status"]


def test_the_list_counts_with_two_queries_whatever_the_enrollments(api_a, merchant_a, follow_up):
    # given: the page read once (the key and its merchant are cached after that)
    api_a.get(LIST)
    with CaptureQueriesContext(connection) as few:
        api_a.get(LIST)
    for n in range(5):
        fire(merchant_a, CustomerFactory(merchant=merchant_a), "order.placed", T0, order_id=n)

    # when
    with CaptureQueriesContext(connection) as more:
        response = api_a.get(LIST)

    # then
    assert response.json()["results"][0]["counts"]["entered"] == 9
    assert len(more) == len(few)
    assert sum("journeys_enrollment" in q["sql"] for q in more.captured_queries) == 1


# --- detail ---------------------------------------------------------------------------------


def test_the_detail_adds_the_definition_per_step_counts_and_the_draft(api_a, follow_up):
    # when
    response = api_a.get(f"{LIST}/{follow_up.pk}")

    # then
    assert response.status_code == 200
    version = follow_up.live_version
    assert response.json() == {
        **listed(follow_up),
        "live_version": {**listed(follow_up)["live_version"], "definition": version.definition},
        "step_counts": {
            "confirm": {"entered": 4, "outcomes": {"queued": 3, "suppressed:no_address": 1}},
            "check": {"entered": 4, "outcomes": {"no": 2, "yes": 2}},
            "ask": {"entered": 2, "outcomes": {"event_arrived": 1, "waiting": 2}},
            "thanks": {"entered": 1, "outcomes": {"queued": 1}},
            "later": {"entered": 2, "outcomes": {"waiting": 2}},
            "bye": {"entered": 0, "outcomes": {}},
        },
        "split_results": {},
        "draft": DEFINITION,
        "draft_changed": False,
    }
    assert list(response.json()["step_counts"]) == [s["id"] for s in DEFINITION["steps"]]
    assert version.definition["steps"][1]["else"] == "later"  # stored as published


def test_the_draft_changed_flag_compares_as_publishing_would(api_a, merchant_a, follow_up):
    # given: the same definition saved again, spelled with its defaults
    same = {**DEFINITION, "holdout_percent": 0, "entry": {"per": "customer"}}
    journey_save(
        merchant=merchant_a,
        key="follow-up",
        name="Follow-up",
        definition=same,
        journey=follow_up,
    )
    unchanged = api_a.get(f"{LIST}/{follow_up.pk}").json()
    # when: a real change
    journey_save(
        merchant=merchant_a,
        key="follow-up",
        name="Follow-up",
        definition={**DEFINITION, "holdout_percent": 10},
        journey=follow_up,
    )
    changed = api_a.get(f"{LIST}/{follow_up.pk}").json()

    # then
    assert (unchanged["draft_changed"], changed["draft_changed"]) == (False, True)
    assert changed["draft"]["holdout_percent"] == 10
    assert changed["live_version"]["definition"]["holdout_percent"] == 0


def test_step_counts_are_the_live_versions_and_counts_are_every_versions(
    api_a, merchant_a, follow_up
):
    # given: a second version, which no one has entered yet
    journey_publish(journey=follow_up, now=T0 + timedelta(days=1))

    # when
    body = api_a.get(f"{LIST}/{follow_up.pk}").json()

    # then
    assert body["live_version"]["number"] == 2
    assert body["counts"] == COUNTS
    assert body["step_counts"] == {
        step["id"]: {"entered": 0, "outcomes": {}} for step in DEFINITION["steps"]
    }


def test_a_journey_never_published_has_no_live_version_nor_step_counts(api_a, merchant_a):
    journey = journey_save(merchant=merchant_a, key="d", name="D", definition=DEFINITION, now=T0)

    body = api_a.get(f"{LIST}/{journey.pk}").json()

    assert (body["status"], body["live_version"], body["step_counts"]) == ("draft", None, {})
    assert (body["counts"], body["draft"], body["draft_changed"]) == (NO_COUNTS, DEFINITION, True)


def test_the_detail_counts_with_the_same_queries_whatever_the_enrollments(
    api_a, merchant_a, follow_up
):
    # given
    url = f"{LIST}/{follow_up.pk}"
    api_a.get(url)
    with CaptureQueriesContext(connection) as few:
        api_a.get(url)
    for n in range(5):
        fire(merchant_a, CustomerFactory(merchant=merchant_a), "order.placed", T0, order_id=n)

    # when
    with CaptureQueriesContext(connection) as more:
        body = api_a.get(url).json()

    # then
    assert body["step_counts"]["confirm"]["entered"] == 9
    assert len(more) == len(few)


# --- scopes and other merchants -------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "/{id}"])
def test_a_read_only_key_may_read(api_a_read, follow_up, path):
    response = api_a_read.get(LIST + path.format(id=follow_up.pk))

    assert response.status_code == 200


def test_a_read_only_key_may_not_simulate(api_a_read, follow_up):
    # given
    before = snapshot()
    ada = Enrollment.unscoped.order_by("pk").first().customer

    # when
    response = api_a_read.post(
        f"{LIST}/{follow_up.pk}/simulate",
        {"customer_id": ada.pk, "events": []},
        format="json",
        HTTP_IDEMPOTENCY_KEY="sim-1",
    )

    # then
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert snapshot() == before
    assert IdempotencyRecord.unscoped.count() == 0


@pytest.mark.parametrize(("method", "path"), [("get", "/{id}"), ("post", "/{id}/simulate")])
def test_another_merchants_journey_answers_404_and_nothing_changes(api_b, follow_up, method, path):
    # given
    before = snapshot()
    customer = Enrollment.unscoped.order_by("pk").first().customer

    # when
    response = getattr(api_b, method)(
        LIST + path.format(id=follow_up.pk),
        {"customer_id": customer.pk, "events": []},
        format="json",
    )

    # then
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert snapshot() == before


def test_another_merchants_list_shows_none_of_them(api_b, follow_up):
    assert api_b.get(LIST).json()["results"] == []


def test_no_key_answers_401(client, follow_up):
    assert client.get(LIST).status_code == 401


def test_the_detail_gives_each_split_branchs_results(api_a, merchant_a):
    # given: an A/B split of tags, and a goal; twelve customers enter, two of them convert
    journey = journey_save(
        merchant=merchant_a,
        key="ab",
        name="AB",
        definition={
            "trigger": {"event": "order.placed"},
            "goal": {"event": "order.fulfilled", "within_hours": 48},
            "start": "ab",
            "steps": [
                {
                    "id": "ab",
                    "type": "split",
                    "branches": [
                        {"weight": 50, "next": "a", "name": "Short"},
                        {"weight": 50, "next": "b", "name": "Long"},
                    ],
                },
                {"id": "a", "type": "action", "action": "add_tag", "tag": "a"},
                {"id": "b", "type": "action", "action": "add_tag", "tag": "b"},
            ],
        },
    )
    journey_publish(journey=journey, now=T0)
    people = [CustomerFactory(merchant=merchant_a) for _ in range(12)]
    for person in people:
        event, _ = event_record(
            merchant=merchant_a,
            type="order.placed",
            customer=person,
            payload=event_payload("order.placed", merchant=merchant_a, customer=person),
            now=T0,
            occurred_at=T0,
        )
        journeys_handle_event(event=event, now=T0)
    for person in people[:2]:
        event, _ = event_record(
            merchant=merchant_a,
            type="order.fulfilled",
            customer=person,
            payload=event_payload(
                "order.fulfilled", merchant=merchant_a, customer=person, total="10.00"
            ),
            now=T0 + timedelta(hours=1),
            occurred_at=T0 + timedelta(hours=1),
        )
        journeys_handle_event(event=event, now=T0 + timedelta(hours=1))
    by_branch = {0: [], 1: []}
    for enrollment in Enrollment.unscoped.filter(journey=journey):
        by_branch[enrollment.assignments["ab"]].append(enrollment)

    # when
    body = api_a.get(f"{LIST}/{journey.pk}").json()

    # then
    expected = []
    for index, name in ((0, "Short"), (1, "Long")):
        converted = [e for e in by_branch[index] if e.customer_id in {p.pk for p in people[:2]}]
        expected.append(
            {
                "branch": index,
                "name": name,
                "weight": 50,
                "entered": len(by_branch[index]),
                "converted": len(converted),
                "revenue": f"{10 * len(converted)}.000" if converted else "0",
            }
        )
    assert body["split_results"] == {"ab": expected}
    assert sum(row["entered"] for row in expected) == 12
