"""The event catalogue: what it refuses, what it lets through, the payloads the platform really
records held to their models, and docs/events.md kept equal to it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from pydantic import Field

from orders.events import OrderPayload
from orders.services.orders import order_bulk_ingest, order_ingest
from orders.services.shipments import shipment_ingest
from orders.voids import shipment_void
from postpurchase.errors import DomainError
from postpurchase.events.catalogue import (
    Payload,
    catalogue,
    event_type_get,
    event_type_register,
    event_types_listed,
    reserved_namespaces,
    reserved_types_pattern,
)
from postpurchase.events.docs import events_doc
from postpurchase.events.models import Event
from postpurchase.events.services import EventSpec, event_record, event_record_many
from tests.factories import order_payload

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
PLACED = {
    "order_id": 1,
    "external_id": "ord-1",
    "number": "#1",
    "currency": "EUR",
    "total": "85.00",
    "placed_at": "2026-03-01T12:00:00+00:00",
    "line_count": 1,
    "skus": ["TS-1"],
    "categories": [],
    "first_order": True,
}
UPDATED = {k: v for k, v in PLACED.items() if k != "first_order"}


@pytest.fixture
def strict(settings):
    settings.EVENT_PAYLOAD_VALIDATION = "strict"


def test_docs_events_md_is_what_the_catalogue_produces():
    # then: regenerate with `python manage.py events_doc`
    assert DOC.read_text() == events_doc()


def test_the_events_doc_command_checks_and_writes(tmp_path, settings):
    # given: a checkout whose page is out of date
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "events.md").write_text("old\n")
    settings.BASE_DIR = tmp_path

    # when / then
    with pytest.raises(Exception, match="differs from the catalogue"):
        call_command("events_doc", "--check")
    call_command("events_doc")
    call_command("events_doc", "--check")
    assert (tmp_path / "docs" / "events.md").read_text() == events_doc()


def test_every_app_declares_its_types_and_namespaces():
    assert [t.name for t in event_types_listed()] == [
        "order.placed",
        "order.updated",
        "order.cancelled",
        "order.fulfilled",
        "shipment.created",
        "shipment.in_transit",
        "shipment.out_for_delivery",
        "shipment.delivered",
        "shipment.exception",
        "shipment.returned_to_sender",
        "shipment.failed_attempt",
        "shipment.available_for_pickup",
        "shipment.expired",
        "shipment.delayed",
        "order.fulfillment_delayed",
        "shipment.cancelled",
        "order.refunded",
        "customer.redacted",
        "shop.redacted",
        "claim.filed",
        "claim.approved",
        "claim.rejected",
        "claim.resolved",
    ]
    assert reserved_namespaces() == {
        "claim",
        "journey",
        "loyalty",
        "message",
        "order",
        "return",
        "shipment",
        "survey",
        "webhook",
    }
    assert event_type_get("journey.vip_reached").name == "journey.*"
    assert event_type_get("product.setup_completed") is None
    assert reserved_types_pattern() == (
        r"^(claim|journey|loyalty|message|order|return|shipment|survey|webhook)\."
        r"|^(customer\.redacted|shop\.redacted)$"
    )


def test_a_second_declaration_of_a_name_is_refused():
    # given
    class Other(Payload):
        x: int = Field(description="x")

    # when / then
    with pytest.raises(ValueError, match="already registered by orders"):
        event_type_register(name="order.placed", label="x", payload=Other, owner="returns")
    with pytest.raises(ValueError, match="reserve 'nowhere' before its family"):
        event_type_register(name="nowhere.*", label="x", payload=Other, owner="returns")
    assert event_type_get("order.placed").payload_model is OrderPayload


@pytest.mark.parametrize("name", ["order.plcaed", "shipment.lost", "journey", "return.requested"])
def test_an_unknown_platform_type_is_refused(merchant_a, name):
    # when
    with pytest.raises(DomainError) as refused:
        event_record(merchant=merchant_a, type=name, payload={}, now=T0)
    with pytest.raises(DomainError) as refused_many:
        event_record_many(merchant=merchant_a, events=[EventSpec(type=name)], now=T0)

    # then
    assert refused.value.field == refused_many.value.field == "type"
    expected = "invalid" if name == "journey" else "unknown_event_type"
    assert refused.value.code == refused_many.value.code == expected
    assert not Event.unscoped.filter(merchant=merchant_a).exists()


def test_a_bad_payload_is_refused_naming_the_type_and_the_field(merchant_a, strict):
    # given: the total as a number, not the decimal text the model says
    payload = {**PLACED, "total": 85}

    # when
    with pytest.raises(DomainError) as refused:
        event_record(merchant=merchant_a, type="order.placed", payload=payload, now=T0)
    with pytest.raises(DomainError) as refused_many:
        event_record_many(
            merchant=merchant_a,
            events=[
                EventSpec(type="order.placed", payload=PLACED),
                EventSpec(type="order.updated", payload={**UPDATED, "number": None}),
            ],
            now=T0,
        )

    # then
    assert (refused.value.code, refused.value.field) == ("payload_mismatch", "payload.total")
    assert refused.value.message == (
        "The payload of a 'order.placed' event does not match its model: "
        "total: Input should be a valid string."
    )
    assert refused_many.value.field == "payload.number"
    assert not Event.unscoped.filter(merchant=merchant_a).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({k: v for k, v in PLACED.items() if k != "skus"}, "payload.skus"),  # a key missing
        ({**PLACED, "order_number": "#1"}, "payload.order_number"),  # a key renamed
        ({**PLACED, "order_id": "1"}, "payload.order_id"),  # an id as text
        ({**PLACED, "first_order": None}, "payload.first_order"),  # optional means absent
    ],
)
def test_a_payload_is_held_to_exactly_its_keys(merchant_a, strict, payload, field):
    with pytest.raises(DomainError) as refused:
        event_record(merchant=merchant_a, type="order.placed", payload=payload, now=T0)

    assert refused.value.field == field


def test_in_log_mode_a_mismatch_is_logged_and_the_event_recorded(merchant_a, settings, caplog):
    # given: production's default (the suite itself runs strict)
    settings.EVENT_PAYLOAD_VALIDATION = "log"

    # when
    with caplog.at_level(logging.ERROR, logger="postpurchase.events.catalogue"):
        event, created = event_record(
            merchant=merchant_a, type="shipment.delivered", payload={"order_id": 5}, now=T0
        )

    # then
    assert created is True
    assert event.payload == {"order_id": 5}
    assert [r.getMessage() for r in caplog.records] == [
        "The payload of a 'shipment.delivered' event does not match its model: "
        "shipment_id: Field required."
    ]


@pytest.mark.parametrize("name", ["product.setup_completed", "customer.tagged", "shop.opened"])
def test_custom_types_are_recorded_with_any_payload(merchant_a, strict, name):
    event, created = event_record(
        merchant=merchant_a, type=name, payload={"anything": [1, "two"]}, now=T0
    )

    assert (created, event.type, event.payload) == (True, name, {"anything": [1, "two"]})


def test_a_journey_action_event_is_held_to_its_family_model(merchant_a, strict):
    # given
    payload = {"journey_id": 1, "enrollment_id": 2, "step_id": "vip", "trigger": {}}

    # when
    event, _ = event_record(merchant=merchant_a, type="journey.vip_reached", payload=payload)
    with pytest.raises(DomainError) as refused:
        event_record(merchant=merchant_a, type="journey.vip_again", payload={"journey_id": 1})

    # then
    assert event.payload == payload
    assert refused.value.field == "payload.enrollment_id"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("order.placed", "order.* events are recorded by the platform itself"),
        ("order.plcaed", "order.* events are recorded by the platform itself"),
        ("journey.vip_reached", "journey.* events are recorded by the platform itself"),
        ("return.requested", "return.* events are recorded by the platform itself"),
        ("webhook.test", "webhook.* events are recorded by the platform itself"),
        ("customer.redacted", "customer.redacted events are recorded by the platform itself"),
        ("shop.redacted", "shop.redacted events are recorded by the platform itself"),
    ],
)
def test_platform_names_are_refused_as_custom_events_through_the_api(api_a, name, message):
    # given
    api_a.post("/api/v1/customers", {"external_id": "c-1"}, format="json")

    # when
    response = api_a.post(
        "/api/v1/events", {"type": name, "customer_external_id": "c-1"}, format="json"
    )

    # then
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["type"]
    # an error is its message, or {"code", "message"} where the API gives codes per error
    assert [e["message"] if isinstance(e, dict) else e for e in errors["type"]] == [message]
    assert not Event.unscoped.filter(type=name).exists()


def test_custom_events_in_an_open_namespace_pass_through_the_api(api_a):
    # given
    api_a.post("/api/v1/customers", {"external_id": "c-1"}, format="json")

    # when
    response = api_a.post(
        "/api/v1/events",
        {"type": "customer.tagged", "customer_external_id": "c-1", "properties": {"tag": "vip"}},
        format="json",
    )

    # then
    assert response.status_code == 201
    assert response.json()["type"] == "customer.tagged"


def test_the_api_schema_names_the_platform_names(api_a):
    schema = api_a.get("/api/v1/schema/?format=json").json()

    custom = schema["components"]["schemas"]["CustomEventInRequest"]["properties"]["type"]
    assert custom["not"] == {"pattern": reserved_types_pattern()}


def test_what_order_ingestion_records_matches_the_catalogue(merchant_a, strict):
    """Every door's events, recorded in strict mode: had one not matched, it would have raised."""
    # when: placed (first order), updated, cancelled, shipped, moved, delivered, voided
    order_ingest(merchant=merchant_a, payload=order_payload(), now=T0)
    order_ingest(merchant=merchant_a, payload=order_payload(number="#1001-b"), now=T0)
    shipment_ingest(
        merchant=merchant_a,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1001",
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "estimated_delivery": "2026-03-05",
            "lines": [{"line_external_id": "line-1", "quantity": 2}],
            "checkpoints": [
                {"status": "in_transit", "occurred_at": "2026-03-02T08:00:00Z"},
                {"status": "delivered", "occurred_at": "2026-03-04T08:00:00Z"},
            ],
        },
        now=T0,
    )
    shipment_void(merchant=merchant_a, shipment_external_id="ful-1", now=T0)
    order_ingest(
        merchant=merchant_a,
        payload=order_payload(cancelled_at="2026-03-09T08:00:00Z", cancel_reason="customer"),
        now=T0,
    )
    order_bulk_ingest(
        merchant=merchant_a,
        payloads=[
            order_payload(external_id="ord-2", number="#2"),
            {k: v for k, v in order_payload(external_id="ord-3").items() if k != "customer"},
        ],
        now=T0,
    )

    # then
    events = list(Event.unscoped.filter(merchant=merchant_a).order_by("id"))
    assert [e.type for e in events] == [
        "order.placed",
        "order.updated",
        "shipment.created",
        "shipment.in_transit",
        "shipment.delivered",
        "order.fulfilled",
        "shipment.cancelled",
        "order.updated",
        "order.cancelled",
        "order.placed",
        "order.placed",
    ]
    for event in events:
        model = event_type_get(event.type).payload_model
        assert model.model_validate(event.payload).model_dump(exclude_unset=True) == event.payload
    assert events[0].payload["first_order"] is True
    assert events[-1].payload["first_order"] is False


def test_the_catalogue_has_no_type_without_a_description():
    for event_type in catalogue.types():
        assert event_type.label and event_type.description, event_type.name
        for name, field in event_type.payload_model.model_fields.items():
            assert field.description, f"{event_type.name}.{name}"
