"""The API's shipment shows its open delay (``delay``) and its estimate range (``estimate``): exact
values, null when there is none, filled once per answer (no query per shipment), declared in the
OpenAPI schema as they are; and the registry that lets the tracking pillar add the field."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from orders.shipment_extras import ShipmentExtra, shipment_extras
from tests.conftest import client_for
from tracking.delays import delays_scan
from tracking.models import DelayIncident


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def api_la(merchant_la):
    return client_for(merchant_la)


def incident(shipment, reason="no_scan_in_transit", *, since, delayed_at, resolved=False):
    return DelayIncident.unscoped.create(
        merchant=shipment.merchant,
        order=shipment.order,
        shipment=shipment,
        reason=reason,
        since=since,
        delayed_at=delayed_at,
        detected_at=delayed_at,
        resolved_at=delayed_at if resolved else None,
        resolution="moved" if resolved else "",
    )


def test_a_late_shipment_shows_its_open_delay_and_estimate(api_la, merchant_la, shipment_of):
    # given: in transit, last scanned 2 April, shown 6 to 8 April; the scan raised its delays
    shipment = shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-04-01T12:00:00-07:00"),
        status_changed_at=at("2026-04-02T12:00:00-07:00"),
        estimate_earliest=date(2026, 4, 6),
        estimate_latest=date(2026, 4, 8),
        estimate_basis="history",
    )
    delays_scan(now=at("2026-04-09T12:00:00-07:00"))

    # when
    body = api_la.get(f"/api/v1/shipments/{shipment.pk}").json()

    # then: of its two open incidents, the one that became a delay first; times in UTC
    assert DelayIncident.unscoped.filter(resolved_at__isnull=True).count() == 2
    assert (body["status"], body["substatus"]) == ("in_transit", "")
    assert body["estimate"] == {
        "earliest": "2026-04-06",
        "latest": "2026-04-08",
        "basis": "history",
    }
    assert body["delay"] == {
        "reason": "no_scan_in_transit",
        "since": "2026-04-02T19:00:00Z",
        "delayed_at": "2026-04-07T19:00:00Z",
    }
    assert list(body)[-2:] == ["updated_at", "delay"]


def test_no_open_incident_and_no_estimate_show_null(api_la, merchant_la, shipment_of):
    # given: an incident already resolved, and no range kept
    shipment = shipment_of(merchant_la, status="in_transit", created_at=at("2026-04-01T12:00:00Z"))
    incident(
        shipment,
        since=at("2026-04-01T12:00:00Z"),
        delayed_at=at("2026-04-06T12:00:00Z"),
        resolved=True,
    )

    # when
    body = api_la.get(f"/api/v1/shipments/{shipment.pk}").json()

    # then
    assert (body["delay"], body["estimate"]) == (None, None)


def test_the_delay_follows_the_shipment_through_every_answer(api_la, merchant_la, shipment_of):
    # given
    shipment = shipment_of(merchant_la, status="exception", created_at=at("2026-04-01T12:00:00Z"))
    incident(
        shipment,
        "exception",
        since=at("2026-04-01T12:00:00Z"),
        delayed_at=at("2026-04-01T12:00:00Z"),
    )
    expected = {
        "reason": "exception",
        "since": "2026-04-01T12:00:00Z",
        "delayed_at": "2026-04-01T12:00:00Z",
    }
    order_id = shipment.order_id

    # when
    by_external_id = api_la.get(f"/api/v1/shipments/by-external-id/{shipment.external_id}")
    listed = api_la.get("/api/v1/shipments").json()["results"]
    expanded = api_la.get(f"/api/v1/orders/{order_id}?expand=shipments").json()["shipments"]
    orders = api_la.get("/api/v1/orders?expand=shipments").json()["results"]
    patched = api_la.patch(f"/api/v1/shipments/{shipment.pk}", {"carrier": "USPS"}, format="json")

    # then
    assert by_external_id.json()["delay"] == expected
    assert [row["delay"] for row in listed] == [expected]
    assert [row["delay"] for row in expanded] == [expected]
    assert [row["delay"] for order in orders for row in order["shipments"]] == [expected]
    assert patched.status_code == 200
    assert patched.json()["delay"] == expected


def _queries(api, path: str) -> int:
    api.get(path)  # the key's first use of the test writes its last-used time
    with CaptureQueriesContext(connection) as captured:
        assert api.get(path).status_code == 200
    return len(captured)


def test_a_page_of_shipments_reads_the_delays_in_one_query(api_la, merchant_la, shipment_of):
    def add(count: int) -> None:
        for _ in range(count):
            shipment = shipment_of(
                merchant_la, status="exception", created_at=at("2026-04-01T12:00:00Z")
            )
            incident(
                shipment, "exception", since=shipment.created_at, delayed_at=shipment.created_at
            )

    # given: one late shipment, then six
    add(1)
    one = (
        _queries(api_la, "/api/v1/shipments"),
        _queries(api_la, "/api/v1/orders?expand=shipments"),
    )
    add(5)
    six = (
        _queries(api_la, "/api/v1/shipments"),
        _queries(api_la, "/api/v1/orders?expand=shipments"),
    )

    # then: the same number of queries whatever the page holds
    assert one == six
    body = api_la.get("/api/v1/shipments").json()["results"]
    assert [row["delay"]["reason"] for row in body] == ["exception"] * 6


def test_another_merchants_incident_never_shows(api_la, merchant_la, merchant_b, shipment_of):
    # given: Bravo's late shipment; Lima's is not late
    lima = shipment_of(merchant_la, status="in_transit", created_at=at("2026-04-01T12:00:00Z"))
    bravo = shipment_of(merchant_b, status="exception", created_at=at("2026-04-01T12:00:00Z"))
    incident(bravo, "exception", since=bravo.created_at, delayed_at=bravo.created_at)

    # when
    own = api_la.get(f"/api/v1/shipments/{lima.pk}").json()
    other = api_la.get(f"/api/v1/shipments/{bravo.pk}")

    # then
    assert own["delay"] is None
    assert other.status_code == 404


def test_the_schema_declares_delay_and_estimate_exactly(api_la):
    # when
    schema = api_la.get("/api/v1/schema/?format=json").json()

    # then
    components = schema["components"]["schemas"]
    shipment = components["Shipment"]["properties"]
    assert shipment["delay"]["oneOf"] == [
        {"$ref": "#/components/schemas/ShipmentDelay"},
        {"type": "null"},
    ]
    assert shipment["estimate"]["oneOf"] == [
        {"$ref": "#/components/schemas/ShipmentEstimate"},
        {"type": "null"},
    ]
    assert {"delay", "estimate", "status", "substatus"} <= set(components["Shipment"]["required"])
    delay = components["ShipmentDelay"]
    assert delay["required"] == ["delayed_at", "reason", "since"]
    assert delay["properties"]["since"]["format"] == "date-time"
    assert delay["properties"]["delayed_at"]["format"] == "date-time"
    assert components["ShipmentDelayReasonEnum"]["enum"] == [
        "no_first_scan",
        "no_scan_in_transit",
        "past_estimated_delivery",
        "exception",
        "expired",
    ]
    estimate = components["ShipmentEstimate"]
    assert estimate["required"] == ["basis", "earliest", "latest"]
    assert estimate["properties"]["earliest"] == {"type": "string", "format": "date"}
    assert components["EstimateBasisEnum"]["enum"] == ["carrier", "history", "default"]


# --- the registry -----------------------------------------------------------------------------


def _nothing(**kwargs):
    return {}


@pytest.mark.parametrize(
    ("name", "field", "message"),
    [
        ("delay", serializers.CharField(allow_null=True, read_only=True), "'delay' is taken"),
        ("carrier", serializers.CharField(allow_null=True, read_only=True), "'carrier' is taken"),
        ("risk", serializers.CharField(read_only=True), "must be read-only and nullable"),
    ],
)
def test_the_registry_refuses_a_taken_or_non_nullable_field(name, field, message):
    # when / then
    with pytest.raises(ValueError, match=message):
        shipment_extras.register(ShipmentExtra(name="other", fields={name: field}, fill=_nothing))
    assert set(shipment_extras.fields()) == {"delay"}


def test_a_registered_field_shows_what_its_fill_gives_and_null_otherwise(
    api_la, merchant_la, shipment_of
):
    # given: a second app's field, filled for one shipment of two
    first = shipment_of(merchant_la, status="in_transit", created_at=at("2026-04-01T12:00:00Z"))
    shipment_of(merchant_la, status="in_transit", created_at=at("2026-04-01T13:00:00Z"))
    calls = []

    def fill(*, merchant, shipments):
        calls.append((merchant.slug, sorted(s.pk for s in shipments)))
        return {first.pk: {"risk": "high", "ignored": 1}}

    extra = ShipmentExtra(
        name="risk",
        fields={"risk": serializers.CharField(allow_null=True, read_only=True)},
        fill=fill,
    )
    shipment_extras.register(extra)
    try:
        # when
        rows = api_la.get("/api/v1/shipments?ordering=id").json()["results"]
    finally:
        shipment_extras.unregister("risk")

    # then: one call for the page
    assert [(row["risk"], "ignored" in row) for row in rows] == [("high", False), (None, False)]
    assert calls == [("lima", sorted(row["id"] for row in rows))]
