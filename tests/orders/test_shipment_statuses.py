"""The status model (orders/shipment_statuses.py) through shipment_ingest and tracking updates:
the ten statuses, sub-statuses that must fit their status, the old ``label_created`` word, the
events of the new statuses, and existing rows moved onto the new word."""

from datetime import UTC, datetime

import pytest
from django.apps import apps

from orders.models import Shipment, TrackingEvent
from orders.services.orders import order_ingest
from orders.services.shipments import shipment_ingest, shipment_tracking_update
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.factories import order_payload

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def order(merchant_a):
    return order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW).instance


def shipment(merchant, checkpoints=(), **fields):
    payload = {
        "external_id": "ful-1",
        "order_external_id": "ord-1001",
        "carrier": "UPS",
        "tracking_number": "1Z999",
        "checkpoints": list(checkpoints),
        **fields,
    }
    return shipment_ingest(merchant=merchant, payload=payload, now=NOW)


def scan(status, at, **extra):
    return {"status": status, "occurred_at": at, **extra}


def events_of(merchant, prefix="shipment."):
    return [
        (event.type, event.payload["status"], event.payload["substatus"])
        for event in Event.unscoped.filter(merchant=merchant, type__startswith=prefix).order_by(
            "id"
        )
    ]


def test_a_failed_attempt_then_delivery_next_day_records_each_with_its_reason(merchant_a, order):
    # when
    shipment(merchant_a, [scan("in_transit", "2026-03-02T09:00:00Z")])
    shipment(
        merchant_a,
        [
            scan(
                "failed_attempt",
                "2026-03-04T15:00:00Z",
                substatus="recipient_unavailable",
                raw_status="AttemptFail_002",
            ),
            scan("out_for_delivery", "2026-03-05T07:00:00Z"),
            scan("delivered", "2026-03-05T12:00:00Z", substatus="signed"),
        ],
    )

    # then: a newer dated scan applies whatever its rank; every step is an event with its reason
    held = Shipment.unscoped.get()
    assert (held.status, held.substatus) == ("delivered", "signed")
    assert events_of(merchant_a)[1:] == [
        ("shipment.in_transit", "in_transit", ""),
        ("shipment.failed_attempt", "failed_attempt", "recipient_unavailable"),
        ("shipment.out_for_delivery", "out_for_delivery", ""),
        ("shipment.delivered", "delivered", "signed"),
    ]
    assert list(
        TrackingEvent.unscoped.order_by("occurred_at").values_list(
            "status", "substatus", "raw_status"
        )
    ) == [
        ("in_transit", "", ""),
        ("failed_attempt", "recipient_unavailable", "AttemptFail_002"),
        ("out_for_delivery", "", ""),
        ("delivered", "signed", ""),
    ]


def test_an_older_scan_never_moves_the_parcel_back(merchant_a, order):
    shipment(merchant_a, [scan("available_for_pickup", "2026-03-04T10:00:00Z")])

    shipment(merchant_a, [scan("in_transit", "2026-03-03T10:00:00Z")])

    assert Shipment.unscoped.get().status == "available_for_pickup"
    assert [t for t, _, _ in events_of(merchant_a)] == [
        "shipment.created",
        "shipment.available_for_pickup",
    ]


def test_the_same_status_with_a_newer_reason_changes_the_reason_and_records_nothing(
    merchant_a, order
):
    shipment(merchant_a, [scan("exception", "2026-03-04T10:00:00Z", substatus="delayed")])
    held = Shipment.unscoped.get()

    shipment_tracking_update(
        merchant=merchant_a,
        shipment=held,
        checkpoint=scan("exception", "2026-03-05T10:00:00Z", substatus="customs"),
        now=NOW,
    )

    held.refresh_from_db()
    assert (held.status, held.substatus) == ("exception", "customs")
    assert [t for t, _, _ in events_of(merchant_a)] == ["shipment.created", "shipment.exception"]


def test_label_created_is_still_taken_as_info_received(merchant_a, order):
    result = shipment(merchant_a, status="label_created")

    assert result.instance.status == "info_received"
    assert Shipment.unscoped.get().status == "info_received"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"status": "in_transit", "substatus": "damaged"},
            "substatus",
            "'in_transit' carries no sub-status",
        ),
        (
            {"status": "exception", "substatus": "signed"},
            "substatus",
            "'signed' is not a sub-status of 'exception': one of damaged, refused, address, "
            "customs, weather, lost, delayed, held, undeliverable, other",
        ),
        ({"substatus": "damaged"}, "substatus", "a sub-status needs a status"),
        (
            {"checkpoints": [scan("delivered", "2026-03-04T10:00:00Z", substatus="lost")]},
            "checkpoints[0].substatus",
            "'lost' is not a sub-status of 'delivered': one of signed, safe_place, pickup_point, "
            "neighbour",
        ),
    ],
)
def test_a_sub_status_that_does_not_fit_is_refused_naming_the_field(
    merchant_a, order, fields, field, message
):
    with pytest.raises(DomainError) as refused:
        shipment(merchant_a, **fields)

    assert refused.value.fields == {field: [{"code": "invalid", "message": message}]}
    assert Shipment.unscoped.count() == 0


def test_the_migration_moves_label_created_rows_onto_info_received(merchant_a, order):
    # given: rows written with the old word (as before the migration)
    shipment(merchant_a, [scan("info_received", "2026-03-01T10:00:00Z")])
    Shipment.unscoped.update(status="label_created")
    TrackingEvent.unscoped.update(status="label_created")
    migration = __import__(
        "orders.migrations.0004_shipment_status_model", fromlist=["info_received_forward"]
    )

    migration.info_received_forward(apps, None)

    assert list(Shipment.unscoped.values_list("status", flat=True)) == ["info_received"]
    assert list(TrackingEvent.unscoped.values_list("status", flat=True)) == ["info_received"]
