"""Journeys in the API: the list and the detail with exact counts (by state, and per step of the
live version), the draft compared with the live version, filters, scopes, another merchant's
journey answering 404, and simulation (input checked field by field; nothing sent or written)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from journeys.blueprints import journey_blueprint_install
from journeys.models import Enrollment, Journey, JourneyStepLog, JourneyVersion
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications.models import Message
from notifications.services import message_template_save
from postpurchase.api.models import IdempotencyRecord
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, event_payload, typed_payload

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
LIST = "/api/v1/journeys"
DEFINITION = {
    "trigger": {"event": "order.placed"},
    "exit_events": ["order.cancelled"],
    "goal": {"event": "review.submitted", "within_hours": 336},
    "start": "confirm",
    "steps": [
        {"id": "confirm", "type": "send", "template": "hello", "next": "check"},
        {
            "id": "check",
            "type": "condition",
            "conditions": [{"path": "customer.tags", "op": "contains", "value": "vip"}],
            "then": "ask",
            "else": "later",
        },
        {
            "id": "ask",
            "type": "wait_for_event",
            "event": "review.submitted",
            "timeout_hours": 72,
            "next": "thanks",
        },
        {"id": "thanks", "type": "send", "template": "hello"},
        {"id": "later", "type": "delay", "days": 2, "next": "bye"},
        {"id": "bye", "type": "exit"},
    ],
}


def fire(merchant, customer, type, now, **payload):
    event, _ = event_record(
        merchant=merchant,
        type=type,
        customer=customer,
        payload=event_payload(type, merchant=merchant, customer=customer, **payload),
        occurred_at=now,
        now=now,
    )
    return journeys_handle_event(event=event, now=now)


@pytest.fixture
def follow_up(merchant_a):
    """A live journey and four customers through it:
    ada (vip) waited for her review, got it, was thanked and converted: completed;
    bob (no email) was not sent the confirmation and waits out the delay: active;
    cy (vip) waits for her review: waiting; dee cancelled her order: exited."""
    message_template_save(
        merchant=merchant_a,
        payload={
            "key": "hello",
            "name": "Hello",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}],
        },
    )
    journey = journey_save(
        merchant=merchant_a,
        key="follow-up",
        name="Follow-up",
        description="Thanks, then a review.",
        definition=DEFINITION,
        now=T0 - timedelta(days=1),
    )
    journey_publish(journey=journey, now=T0)
    ada, cy = (CustomerFactory(merchant=merchant_a, tags=["vip"], timezone="UTC") for _ in range(2))
    bob = CustomerFactory(merchant=merchant_a, email="", timezone="UTC")
    dee = CustomerFactory(merchant=merchant_a, timezone="UTC")
    for customer in (ada, bob, cy, dee):
        fire(merchant_a, customer, "order.placed", T0, order_id=customer.pk)
    fire(merchant_a, ada, "review.submitted", T0 + timedelta(hours=1), total="10.00")
    fire(merchant_a, dee, "order.cancelled", T0 + timedelta(hours=1))
    journey.refresh_from_db()
    return journey


COUNTS = {
    "entered": 4,
    "active": 1,
    "waiting": 1,
    "completed": 1,
    "exited": 1,
    "failed": 0,
    "converted": 1,
    "holdout": 0,
}
NO_COUNTS = dict.fromkeys(COUNTS, 0)


def listed(journey) -> dict:
    return {
        "id": journey.pk,
        "key": "follow-up",
        "name": "Follow-up",
        "description": "Thanks, then a review.",
        "status": "live",
        "live_version": {
            "number": 1,
            "published_at": "2026-06-02T15:00:00Z",
            "trigger_type": "event",
            "trigger_event": "order.placed",
        },
        "counts": COUNTS,
        "created_at": "2026-06-01T15:00:00Z",
        "updated_at": "2026-06-02T15:00:00Z",
    }


def snapshot():
    return [
        sorted(model.unscoped.values_list("pk", flat=True))
        for model in (Enrollment, JourneyStepLog, Message, Event, JourneyVersion)
    ] + [list(Journey.unscoped.order_by("pk").values())]


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


# --- simulate: input ------------------------------------------------------------------------

ORDER_PLACED = {
    "type": "order.placed",
    "at": "2026-06-02T15:00:00Z",
    "payload": typed_payload("order.placed", total="9.00"),
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": [ORDER_PLACED]}, "customer_id"),
        ({"customer_id": 1, "customer_external_id": "x", "events": []}, "customer_id"),
        ({"customer_id": 0}, "customer_id"),
        ({"customer_id": "one"}, "customer_id"),
        ({"customer_external_id": ""}, "customer_external_id"),
        ({"customer_external_id": "c", "events": "order.placed"}, "events"),
        (
            {"customer_external_id": "c", "events": [{**ORDER_PLACED, "type": "Placed"}]},
            "events[0].type",
        ),
        (
            {"customer_external_id": "c", "events": [{**ORDER_PLACED, "at": "2026-06-02T15:00"}]},
            "events[0].at",
        ),
        ({"customer_external_id": "c", "events": [{"type": "order.placed"}]}, "events[0].at"),
        (
            {"customer_external_id": "c", "events": [{**ORDER_PLACED, "payload": [1]}]},
            "events[0].payload",
        ),
        (
            {"customer_external_id": "c", "events": [{**ORDER_PLACED, "extra": 1}]},
            "events[0].extra",
        ),
        ({"customer_external_id": "c", "events": [ORDER_PLACED] * 51}, "events"),
        ({"customer_external_id": "c", "draft": "maybe"}, "draft"),
        ({"customer_external_id": "c", "start": "yesterday"}, "start"),
        ({"customer_external_id": "c", "customer": {"id": 1}}, "customer"),
    ],
)
def test_a_bad_simulation_body_is_a_problem_naming_the_field(api_a, follow_up, body, field):
    # given
    before = snapshot()

    # when
    response = api_a.post(f"{LIST}/{follow_up.pk}/simulate", body, format="json")

    # then
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == [field]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("events", "code", "field"),
    [
        ([{**ORDER_PLACED, "type": "order.plcaed"}], "unknown_event_type", "events[0].type"),
        (
            [{**ORDER_PLACED, "payload": {"total": "9.00"}}],
            "payload_mismatch",
            "events[0].payload.order_id",
        ),
        (
            [ORDER_PLACED, {**ORDER_PLACED, "payload": {**ORDER_PLACED["payload"], "total": 9}}],
            "payload_mismatch",
            "events[1].payload.total",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["log", "strict"])
def test_a_simulated_event_is_held_to_the_event_catalogue_in_either_mode(
    api_a, merchant_a, follow_up, settings, mode, events, code, field
):
    # given: production's mode or development's, the same answer: the merchant typed it
    settings.EVENT_PAYLOAD_VALIDATION = mode
    customer = CustomerFactory(merchant=merchant_a)
    before = snapshot()

    # when
    response = api_a.post(
        f"{LIST}/{follow_up.pk}/simulate",
        {"customer_id": customer.pk, "events": events},
        format="json",
    )

    # then
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert list(response.json()["errors"]) == [field]
    assert snapshot() == before


def test_a_simulation_body_that_is_not_an_object_is_refused(api_a, follow_up):
    response = api_a.post(f"{LIST}/{follow_up.pk}/simulate", [1], format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("by", ["customer_id", "customer_external_id"])
def test_simulating_another_merchants_customer_answers_404_naming_the_field(
    api_b, merchant_b, follow_up, by
):
    # given: B's own journey, and A's customer
    theirs = journey_save(merchant=merchant_b, key="b", name="B", definition=DEFINITION)
    customer = Enrollment.unscoped.order_by("pk").first().customer
    before = snapshot()

    # when
    value = customer.pk if by == "customer_id" else customer.external_id
    response = api_b.post(
        f"{LIST}/{theirs.pk}/simulate", {by: value, "events": [ORDER_PLACED]}, format="json"
    )

    # then
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert list(response.json()["errors"]) == [by]
    assert snapshot() == before


# --- simulate -------------------------------------------------------------------------------


def simulate(api, journey, **body):
    return api.post(f"{LIST}/{journey.pk}/simulate", body, format="json")


def steps_of(result: dict) -> list[tuple]:
    """The timeline as (at, step id, outcome, detail, message status or None)."""
    return [
        (
            step["at"],
            step["step_id"],
            step["outcome"],
            step["detail"],
            step["message"] and step["message"]["status"],
        )
        for step in result["timeline"]
    ]


def test_simulate_answers_what_would_happen_and_writes_nothing(api_a, merchant_a, follow_up):
    # given: a vip customer who would place an order and review it the next day
    CustomerFactory(merchant=merchant_a, tags=["vip"], external_id="sim-1", timezone="UTC")
    before = snapshot()

    # when
    response = simulate(
        api_a,
        follow_up,
        customer_external_id="sim-1",
        events=[
            {
                "type": "order.placed",
                "at": "2026-06-10T15:00:00Z",
                "payload": typed_payload("order.placed", total="20.00"),
            },
            {"type": "review.submitted", "at": "2026-06-11T15:00:00+00:00"},
        ],
    )

    # then
    assert response.status_code == 200, response.content
    result = response.json()
    d1, d2 = "2026-06-10T15:00:00+00:00", "2026-06-11T15:00:00+00:00"
    assert (result["entered"], result["reason"]) == (True, "")
    assert steps_of(result) == [
        (d1, "", "entered", "order.placed", None),
        (d1, "confirm", "queued", "hello", "queued"),
        (d1, "check", "yes", "", None),
        (d1, "ask", "waiting", "for review.submitted", None),
        (d2, "", "converted", "review.submitted", None),
        (d2, "ask", "event_arrived", "", None),
        (d2, "thanks", "queued", "hello", "queued"),
        (d2, "", "completed", "", None),
    ]
    assert result["timeline"][1]["message"] == {
        "template": "hello",
        "channel": "email",
        "status": "queued",
        "reason": "",
        "detail": "",
        "deferred_until": None,
    }
    assert result["end"] == {"state": "completed", "reason": "", "at": d2}
    assert snapshot() == before


def test_simulate_takes_the_events_in_time_order_and_a_customer_by_our_id(
    api_a, merchant_a, follow_up
):
    # given: the review listed before the order it follows
    customer = CustomerFactory(merchant=merchant_a, tags=["vip"], timezone="UTC")
    events = [
        {"type": "review.submitted", "at": "2026-06-11T15:00:00Z"},
        {
            "type": "order.placed",
            "at": "2026-06-10T15:00:00Z",
            "payload": typed_payload("order.placed"),
        },
    ]

    # when
    result = simulate(api_a, follow_up, customer_id=customer.pk, events=events).json()

    # then
    assert [outcome for _, _, outcome, _, _ in steps_of(result)] == [
        "entered",
        "queued",
        "yes",
        "waiting",
        "converted",
        "event_arrived",
        "queued",
        "completed",
    ]


def test_simulate_says_when_the_customer_would_not_enter(api_a, merchant_a, follow_up):
    customer = CustomerFactory(merchant=merchant_a)

    result = simulate(
        api_a,
        follow_up,
        customer_id=customer.pk,
        events=[
            {
                "type": "order.cancelled",
                "at": "2026-06-10T15:00:00Z",
                "payload": typed_payload("order.cancelled"),
            }
        ],
    ).json()

    assert (result["entered"], result["timeline"]) == (False, [])
    assert result["end"] == {"state": "", "reason": "", "at": None}


def test_simulate_the_draft_instead_of_the_live_version(api_a, merchant_a, follow_up):
    # given: a draft that ends at once
    journey_save(
        merchant=merchant_a,
        key="follow-up",
        name="Follow-up",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "bye",
            "steps": [{"id": "bye", "type": "exit"}],
        },
        journey=follow_up,
    )
    customer = CustomerFactory(merchant=merchant_a, timezone="UTC")
    before = snapshot()
    events = [
        {
            "type": "order.placed",
            "at": "2026-06-10T15:00:00Z",
            "payload": typed_payload("order.placed"),
        }
    ]

    # when
    draft = simulate(api_a, follow_up, customer_id=customer.pk, events=events, draft=True)
    live = simulate(api_a, follow_up, customer_id=customer.pk, events=events)

    # then
    assert draft.json()["end"]["state"] == "exited"
    assert draft.json()["end"]["reason"] == "exit_step"
    assert [step["step_id"] for step in draft.json()["timeline"]] == ["", "bye"]
    assert [step["step_id"] for step in live.json()["timeline"]][:3] == ["", "confirm", "check"]
    assert snapshot() == before  # no version was published


@pytest.mark.parametrize("query", ["true", "True", "1"])
def test_simulate_the_draft_by_the_query_parameter(api_a, merchant_a, follow_up, query):
    # given: a draft that ends at once
    journey_save(
        merchant=merchant_a,
        key="follow-up",
        name="Follow-up",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "bye",
            "steps": [{"id": "bye", "type": "exit"}],
        },
        journey=follow_up,
    )
    customer = CustomerFactory(merchant=merchant_a, timezone="UTC")
    body = {"customer_id": customer.pk, "events": [ORDER_PLACED]}
    url = f"{LIST}/{follow_up.pk}/simulate"
    before = snapshot()

    # when
    draft = api_a.post(f"{url}?draft={query}", body, format="json")
    agreed = api_a.post(f"{url}?draft=true", {**body, "draft": True}, format="json")
    live = api_a.post(f"{url}?draft=false", body, format="json")

    # then
    assert (draft.status_code, agreed.status_code, live.status_code) == (200, 200, 200)
    assert [step["step_id"] for step in draft.json()["timeline"]] == ["", "bye"]
    assert agreed.json() == draft.json()
    assert [step["step_id"] for step in live.json()["timeline"]][:3] == ["", "confirm", "check"]
    assert snapshot() == before  # no version was published


@pytest.mark.parametrize(
    ("query", "body", "code"),
    [
        ("maybe", {}, "invalid"),
        ("", {}, "invalid"),
        ("true&draft=false", {}, "invalid"),
        ("false", {"draft": True}, "draft_mismatch"),  # a good query the body contradicts
    ],
)
def test_a_bad_draft_query_parameter_is_a_problem_naming_it(
    api_a, merchant_a, follow_up, query, body, code
):
    # given
    customer = CustomerFactory(merchant=merchant_a, timezone="UTC")
    before = snapshot()

    # when
    response = api_a.post(
        f"{LIST}/{follow_up.pk}/simulate?draft={query}",
        {"customer_id": customer.pk, "events": [ORDER_PLACED], **body},
        format="json",
    )

    # then
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert (response.json()["code"], list(response.json()["errors"])) == (code, ["draft"])
    assert snapshot() == before


def test_a_draft_that_needs_a_feature_cannot_be_simulated_as_published(api_a, merchant_a):
    # given: the review request blueprint, which needs Feedback's survey link
    journey = journey_blueprint_install(merchant=merchant_a, key="review_request")
    customer = CustomerFactory(merchant=merchant_a)

    # when
    response = api_a.post(
        f"{LIST}/{journey.pk}/simulate?draft=true",
        {"customer_id": customer.pk, "events": [ORDER_PLACED]},
        format="json",
    )

    # then
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "feature_missing"
    assert response.json()["detail"] == (
        "Needs Feedback: review_reminder and review_request use survey_url, which comes with "
        "Feedback. It can be published once that exists."
    )
    assert list(response.json()["errors"]) == ["steps"]


def test_the_schema_documents_the_draft_query_parameter(api_a):
    # when
    schema = api_a.get("/api/v1/schema/?format=json").json()

    # then
    operation = schema["paths"]["/api/v1/journeys/{id}/simulate"]["post"]
    [draft] = [p for p in operation["parameters"] if p["name"] == "draft"]
    assert (draft["in"], draft.get("required", False), draft["schema"]) == (
        "query",
        False,
        {"type": "boolean"},
    )
    assert "draft" in draft["description"]


def test_simulating_a_journey_with_no_live_version_is_a_conflict(api_a, merchant_a):
    journey = journey_save(merchant=merchant_a, key="d", name="D", definition=DEFINITION)
    customer = CustomerFactory(merchant=merchant_a)

    response = simulate(api_a, journey, customer_id=customer.pk, events=[ORDER_PLACED])

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_published"


def test_simulate_honours_the_idempotency_key(api_a, merchant_a, follow_up):
    # given
    customer = CustomerFactory(merchant=merchant_a, tags=["vip"], timezone="UTC")
    url = f"{LIST}/{follow_up.pk}/simulate"
    body = {"customer_id": customer.pk, "events": [ORDER_PLACED]}

    # when
    first = api_a.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="sim-7")
    again = api_a.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="sim-7")
    other = api_a.post(url, {**body, "draft": True}, format="json", HTTP_IDEMPOTENCY_KEY="sim-7")

    # then
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


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
