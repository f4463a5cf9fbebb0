"""Simulating a journey through the API: the input checked field by field, the events taken in
time order, the draft or the live version, idempotency, and nothing sent or written."""

from __future__ import annotations

import pytest

from journeys.blueprints import journey_blueprint_install
from journeys.models import Enrollment
from journeys.services import journey_save
from tests.factories import CustomerFactory, typed_payload
from tests.journeys.api_helpers import DEFINITION, LIST, snapshot

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
