"""The carrier tracking webhook's JSON shape, and the statuses of tracking aggregators (AfterShip,
EasyPost, 17track and our own words) mapped onto ours. Pure functions: no database.

    {"id": "evt_123", "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
     "status": "in_transit", "estimated_delivery": "2026-03-05",
     "checkpoints": [{"occurred_at": "2026-03-02T09:30:00Z", "status": "in_transit",
                      "description": "Departed facility", "location": "Newark, NJ"}]}
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from connectors.errors import ConnectorsErrorCode
from orders.models import ShipmentStatus
from postpurchase.errors import DomainError

S = ShipmentStatus
# Statuses are compared in snake_case: "OutForDelivery", "out-for-delivery" and
# "out_for_delivery" are one status. Our words, and the top-level words of the aggregators
# (AfterShip's tags, EasyPost's and Shippo's statuses), each with the sub-status it implies.
STATUSES: dict[str, tuple[ShipmentStatus, str]] = {
    **dict.fromkeys(["pending"], (S.PENDING, "")),
    **dict.fromkeys(
        ["info_received", "label_created", "pre_transit", "accepted", "information_received"],
        (S.INFO_RECEIVED, ""),
    ),
    **dict.fromkeys(["in_transit", "transit", "picked_up"], (S.IN_TRANSIT, "")),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, ""),
    **dict.fromkeys(
        ["failed_attempt", "attempt_fail", "attempted_delivery", "delivery_attempted"],
        (S.FAILED_ATTEMPT, ""),
    ),
    **dict.fromkeys(
        ["available_for_pickup", "ready_for_pickup", "pickup_available"],
        (S.AVAILABLE_FOR_PICKUP, ""),
    ),
    "delivered": (S.DELIVERED, ""),
    **dict.fromkeys(["exception", "failure", "delivery_failure", "error"], (S.EXCEPTION, "other")),
    **dict.fromkeys(
        ["returned_to_sender", "return_to_sender", "returned"], (S.RETURNED_TO_SENDER, "")
    ),
    "expired": (S.EXPIRED, ""),
}
# Words that say nothing about where the parcel is: accepted, but they change no status.
NO_NEWS = frozenset({"unknown", "not_found", "notfound", "cancelled", "canceled"})


def _word(value: str) -> str:
    word = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", value.strip())
    return re.sub(r"[\s\-]+", "_", word).lower()


def tracking_status(value: Any) -> tuple[ShipmentStatus, str] | None:
    """Our status and sub-status for a feed's word, ``None`` for a word that says nothing."""
    if not isinstance(value, str) or not value.strip():
        return None
    word = _word(value)
    if word in STATUSES:
        return STATUSES[word]
    if word in NO_NEWS:
        return None
    raise DomainError(
        ConnectorsErrorCode.UNKNOWN_TRACKING_STATUS,
        f"status: {value!r} is not a tracking status we know",
        field="status",
    )


def tracking_delivery_id(body: Any) -> str:
    if not isinstance(body, dict):
        raise DomainError(ConnectorsErrorCode.BODY_INVALID, "The body must be a JSON object.")
    value = body.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise DomainError(
            ConnectorsErrorCode.REQUIRED, "id: the delivery id is required", field="id"
        )
    if len(str(value)) > 255:
        raise DomainError(ConnectorsErrorCode.INVALID, "id: at most 255 characters", field="id")
    return str(value).strip()


def tracking_checkpoints(body: dict) -> list[dict]:
    checkpoints = body.get("checkpoints") or []
    if not isinstance(checkpoints, list):
        raise DomainError(
            ConnectorsErrorCode.INVALID, "checkpoints: must be a list", field="checkpoints"
        )
    found = []
    for index, raw in enumerate(checkpoints):
        if not isinstance(raw, dict):
            field = f"checkpoints[{index}]"
            raise DomainError(
                ConnectorsErrorCode.INVALID, f"{field}: must be an object", field=field
            )
        mapped = tracking_status(raw.get("status"))
        if mapped is None:
            continue
        found.append(
            {
                "status": mapped[0],
                "substatus": mapped[1],
                "raw_status": str(raw.get("status"))[:100],
                "occurred_at": raw.get("occurred_at"),
                "description": str(raw.get("description") or "")[:500],
                "location": str(raw.get("location") or "")[:255],
                "raw": raw,
            }
        )
    return found


def tracking_shipment_update(body: dict, *, external_id: str, order_external_id: str) -> dict:
    """A ``ShipmentIn`` payload updating the shipment the delivery is about."""
    payload: dict[str, Any] = {
        "external_id": external_id,
        "order_external_id": order_external_id,
        "checkpoints": tracking_checkpoints(body),
    }
    mapped = tracking_status(body.get("status"))
    if mapped is not None:
        payload["status"], payload["substatus"] = mapped
        times = [c["occurred_at"] for c in payload["checkpoints"] if c["occurred_at"]]
        if times and all(isinstance(t, str) for t in times):
            # The overall status is as recent as the latest checkpoint that came with it; with
            # none it is undated (and only ever moves a parcel forward).
            payload["status_at"] = max(times, key=_sortable)
    if body.get("estimated_delivery"):
        payload["estimated_delivery"] = str(body["estimated_delivery"])[:10]
    if body.get("tracking_url"):
        payload["tracking_url"] = str(body["tracking_url"])
    return payload


def _sortable(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise DomainError(
            ConnectorsErrorCode.INVALID,
            f"checkpoints: {value!r} is not an ISO 8601 time with a UTC offset",
            field="checkpoints",
        )
    return moment
