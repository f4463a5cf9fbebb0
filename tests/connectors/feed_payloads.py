"""Webhook bodies of the tracking services, in the shapes they document: an EasyPost ``Event``
whose ``result`` is a ``Tracker`` (easypost-node's types and EasyPost/examples' tracker JSON), a
Shippo ``track_updated`` payload (shippo-javascript-sdk's ``WebhookPayloadTrack``, snake_case on
the wire) and an AfterShip ``tracking_update`` (its webhook specification; ``msg`` in the legacy
Tracking shape). Each is about the parcel of ``payloads.fulfillment()`` (UPS 1Z999AA10123456784)
and returns a fresh copy, so a test may change it freely."""

from __future__ import annotations

import copy

TRACKING_NUMBER = "1Z999AA10123456784"

_EASYPOST_LOCATION = {
    "object": "TrackingLocation",
    "city": "Ottawa",
    "state": "ON",
    "country": "CA",
    "zip": "K1A 0B1",
}

_EASYPOST = {
    "id": "evt_8c3f0e1a5b2d4e6f9a7b",
    "object": "Event",
    "mode": "production",
    "description": "tracker.updated",
    "previous_attributes": {"status": "in_transit"},
    "pending_urls": [],
    "completed_urls": [],
    "created_at": "2026-03-04T08:16:02Z",
    "updated_at": "2026-03-04T08:16:02Z",
    "status": "pending",
    "result": {
        "id": "trk_3f7a9c2e1b8d4f60",
        "object": "Tracker",
        "mode": "production",
        "tracking_code": TRACKING_NUMBER,
        "status": "out_for_delivery",
        "status_detail": "out_for_delivery",
        "signed_by": None,
        "weight": 17.5,
        "est_delivery_date": "2026-03-04T00:00:00Z",
        "shipment_id": "shp_0a1b2c3d4e5f",
        "carrier": "UPS",
        "public_url": "https://track.easypost.com/djE6dHJrXzNmN2E5YzJlMWI4ZDRmNjA",
        "fees": [],
        "carrier_detail": {
            "object": "CarrierDetail",
            "service": "Ground",
            "container_type": None,
            "est_delivery_date_local": "2026-03-04",
            "est_delivery_time_local": None,
        },
        "created_at": "2026-03-02T14:00:00Z",
        "updated_at": "2026-03-04T08:16:00Z",
        "tracking_details": [
            {
                "object": "TrackingDetail",
                "message": "Shipper created a label, UPS has not received the package yet.",
                "description": "",
                "status": "pre_transit",
                "status_detail": "status_update",
                "datetime": "2026-03-02T14:00:00Z",
                "source": "UPS",
                "carrier_code": "MP",
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": None,
                    "state": None,
                    "country": None,
                    "zip": None,
                },
            },
            {
                "object": "TrackingDetail",
                "message": "Arrived at Facility",
                "description": "",
                "status": "in_transit",
                "status_detail": "arrived_at_facility",
                "datetime": "2026-03-03T06:10:00Z",
                "source": "UPS",
                "carrier_code": "AR",
                "tracking_location": _EASYPOST_LOCATION,
            },
            {
                "object": "TrackingDetail",
                "message": "Out For Delivery Today",
                "description": "",
                "status": "out_for_delivery",
                "status_detail": "out_for_delivery",
                "datetime": "2026-03-04T08:15:00Z",
                "source": "UPS",
                "carrier_code": "OT",
                "tracking_location": _EASYPOST_LOCATION,
            },
        ],
    },
}

_SHIPPO_LOCATION = {"city": "Ottawa", "state": "ON", "zip": "K1A 0B1", "country": "CA"}


def _shippo_status(object_id, status, code, text, details, when, location):
    return {
        "object_created": when,
        "object_updated": when,
        "object_id": object_id,
        "status": status,
        "status_details": details,
        "status_date": when,
        "substatus": None
        if code is None
        else {"code": code, "text": text, "action_required": code == "notice_left"},
        "location": location,
    }


_SHIPPO_HISTORY = [
    _shippo_status(
        "a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "PRE_TRANSIT",
        "information_received",
        "Information about the package received.",
        "Shipper created a label, UPS has not received the package yet.",
        "2026-03-02T14:00:00Z",
        None,
    ),
    _shippo_status(
        "b2c3d4e5f60718293a4b5c6d7e8f90a1",
        "TRANSIT",
        "package_arrived",
        "Package has arrived at an intermediate location in the carrier network.",
        "Arrived at Facility",
        "2026-03-03T06:10:00Z",
        _SHIPPO_LOCATION,
    ),
    _shippo_status(
        "c3d4e5f60718293a4b5c6d7e8f90a1b2",
        "TRANSIT",
        "notice_left",
        "The carrier left a notice during a delivery attempt.",
        "The receiver was not available for delivery. We'll make a second attempt.",
        "2026-03-04T15:30:00Z",
        _SHIPPO_LOCATION,
    ),
]

_SHIPPO = {
    "event": "track_updated",
    "test": False,
    "data": {
        "messages": [],
        "carrier": "ups",
        "tracking_number": TRACKING_NUMBER,
        "address_from": {"city": "Montreal", "state": "QC", "zip": "H2X 1Y4", "country": "CA"},
        "address_to": {"city": "Ottawa", "state": "ON", "zip": "K1A 0B1", "country": "CA"},
        "eta": "2026-03-05T20:00:00Z",
        "original_eta": "2026-03-04T20:00:00Z",
        "servicelevel": {"token": "ups_ground", "name": "Ground"},
        "metadata": "Order #1001",
        "transaction": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "tracking_status": _SHIPPO_HISTORY[-1],
        "tracking_history": _SHIPPO_HISTORY,
    },
}


def _aftership_checkpoint(when, tag, subtag, subtag_message, message, city, state, raw_tag):
    return {
        "slug": "ups",
        "created_at": when,
        "checkpoint_time": when,
        "city": city,
        "coordinates": [],
        "country_iso3": "CAN" if city else None,
        "country_name": "Canada" if city else None,
        "message": message,
        "state": state,
        "tag": tag,
        "subtag": subtag,
        "subtag_message": subtag_message,
        "zip": None,
        "location": f"{city}, {state}, CA" if city else None,
        "raw_tag": raw_tag,
    }


_AFTERSHIP = {
    "event": "tracking_update",
    "event_id": "6f1c2b9e-3a4d-4e5f-8a7b-0c1d2e3f4a5b",
    "is_tracking_first_tag": False,
    "ts": 1772630100,
    "msg": {
        "id": "lr3k9bq2x7m1a0c8d5e4f6g2",
        "tracking_number": TRACKING_NUMBER,
        "slug": "ups",
        "title": "#1001",
        "order_id": "1001",
        "active": False,
        "tag": "Delivered",
        "subtag": "Delivered_003",
        "subtag_message": "Signed by customer",
        "expected_delivery": "2026-03-04",
        "shipment_delivery_date": "2026-03-04T13:05:00-05:00",
        "signed_by": "J SNOW",
        "courier_tracking_link": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        "checkpoints": [
            _aftership_checkpoint(
                "2026-03-03T01:10:00-05:00",
                "InTransit",
                "InTransit_003",
                "Arrival scan",
                "Arrived at Facility",
                "Ottawa",
                "ON",
                "AR",
            ),
            _aftership_checkpoint(
                "2026-03-04T03:15:00-05:00",
                "OutForDelivery",
                "OutForDelivery_001",
                "Out for Delivery",
                "Out For Delivery Today",
                "Ottawa",
                "ON",
                "OT",
            ),
            _aftership_checkpoint(
                "2026-03-04T13:05:00-05:00",
                "Delivered",
                "Delivered_003",
                "Signed by customer",
                "Delivered, signed by J SNOW",
                "Ottawa",
                "ON",
                "KB",
            ),
        ],
    },
}

BODIES = {"easypost": _EASYPOST, "shippo": _SHIPPO, "aftership": _AFTERSHIP}


def easypost(**changes) -> dict:
    return {**copy.deepcopy(_EASYPOST), **changes}


def shippo(**changes) -> dict:
    return {**copy.deepcopy(_SHIPPO), **changes}


def aftership(**changes) -> dict:
    return {**copy.deepcopy(_AFTERSHIP), **changes}


def body(vendor: str) -> dict:
    return copy.deepcopy(BODIES[vendor])


def easypost_batch_event() -> dict:
    """An EasyPost event that is not about a tracker."""
    return {
        "id": "evt_batch_0001",
        "object": "Event",
        "mode": "production",
        "description": "batch.updated",
        "result": {"id": "batch_1", "object": "Batch", "state": "purchased"},
    }


def shippo_transaction_event() -> dict:
    """A Shippo event that is not a tracking update (a label bought), with an address in it."""
    return {
        "event": "transaction_created",
        "test": False,
        "data": {
            "object_id": "70ae8117ee1749e393f249d5b77c45e0",
            "status": "SUCCESS",
            "tracking_number": TRACKING_NUMBER,
            "address_to": {"name": "Jon Snow", "street1": "1 Wall Street", "city": "Ottawa"},
        },
    }


def aftership_pending_time_event() -> dict:
    """An AfterShip event with no tracking in ``msg``."""
    return {
        "event": "tracking_pending_time",
        "event_id": "0b5e4d7c-1a2f-4c3d-9e8f-7a6b5c4d3e2f",
        "ts": 1772630100,
        "msg": {"pending_days": 3},
    }
