"""EasyPost's, Shippo's and AfterShip's own webhooks, at the merchant's URL for each: each
service's authentication (signatures computed here with the documented algorithms, not with the
code under test), their bodies read into the shipment update our tracking webhook makes, other
events acknowledged, dedupe, and tenant isolation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from datetime import UTC, date, datetime

import pytest

from connectors.models import InboundConfig, InboundDelivery
from connectors.services import feed_delivery_receive, feed_secret_set, shippo_token_rotate
from connectors.tracking_feeds import feed_reading
from orders.models import Shipment, TrackingEvent
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.connectors import feed_payloads, payloads
from tests.connectors.conftest import deliveries

EASYPOST_SECRET_A = "ep-alpha-webhook-secret-7c1e"
AFTERSHIP_SECRET_A = "as-alpha-0f9e8d7c6b5a49382716"
EASYPOST_SECRET_B = "ep-bravo-webhook-secret-2b4d"
AFTERSHIP_SECRET_B = "as-bravo-1a2b3c4d5e6f70819203"
UPS_LINK = "https://www.ups.com/WebTracking?trackNums=1Z999AA10123456784"


def easypost_header(secret: str, raw: bytes) -> str:
    """EasyPost's documented signature: the NFKD-normalised secret, HMAC-SHA256 of the raw body,
    hex, after ``hmac-sha256-hex=`` (its client libraries' ``validate_webhook``)."""
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, raw, hashlib.sha256).hexdigest()


def aftership_header(secret: str, raw: bytes) -> str:
    """AfterShip's documented signature: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def feed_post(client, slug, vendor, body, *, secret=None, header=None, token=None):
    """Post ``body`` to the merchant's URL for ``vendor``, authenticated with ``secret`` as that
    service does (a signature header, or Shippo's token in the URL), or with ``header``."""
    raw = json.dumps(body).encode()
    headers = {}
    url = f"/webhooks/tracking/{slug}/{vendor}/"
    if vendor == "easypost":
        value = header if header is not None else secret and easypost_header(secret, raw)
        if value:
            headers["X-Hmac-Signature"] = value
    elif vendor == "aftership":
        value = header if header is not None else secret and aftership_header(secret, raw)
        if value:
            headers["aftership-hmac-sha256"] = value
    elif (token or secret) is not None:
        url += f"?token={token or secret}"
    return client.post(url, data=raw, content_type="application/json", headers=headers)


def _feeds_connect(merchant, easypost_secret, aftership_secret):
    feed_secret_set(merchant=merchant, vendor="easypost", secret=easypost_secret)
    feed_secret_set(merchant=merchant, vendor="aftership", secret=aftership_secret)
    _, token = shippo_token_rotate(merchant=merchant)
    merchant.feed_secrets = {
        "easypost": easypost_secret,
        "aftership": aftership_secret,
        "shippo": token,
    }
    return merchant


@pytest.fixture
def feeds_a(shopify, connected_a):
    """Merchant A's order #1001 with its UPS parcel in transit, and its EasyPost, AfterShip and
    Shippo secrets kept."""
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    return _feeds_connect(connected_a, EASYPOST_SECRET_A, AFTERSHIP_SECRET_A)


@pytest.fixture
def feeds_b(connected_b):
    return _feeds_connect(connected_b, EASYPOST_SECRET_B, AFTERSHIP_SECRET_B)


def feed_deliveries() -> list[tuple]:
    return [d for d in deliveries() if d[3] != "tracking/update" and d[1] == "tracking"]


def scans() -> list[tuple]:
    return list(
        TrackingEvent.unscoped.order_by("occurred_at").values_list(
            "status", "substatus", "raw_status", "description", "location", "occurred_at"
        )
    )


def shipment_now() -> tuple:
    shipment = Shipment.unscoped.get()
    return (
        shipment.status,
        shipment.substatus,
        shipment.status_changed_at,
        shipment.estimated_delivery,
        shipment.tracking_url,
    )


def at(day, hour, minute) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


LABEL = "Shipper created a label, UPS has not received the package yet."
OTTAWA = "Ottawa, ON, CA"
EXPECTED = {
    "easypost": {
        "delivery_id": "easypost:evt_8c3f0e1a5b2d4e6f9a7b",
        "shipment": (
            "out_for_delivery",
            "",
            at(4, 8, 15),
            date(2026, 3, 4),
            "https://track.easypost.com/djE6dHJrXzNmN2E5YzJlMWI4ZDRmNjA",
        ),
        "scans": [
            ("info_received", "", "status_update", LABEL, "", at(2, 14, 0)),
            ("in_transit", "", "arrived_at_facility", "Arrived at Facility", OTTAWA, at(3, 6, 10)),
            (
                "out_for_delivery",
                "",
                "out_for_delivery",
                "Out For Delivery Today",
                OTTAWA,
                at(4, 8, 15),
            ),
        ],
        "event": "shipment.out_for_delivery",
    },
    "shippo": {
        "shipment": (
            "failed_attempt",
            "recipient_unavailable",
            at(4, 15, 30),
            date(2026, 3, 5),
            UPS_LINK,
        ),
        "scans": [
            ("info_received", "", "information_received", LABEL, "", at(2, 14, 0)),
            ("in_transit", "", "package_arrived", "Arrived at Facility", OTTAWA, at(3, 6, 10)),
            (
                "failed_attempt",
                "recipient_unavailable",
                "notice_left",
                "The receiver was not available for delivery. We'll make a second attempt.",
                OTTAWA,
                at(4, 15, 30),
            ),
        ],
        "event": "shipment.failed_attempt",
    },
    "aftership": {
        "delivery_id": "aftership:6f1c2b9e-3a4d-4e5f-8a7b-0c1d2e3f4a5b",
        "shipment": (
            "delivered",
            "signed",
            at(4, 18, 5),
            date(2026, 3, 4),
            "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        ),
        "scans": [
            (
                "in_transit",
                "",
                "InTransit_003",
                "Arrived at Facility",
                "Ottawa, ON, CAN",
                at(3, 6, 10),
            ),
            (
                "out_for_delivery",
                "",
                "OutForDelivery_001",
                "Out For Delivery Today",
                "Ottawa, ON, CAN",
                at(4, 8, 15),
            ),
            (
                "delivered",
                "signed",
                "Delivered_003",
                "Delivered, signed by J SNOW",
                "Ottawa, ON, CAN",
                at(4, 18, 5),
            ),
        ],
        "event": "shipment.delivered",
    },
}
VENDORS = ["easypost", "shippo", "aftership"]


def _shippo_id(body: dict) -> str:
    return "shippo:" + hashlib.sha256(json.dumps(body).encode()).hexdigest()


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_vendors_tracking_update_moves_the_shipment_and_stores_its_scans(
    client, eager, feeds_a, vendor
):
    # given
    body = feed_payloads.body(vendor)
    expected = EXPECTED[vendor]
    # when
    with eager():
        response = feed_post(client, "alpha", vendor, body, secret=feeds_a.feed_secrets[vendor])
    # then
    assert (response.status_code, response.json()) == (200, {"status": "received"})
    delivery_id = expected.get("delivery_id") or _shippo_id(body)
    assert feed_deliveries() == [
        ("alpha", "tracking", delivery_id, f"tracking/{vendor}", "processed", 1, "")
    ]
    assert shipment_now() == expected["shipment"]
    assert scans() == expected["scans"]
    assert Event.unscoped.filter(type=expected["event"]).count() == 1


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_same_body_sent_again_is_a_duplicate_and_changes_nothing(
    client, eager, feeds_a, vendor
):
    # given
    secret = feeds_a.feed_secrets[vendor]
    with eager():
        feed_post(client, "alpha", vendor, feed_payloads.body(vendor), secret=secret)
    # when
    with eager():
        again = feed_post(client, "alpha", vendor, feed_payloads.body(vendor), secret=secret)
    # then
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert len(feed_deliveries()) == 1
    assert TrackingEvent.unscoped.count() == 3


@pytest.mark.parametrize(
    ("vendor", "header"),
    [
        ("easypost", None),
        ("easypost", "hmac-sha256-hex=" + "0" * 64),
        ("easypost", "signed-with-another-secret"),
        ("easypost", "bare-hex"),
        ("aftership", None),
        ("aftership", base64.b64encode(b"\0" * 32).decode()),
        ("aftership", "signed-with-another-secret"),
        ("aftership", "hex-not-base64"),
        ("shippo", None),
        ("shippo", "shp_not-the-token"),
        ("shippo", "signed-with-another-secret"),
    ],
)
def test_a_missing_or_wrong_signature_is_refused_with_401_and_nothing_stored(
    client, feeds_a, vendor, header
):
    # given
    body = feed_payloads.body(vendor)
    raw = json.dumps(body).encode()
    right = feeds_a.feed_secrets[vendor]
    headers = {
        "signed-with-another-secret": {
            "easypost": easypost_header("another-secret-123", raw),
            "aftership": aftership_header("another-secret-123", raw),
            "shippo": right + "x",
        }[vendor],
        "bare-hex": hmac.new(right.encode(), raw, hashlib.sha256).hexdigest(),
        "hex-not-base64": hmac.new(right.encode(), raw, hashlib.sha256).hexdigest(),
    }
    value = headers.get(header, header)
    before = (InboundDelivery.unscoped.count(), TrackingEvent.unscoped.count())
    # when
    if vendor == "shippo":
        response = feed_post(client, "alpha", vendor, body, token=value)
    else:
        response = feed_post(client, "alpha", vendor, body, header=value or "")
    # then
    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"
    assert (InboundDelivery.unscoped.count(), TrackingEvent.unscoped.count()) == before
    assert Shipment.unscoped.get().status == "in_transit"


@pytest.mark.parametrize("vendor", VENDORS)
def test_another_merchants_url_refuses_this_merchants_secret(
    client, eager, feeds_a, feeds_b, vendor
):
    # when: alpha's secret, at bravo's URL
    with eager():
        response = feed_post(
            client, "bravo", vendor, feed_payloads.body(vendor), secret=feeds_a.feed_secrets[vendor]
        )
    # then
    assert (response.status_code, response.json()["code"]) == (401, "signature_invalid")
    assert feed_deliveries() == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_merchant_without_the_services_secret_refuses_its_deliveries(client, connected_a, vendor):
    # given: alpha keeps no secret for the service
    # when
    response = feed_post(client, "alpha", vendor, feed_payloads.body(vendor), secret="anything-1")
    # then
    assert response.status_code == 401
    assert InboundDelivery.unscoped.count() == 0


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_bravo_update_never_reaches_alphas_shipment(client, eager, feeds_a, feeds_b, vendor):
    # when: bravo's own service posts alpha's tracking number to bravo's URL
    with eager():
        response = feed_post(
            client, "bravo", vendor, feed_payloads.body(vendor), secret=feeds_b.feed_secrets[vendor]
        )
    # then
    assert response.status_code == 200
    assert [d[0] + "/" + d[4] for d in feed_deliveries()] == ["bravo/ignored"]
    assert Shipment.unscoped.get().status == "in_transit"
    assert TrackingEvent.unscoped.count() == 0


def _with_unknown_details(vendor: str) -> dict:
    body = feed_payloads.body(vendor)
    if vendor == "easypost":
        body["result"]["status_detail"] = "teleported_to_depot"
        body["result"]["tracking_details"][1]["status_detail"] = "brand_new_scan"
    elif vendor == "shippo":
        body["data"]["tracking_status"]["substatus"]["code"] = "drone_hovering"
        body["data"]["tracking_history"][1]["substatus"]["code"] = "brand_new_scan"
    else:
        body["msg"]["subtag"] = "Delivered_099"
        body["msg"]["checkpoints"][2]["subtag"] = "Delivered_099"
        body["msg"]["checkpoints"][0]["subtag"] = "InTransit_099"
    return body


@pytest.mark.parametrize(
    ("vendor", "status", "second_scan"),
    [
        ("easypost", ("out_for_delivery", ""), ("in_transit", "", "brand_new_scan")),
        ("shippo", ("in_transit", ""), ("in_transit", "", "brand_new_scan")),
        ("aftership", ("delivered", ""), ("out_for_delivery", "", "OutForDelivery_001")),
    ],
)
def test_detail_codes_we_do_not_know_fall_back_to_the_status_word(
    client, eager, feeds_a, vendor, status, second_scan
):
    # when
    with eager():
        feed_post(
            client,
            "alpha",
            vendor,
            _with_unknown_details(vendor),
            secret=feeds_a.feed_secrets[vendor],
        )
    # then: processed, each word mapped by its status; the raw word kept as sent
    assert feed_deliveries()[0][4:] == ("processed", 1, "")
    shipment = Shipment.unscoped.get()
    assert (shipment.status, shipment.substatus) == status
    assert scans()[1][:3] == second_scan
    if vendor == "aftership":
        assert scans()[0][:3] == ("in_transit", "", "InTransit_099")


@pytest.mark.parametrize(
    ("vendor", "body", "note"),
    [
        (
            "easypost",
            feed_payloads.easypost_batch_event(),
            "EasyPost event batch.updated is not a tracking update.",
        ),
        (
            "shippo",
            feed_payloads.shippo_transaction_event(),
            "Shippo event transaction_created is not a tracking update.",
        ),
        (
            "aftership",
            feed_payloads.aftership_pending_time_event(),
            "AfterShip event tracking_pending_time is not a tracking update.",
        ),
    ],
)
def test_events_that_are_not_tracking_updates_are_acknowledged_and_change_nothing(
    client, eager, feeds_a, vendor, body, note
):
    # when
    with eager():
        response = feed_post(client, "alpha", vendor, body, secret=feeds_a.feed_secrets[vendor])
    # then
    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert [d[3:] for d in feed_deliveries()] == [(f"tracking/{vendor}", "ignored", 0, note)]
    # only the event's name is kept, not what it carried (a Shippo label's address)
    assert InboundDelivery.unscoped.get(topic=f"tracking/{vendor}").body == {
        "event": body.get("description") or body["event"]
    }
    assert Shipment.unscoped.get().status == "in_transit"
    assert TrackingEvent.unscoped.count() == 0


def test_an_easypost_tracker_created_event_is_read_like_an_update(client, eager, feeds_a):
    # when
    with eager():
        feed_post(
            client,
            "alpha",
            "easypost",
            feed_payloads.easypost(description="tracker.created"),
            secret=EASYPOST_SECRET_A,
        )
    # then
    assert Shipment.unscoped.get().status == "out_for_delivery"


@pytest.mark.parametrize(
    ("vendor", "change", "detail"),
    [
        ("easypost", lambda b: b.pop("id"), "id: required"),
        ("easypost", lambda b: b.pop("description"), "description: required"),
        ("shippo", lambda b: b.pop("event"), "event: required"),
        ("aftership", lambda b: b.pop("event_id"), "event_id: required"),
    ],
)
def test_an_envelope_we_cannot_read_is_refused_with_400_naming_the_field(
    client, feeds_a, vendor, change, detail
):
    # given
    body = feed_payloads.body(vendor)
    change(body)
    # when
    response = feed_post(client, "alpha", vendor, body, secret=feeds_a.feed_secrets[vendor])
    # then
    assert (response.status_code, response.json()["detail"]) == (400, detail)
    assert feed_deliveries() == []


def _easypost_naive_time(body):
    body["result"]["tracking_details"][1]["datetime"] = "2026-03-03T06:10:00"


def _shippo_unknown_status(body):
    body["data"]["tracking_history"][2]["status"] = "TELEPORTED"


def _aftership_no_number(body):
    body["msg"]["tracking_number"] = ""
    body["msg"]["title"] = "still a tracking"


def _aftership_bad_estimate(body):
    body["msg"]["expected_delivery"] = "next week"


@pytest.mark.parametrize(
    ("vendor", "change", "error"),
    [
        (
            "easypost",
            _easypost_naive_time,
            "result.tracking_details[1].datetime: '2026-03-03T06:10:00' is not an ISO 8601 "
            "time with a UTC offset",
        ),
        (
            "easypost",
            lambda b: b["result"].pop("tracking_code"),
            "result.tracking_code: required",
        ),
        (
            "shippo",
            _shippo_unknown_status,
            "data.tracking_history[2].status: 'TELEPORTED' is not a Shippo status we know",
        ),
        (
            "aftership",
            _aftership_bad_estimate,
            "msg.expected_delivery: 'next week' is not a date (YYYY-MM-DD…)",
        ),
    ],
)
def test_a_tracking_update_we_cannot_read_fails_for_good_naming_the_field(
    client, eager, feeds_a, vendor, change, error
):
    # given
    body = feed_payloads.body(vendor)
    change(body)
    # when
    with eager():
        response = feed_post(client, "alpha", vendor, body, secret=feeds_a.feed_secrets[vendor])
    # then: received and recorded, then failed once and not retried; nothing written
    assert (response.status_code, response.json()) == (200, {"status": "received"})
    assert feed_deliveries()[0][4:] == ("failed", 1, error)
    assert InboundDelivery.unscoped.get(topic=f"tracking/{vendor}").next_attempt_at is None
    assert TrackingEvent.unscoped.count() == 0
    assert Shipment.unscoped.get().status == "in_transit"


def test_an_aftership_body_without_a_tracking_is_not_a_tracking_update(client, eager, feeds_a):
    # given
    body = feed_payloads.aftership()
    _aftership_no_number(body)
    # when
    with eager():
        response = feed_post(client, "alpha", "aftership", body, secret=AFTERSHIP_SECRET_A)
    # then
    assert response.json() == {"status": "ignored"}


def test_an_aftership_estimate_in_the_newer_api_shape_is_read(client, eager, feeds_a):
    # given: no expected_delivery, the carrier's estimate as the versioned API sends it
    body = feed_payloads.aftership()
    del body["msg"]["expected_delivery"]
    body["msg"]["courier_estimated_delivery_date"] = {
        "estimated_delivery_date": "2026-03-06",
        "estimated_delivery_date_min": None,
        "estimated_delivery_date_max": None,
    }
    # when
    with eager():
        feed_post(client, "alpha", "aftership", body, secret=AFTERSHIP_SECRET_A)
    # then
    assert Shipment.unscoped.get().estimated_delivery == date(2026, 3, 6)


def test_an_easypost_secret_is_normalised_as_easypost_does(client, eager, feeds_a):
    # given: a secret whose NFKD form differs ("ﬁ" ligature → "fi"); EasyPost signs with the
    # normalised form
    secret = "ep-\ufb01ne-secret-\u00e9t\u00e9"
    feed_secret_set(merchant=feeds_a, vendor="easypost", secret=secret)
    # when
    with eager():
        response = feed_post(client, "alpha", "easypost", feed_payloads.easypost(), secret=secret)
    # then
    assert response.status_code == 200
    assert Shipment.unscoped.get().status == "out_for_delivery"


def test_a_replaced_secret_keeps_verifying_for_a_day(client, feeds_a):
    # given
    feed_secret_set(merchant=feeds_a, vendor="aftership", secret="as-alpha-new-secret-99")
    # when: AfterShip still signs with the old one
    old = feed_post(
        client, "alpha", "aftership", feed_payloads.aftership(), secret=AFTERSHIP_SECRET_A
    )
    # then
    assert old.status_code == 200
    config = InboundConfig.unscoped.get(merchant=feeds_a)
    assert config.aftership_previous_expires_at is not None
    later = config.aftership_previous_expires_at
    with pytest.raises(DomainError):
        feed_delivery_receive(
            vendor="aftership",
            merchant_slug="alpha",
            body=json.dumps(feed_payloads.aftership(event_id="other")).encode(),
            headers={
                "aftership-hmac-sha256": aftership_header(
                    AFTERSHIP_SECRET_A,
                    json.dumps(feed_payloads.aftership(event_id="other")).encode(),
                )
            },
            now=later,
        )


def test_a_new_shippo_token_is_shown_once_and_differs(feeds_a):
    # when
    _, token = shippo_token_rotate(merchant=feeds_a)
    # then
    assert token.startswith("shp_") and len(token) > 30
    assert token != feeds_a.feed_secrets["shippo"]
    config = InboundConfig.unscoped.get(merchant=feeds_a)
    assert (config.shippo_secret, config.shippo_previous_secret) == (
        token,
        feeds_a.feed_secrets["shippo"],
    )


@pytest.mark.parametrize(
    ("vendor", "secret", "message"),
    [
        (
            "easypost",
            "short",
            "Paste the webhook secret exactly as EasyPost has it (8 to 255 characters, no spaces).",
        ),
        (
            "aftership",
            "has a space in it",
            "Paste the webhook secret exactly as AfterShip has it (8 to 255 characters, no "
            "spaces).",
        ),
        (
            "shippo",
            "anything-long",
            "Shippo does not sign its webhooks: generate a Shippo token instead.",
        ),
    ],
)
def test_a_secret_that_cannot_be_the_services_is_refused_naming_the_field(
    merchant_a, vendor, secret, message
):
    with pytest.raises(DomainError) as refused:
        feed_secret_set(merchant=merchant_a, vendor=vendor, secret=secret)
    assert (refused.value.field, refused.value.message) == ("secret", message)
    assert InboundConfig.unscoped.filter(merchant=merchant_a).count() == 0


def test_the_secrets_are_stored_encrypted(feeds_a):
    # given
    from django.db import connection

    # when
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT easypost_secret, aftership_secret, shippo_secret FROM "
            "connectors_inboundconfig WHERE merchant_id = %s",
            [feeds_a.pk],
        )
        stored = cursor.fetchone()
    # then
    assert EASYPOST_SECRET_A not in stored[0]
    assert AFTERSHIP_SECRET_A not in stored[1]
    assert feeds_a.feed_secrets["shippo"] not in stored[2]


def test_a_customer_erasure_drops_the_services_bodies_about_their_parcels(
    client, eager, shopify, feeds_a
):
    # given: an EasyPost update processed, an AfterShip one still waiting for its task
    with eager():
        feed_post(client, "alpha", "easypost", feed_payloads.easypost(), secret=EASYPOST_SECRET_A)
    feed_post(client, "alpha", "aftership", feed_payloads.aftership(), secret=AFTERSHIP_SECRET_A)
    # when
    shopify(feeds_a, "customers/redact", payloads.customer_redact(), "wh-rd")
    # then: the waiting one was applied first, then both bodies dropped
    kept = dict(
        InboundDelivery.unscoped.filter(topic__startswith="tracking/").values_list("topic", "body")
    )
    assert kept == {
        "tracking/easypost": {"redacted": True},
        "tracking/aftership": {"redacted": True},
    }
    assert Shipment.unscoped.get().status == "delivered"
    assert [d[4] for d in feed_deliveries()] == ["processed", "processed"]


@pytest.mark.parametrize(("value", "read"), [(940011189922, "940011189922"), (" 1Z9 ", "1Z9")])
def test_a_tracking_number_sent_as_a_number_is_read_as_text(value, read):
    assert feed_reading("aftership", {"msg": {"tracking_number": value}}).tracking_number == read


def test_a_tracking_number_that_is_not_one_is_refused_naming_the_field():
    with pytest.raises(DomainError) as refused:
        feed_reading("shippo", {"data": {"tracking_number": True}})
    assert (refused.value.field, refused.value.message) == (
        "data.tracking_number",
        "data.tracking_number: required",
    )
