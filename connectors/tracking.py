"""The carrier tracking webhook's JSON shape, and the statuses of tracking aggregators (AfterShip,
EasyPost, 17track and our own words) mapped onto ours. Pure functions: no database.

    {"id": "evt_123", "tracking_number": "1Z999AA10123456784", "carrier": "UPS",
     "status": "in_transit", "estimated_delivery": "2026-03-05",
     "checkpoints": [{"occurred_at": "2026-03-02T09:30:00Z", "status": "in_transit",
                      "description": "Departed facility", "location": "Newark, NJ"}]}
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.errors import ConnectorsErrorCode
from connectors.tracking_vocabularies import VOCABULARIES, snake
from orders.models import ShipmentStatus
from postpurchase.errors import DomainError

S = ShipmentStatus
# Our own words (docs/tracking.md), each with the sub-status it implies. A word that is not ours
# is looked up in the aggregators' status words (connectors/tracking_vocabularies.py), so a
# body written in AfterShip's, EasyPost's, Shippo's or Shopify's words is understood too.
OURS: dict[str, tuple[ShipmentStatus, str]] = {
    **{status.value: (status, "") for status in ShipmentStatus},
    "label_created": (S.INFO_RECEIVED, ""),  # this status's name until issue 14
    "exception": (S.EXCEPTION, "other"),
    "delivery_failure": (S.FAILED_ATTEMPT, "other"),  # 17TRACK's word
}
# Words that say nothing about where the parcel is: accepted, but they change no status.
NO_NEWS = frozenset({"unknown", "not_found", "notfound", "cancelled", "canceled", "error"})


def tracking_status(value: Any) -> tuple[ShipmentStatus, str] | None:
    """Our status and sub-status for a feed's word, ``None`` for a word that says nothing."""
    if not isinstance(value, str) or not value.strip():
        return None
    word = snake(value)
    if word in OURS:
        return OURS[word]
    if word in NO_NEWS:
        return None
    for vocabulary in ("aftership", "easypost", "shippo", "shopify"):
        statuses, _ = VOCABULARIES[vocabulary]
        if word in statuses:
            return statuses[word]
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
