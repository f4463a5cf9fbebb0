"""The carrier tracking webhook: its signature with a timestamp, dedupe on the delivery id,
aggregator statuses mapped onto ours, and unknown tracking numbers."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, date, datetime

import pytest
from django.test import Client

from connectors.handlers import delivery_handle
from connectors.models import InboundDelivery
from connectors.tracking import tracking_status
from orders.models import Shipment, TrackingEvent
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.connectors import payloads
from tests.connectors.conftest import (
    deliveries,
    tracking_post,
    tracking_signature_header,
)


@pytest.fixture
def shipped_a(shopify, connected_a):
    """Merchant A's order #1001 with its UPS parcel in transit."""
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    return connected_a


def tracking_deliveries() -> list[tuple]:
    return [d for d in deliveries() if d[1] == "tracking"]


def test_a_signed_update_moves_the_shipment_and_adds_its_checkpoints(client, eager, shipped_a):
    # when
    with eager():
        response = tracking_post(
            client, "alpha", payloads.tracking(), secret=shipped_a.tracking_secret
        )
    # then
    assert (response.status_code, response.json()) == (200, {"status": "received"})
    assert tracking_deliveries() == [
        ("alpha", "tracking", "trk-evt-1", "tracking/update", "processed", 1, "")
    ]
    shipment = Shipment.unscoped.get()
    assert (shipment.status, shipment.status_changed_at, shipment.estimated_delivery) == (
        "out_for_delivery",
        datetime(2026, 3, 4, 8, 15, tzinfo=UTC),
        date(2026, 3, 4),
    )
    assert list(
        TrackingEvent.unscoped.order_by("occurred_at").values_list(
            "status", "description", "location", "occurred_at"
        )
    ) == [
        (
            "in_transit",
            "Arrived at facility",
            "Ottawa, ON",
            datetime(2026, 3, 3, 6, 10, tzinfo=UTC),
        ),
        ("out_for_delivery", "On the van", "Ottawa, ON", datetime(2026, 3, 4, 8, 15, tzinfo=UTC)),
    ]
    assert Event.unscoped.filter(type="shipment.out_for_delivery").count() == 1


def test_the_same_delivery_id_twice_is_processed_once(client, eager, shipped_a):
    # given
    with eager():
        tracking_post(client, "alpha", payloads.tracking(), secret=shipped_a.tracking_secret)
    # when
    with eager():
        again = tracking_post(
            client, "alpha", payloads.tracking(), secret=shipped_a.tracking_secret
        )
    # then
    assert again.json() == {"status": "duplicate"}
    assert len(tracking_deliveries()) == 1
    assert TrackingEvent.unscoped.count() == 2


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        "t=notanumber,v1=abc",
        "t={now},v1=0000",
        "t={old},v1={old_signature}",  # signed correctly, 6 minutes ago: a replay
        "t={future},v1={future_signature}",
    ],
)
def test_a_bad_missing_or_old_signature_is_refused_with_401_and_nothing_stored(
    client, shipped_a, header
):
    # given
    body = payloads.tracking()
    raw = json.dumps(body).encode()
    now = int(time.time())
    values = {
        "now": now,
        "old": now - 360,
        "old_signature": tracking_signature_header(shipped_a.tracking_secret, raw, now - 360).split(
            "v1="
        )[1],
        "future": now + 360,
        "future_signature": tracking_signature_header(
            shipped_a.tracking_secret, raw, now + 360
        ).split("v1=")[1],
    }
    before = (InboundDelivery.unscoped.count(), TrackingEvent.unscoped.count())
    # when
    response = tracking_post(
        client, "alpha", body, header=header.format(**values) if header is not None else None
    )
    # then
    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"
    assert (InboundDelivery.unscoped.count(), TrackingEvent.unscoped.count()) == before


def test_a_signature_within_the_five_minute_tolerance_is_accepted(client, shipped_a):
    # when
    response = tracking_post(
        client,
        "alpha",
        payloads.tracking(),
        secret=shipped_a.tracking_secret,
        timestamp=int(time.time()) - 240,
    )
    # then
    assert response.status_code == 200


def test_merchant_as_tracking_secret_cannot_post_to_merchant_b(client, shipped_a, connected_b):
    # when
    response = tracking_post(client, "bravo", payloads.tracking(), secret=shipped_a.tracking_secret)
    # then
    assert response.status_code == 401
    assert tracking_deliveries() == []


def test_an_unknown_tracking_number_is_answered_200_and_recorded_as_ignored(
    client, eager, shipped_a
):
    # when
    with eager():
        response = tracking_post(
            client,
            "alpha",
            payloads.tracking(tracking_number="NOPE123"),
            secret=shipped_a.tracking_secret,
        )
    # then
    assert response.status_code == 200
    assert tracking_deliveries() == [
        (
            "alpha",
            "tracking",
            "trk-evt-1",
            "tracking/update",
            "ignored",
            1,
            "No shipment has tracking number NOPE123.",
        )
    ]


def test_another_merchants_shipment_is_not_found_by_its_tracking_number(
    client, eager, shipped_a, connected_b
):
    # when: bravo's carrier posts alpha's tracking number
    with eager():
        tracking_post(client, "bravo", payloads.tracking(), secret=connected_b.tracking_secret)
    # then
    assert tracking_deliveries()[0][4] == "ignored"
    assert Shipment.unscoped.get().status == "in_transit"


def test_a_delivery_without_an_id_is_refused_with_400(client, shipped_a):
    # when
    body = payloads.tracking()
    del body["id"]
    response = tracking_post(client, "alpha", body, secret=shipped_a.tracking_secret)
    # then
    assert response.status_code == 400
    assert response.json()["detail"] == "id: the delivery id is required"
    assert tracking_deliveries() == []


def test_checkpoint_times_without_an_offset_fail_the_delivery(client, eager, shipped_a):
    # given
    body = payloads.tracking()
    body["checkpoints"][0]["occurred_at"] = "2026-03-03T06:10:00"
    # when
    with eager():
        tracking_post(client, "alpha", body, secret=shipped_a.tracking_secret)
    # then
    assert tracking_deliveries()[0][4:] == (
        "failed",
        1,
        "checkpoints: '2026-03-03T06:10:00' is not an ISO 8601 time with a UTC offset",
    )
    assert TrackingEvent.unscoped.count() == 0


def test_a_delivery_without_a_tracking_number_fails_for_good_naming_it(client, eager, shipped_a):
    # when
    with eager():
        response = tracking_post(
            client, "alpha", payloads.tracking(tracking_number=""), secret=shipped_a.tracking_secret
        )

    # then: received, then failed once and not retried (no later delivery can supply it)
    assert (response.status_code, response.json()) == (200, {"status": "received"})
    assert tracking_deliveries()[0][4:] == ("failed", 1, "tracking_number: required")
    with pytest.raises(DomainError) as refused:
        delivery_handle(
            merchant=shipped_a,
            delivery=InboundDelivery.unscoped.get(source="tracking"),
            now=datetime.now(UTC),
        )
    assert (refused.value.code, refused.value.field) == ("required", "tracking_number")


@pytest.mark.parametrize(
    ("given", "ours"),
    [
        ("Pending", ("pending", "")),
        ("InfoReceived", ("info_received", "")),
        ("pre_transit", ("info_received", "")),
        ("label_created", ("info_received", "")),
        ("InTransit", ("in_transit", "")),
        ("in_transit", ("in_transit", "")),
        ("OutForDelivery", ("out_for_delivery", "")),
        ("available_for_pickup", ("available_for_pickup", "")),
        ("AvailableForPickup", ("available_for_pickup", "")),
        ("Delivered", ("delivered", "")),
        ("AttemptFail", ("failed_attempt", "")),
        ("DeliveryFailure", ("failed_attempt", "other")),
        ("attempted_delivery", ("failed_attempt", "other")),
        ("ready_for_pickup", ("available_for_pickup", "")),
        ("PRE_TRANSIT", ("info_received", "")),
        ("return_to_sender", ("returned_to_sender", "")),
        ("Exception", ("exception", "other")),
        ("failure", ("exception", "other")),
        ("Expired", ("expired", "")),
        ("return_to_sender", ("returned_to_sender", "")),
        ("returned_to_sender", ("returned_to_sender", "")),
        ("unknown", None),
        ("NotFound", None),
        ("cancelled", None),
    ],
)
def test_aggregator_statuses_map_onto_ours(given, ours):
    assert tracking_status(given) == ours


def test_a_status_we_do_not_know_is_refused():
    with pytest.raises(DomainError) as excinfo:
        tracking_status("teleported")
    assert excinfo.value.message == "status: 'teleported' is not a tracking status we know"


def test_the_documented_openssl_recipe_signs_a_delivery_we_accept(client, shipped_a):
    # given: the signature made exactly as docs/integrations.md shows
    raw = json.dumps(payloads.tracking())
    timestamp = str(int(time.time()))
    digest = subprocess.run(  # noqa: S603
        ["openssl", "dgst", "-sha256", "-hmac", shipped_a.tracking_secret],  # noqa: S607
        input=f"{timestamp}.{raw}".encode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    signature = digest.strip().rsplit(" ", 1)[-1]
    # when
    response = client.post(
        "/webhooks/tracking/alpha/",
        data=raw,
        content_type="application/json",
        headers={"X-Tracking-Signature": f"t={timestamp},v1={signature}"},
    )
    # then
    assert response.status_code == 200
    assert tracking_deliveries()[0][2:5] == ("trk-evt-1", "tracking/update", "received")


@pytest.mark.parametrize("timestamp", ["\u00b2", "\u0661\u0662", "\uff11\uff12"])
def test_a_timestamp_of_non_ascii_digits_is_refused_with_401_not_a_crash(connected_a, timestamp):
    # given: digits beyond ASCII: "²" passes str.isdigit() but int() refuses it; Arabic-Indic
    # and full-width digits int() would take, but no sender writes a Unix time that way
    client = Client(raise_request_exception=False)
    # when
    response = client.post(
        "/webhooks/tracking/alpha/",
        data=b"{}",
        content_type="application/json",
        headers={"X-Tracking-Signature": f"t={timestamp},v1=ab"},
    )
    # then
    assert (response.status_code, response.json()["code"]) == (401, "signature_invalid")
    assert InboundDelivery.unscoped.count() == 0
