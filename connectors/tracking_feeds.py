"""The tracking services' own webhook bodies (EasyPost, Shippo, AfterShip) read into the shipment
update our tracking webhook's body becomes (``connectors/tracking.py``). Pure functions: no
database. Their words are mapped with ``feed_status`` and the vendor's vocabulary
(``connectors/tracking_vocabularies.py``); docs/integrations.md says what is read from where.

- EasyPost: an ``Event`` whose ``description`` is ``tracker.created`` or ``tracker.updated`` and
  whose ``result`` is the ``Tracker``: ``tracking_code``, ``carrier``, ``status``,
  ``status_detail``, ``est_delivery_date``, ``public_url``, ``tracking_details[]`` (``status``,
  ``status_detail``, ``message``, ``datetime``, ``tracking_location{city, state, country}``).
- Shippo: ``{"event": "track_updated", "data": Track}``: ``tracking_number``, ``carrier``,
  ``eta``, ``tracking_status`` (``status``, ``substatus.code``, ``status_details``,
  ``status_date``, ``location``) and ``tracking_history[]`` of the same shape.
- AfterShip: ``{"event", "event_id", "msg": Tracking}``: ``tracking_number``, ``slug``, ``tag``,
  ``subtag``, ``expected_delivery`` (or the newer ``courier_estimated_delivery_date``),
  ``courier_tracking_link``, ``checkpoints[]`` (``checkpoint_time``, ``tag``, ``subtag``,
  ``message``, ``city``, ``state``, ``country_iso3`` or ``country_region``, else ``location``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.errors import ConnectorsErrorCode
from connectors.tracking_vocabularies import UnknownStatus, feed_status
from postpurchase.errors import DomainError

FEEDS = ("easypost", "shippo", "aftership")
NAMES = {"easypost": "EasyPost", "shippo": "Shippo", "aftership": "AfterShip"}
FEED_TOPICS = {vendor: f"tracking/{vendor}" for vendor in FEEDS}
FEED_OF_TOPIC = {topic: vendor for vendor, topic in FEED_TOPICS.items()}
EASYPOST_TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})
SHIPPO_TRACKING_EVENT = "track_updated"


def _invalid(field_name: str, message: str) -> DomainError:
    return DomainError(ConnectorsErrorCode.INVALID, f"{field_name}: {message}", field=field_name)


def _required(field_name: str) -> DomainError:
    return DomainError(ConnectorsErrorCode.REQUIRED, f"{field_name}: required", field=field_name)


# --- the envelope: which delivery, which event ------------------------------------------------


@dataclass(frozen=True)
class FeedEvent:
    """A vendor's delivery as received: its id (the vendor's event id, else the body's digest),
    its event's name, and whether it is a tracking update (else it is acknowledged and
    ignored)."""

    delivery_id: str
    name: str
    tracking: bool


def _event_name(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _required(key)
    return value.strip()[:100]


def _event_id(body: dict, key: str, vendor: str) -> str:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise _required(key)
    if len(str(value)) > 200:
        raise _invalid(key, "at most 200 characters")
    return f"{vendor}:{str(value).strip()}"


def feed_event(vendor: str, body: dict, *, body_sha256: str) -> FeedEvent:
    """Read the envelope of a vendor's delivery. Raises a ``DomainError`` naming the field when
    the envelope cannot be read (the delivery is refused with 400, nothing stored)."""
    if vendor == "easypost":
        name = _event_name(body, "description")
        tracking = name in EASYPOST_TRACKER_EVENTS
        return FeedEvent(_event_id(body, "id", vendor), name, tracking)
    if vendor == "shippo":
        # Shippo's body has no id of its own: the body is the delivery.
        name = _event_name(body, "event")
        return FeedEvent(f"shippo:{body_sha256}", name, name == SHIPPO_TRACKING_EVENT)
    msg = body.get("msg")
    tracking = isinstance(msg, dict) and bool(msg.get("tracking_number"))
    name = str(body.get("event") or "")[:100]
    return FeedEvent(_event_id(body, "event_id", vendor), name, tracking)


# --- the tracking update ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """One of the carrier's scans, as the vendor sent it, with the names of its fields."""

    where: str  # e.g. "result.tracking_details[0]"
    raw: dict
    status: Any
    status_key: str
    detail: Any
    time: Any
    time_key: str
    description: Any
    location: str


@dataclass(frozen=True)
class Reading:
    """What a vendor's tracking update says, before it is mapped onto our words."""

    tracking_number: str
    carrier: str
    status: Any = None
    status_field: str = ""
    detail: Any = None
    scans: list[Scan] = field(default_factory=list)
    estimated: Any = None
    estimated_field: str = ""
    tracking_url: Any = None


def _object(parent: dict, key: str, where: str, *, required: bool = True) -> dict:
    value = parent.get(key)
    if value is None and not required:
        return {}
    if value is None:
        raise _required(where)
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object")
    return value


def _items(parent: dict, key: str, where: str) -> list[dict]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(where, "must be a list")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _invalid(f"{where}[{index}]", "must be an object")
    return value


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _number(value: Any) -> str:
    """A tracking number, sent as text or (by some carriers' feeds) as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _place(*parts: Any) -> str:
    """The parts of a place joined as a shopper reads them: "Ottawa, ON, CA"."""
    return ", ".join(text for text in (_text(part) for part in parts) if text)


def _easypost(body: dict) -> Reading:
    tracker = _object(body, "result", "result")
    scans = []
    for index, raw in enumerate(_items(tracker, "tracking_details", "result.tracking_details")):
        where = f"result.tracking_details[{index}]"
        place = raw.get("tracking_location")
        place = place if isinstance(place, dict) else {}
        scans.append(
            Scan(
                where=where,
                raw=raw,
                status=raw.get("status"),
                status_key="status",
                detail=raw.get("status_detail"),
                time=raw.get("datetime"),
                time_key="datetime",
                description=raw.get("message") or raw.get("description"),
                location=_place(place.get("city"), place.get("state"), place.get("country")),
            )
        )
    return Reading(
        tracking_number=_number(tracker.get("tracking_code")),
        carrier=_text(tracker.get("carrier")),
        status=tracker.get("status"),
        status_field="result.status",
        detail=tracker.get("status_detail"),
        scans=scans,
        estimated=tracker.get("est_delivery_date"),
        estimated_field="result.est_delivery_date",
        tracking_url=tracker.get("public_url"),
    )


def _shippo_code(raw: dict) -> Any:
    substatus = raw.get("substatus")
    return substatus.get("code") if isinstance(substatus, dict) else None


def _shippo_scan(raw: dict, where: str) -> Scan:
    place = raw.get("location")
    place = place if isinstance(place, dict) else {}
    return Scan(
        where=where,
        raw=raw,
        status=raw.get("status"),
        status_key="status",
        detail=_shippo_code(raw),
        time=raw.get("status_date"),
        time_key="status_date",
        description=raw.get("status_details"),
        location=_place(place.get("city"), place.get("state"), place.get("country")),
    )


def _shippo(body: dict) -> Reading:
    track = _object(body, "data", "data")
    current = _object(track, "tracking_status", "data.tracking_status", required=False)
    history = _items(track, "tracking_history", "data.tracking_history")
    scans = [
        _shippo_scan(raw, f"data.tracking_history[{index}]") for index, raw in enumerate(history)
    ]
    if not scans and current:
        scans = [_shippo_scan(current, "data.tracking_status")]
    return Reading(
        tracking_number=_number(track.get("tracking_number")),
        carrier=_text(track.get("carrier")),
        status=current.get("status"),
        status_field="data.tracking_status.status",
        detail=_shippo_code(current),
        scans=scans,
        estimated=track.get("eta"),
        estimated_field="data.eta",
    )


def _aftership_estimate(tracking: dict) -> tuple[Any, str]:
    """``expected_delivery`` (the legacy field), else the carrier's estimate, else AfterShip's
    own, as the newer API versions send them."""
    if tracking.get("expected_delivery"):
        return tracking["expected_delivery"], "msg.expected_delivery"
    for key in ("courier_estimated_delivery_date", "aftership_estimated_delivery_date"):
        estimate = tracking.get(key)
        if isinstance(estimate, dict) and estimate.get("estimated_delivery_date"):
            return estimate["estimated_delivery_date"], f"msg.{key}.estimated_delivery_date"
    return None, ""


def _aftership(body: dict) -> Reading:
    tracking = _object(body, "msg", "msg")
    scans = []
    for index, raw in enumerate(_items(tracking, "checkpoints", "msg.checkpoints")):
        country = raw.get("country_iso3") or raw.get("country_region")
        scans.append(
            Scan(
                where=f"msg.checkpoints[{index}]",
                raw=raw,
                status=raw.get("tag"),
                status_key="tag",
                detail=raw.get("subtag"),
                time=raw.get("checkpoint_time"),
                time_key="checkpoint_time",
                description=raw.get("message"),
                location=_place(raw.get("city"), raw.get("state"), country)
                or _text(raw.get("location")),
            )
        )
    estimated, estimated_field = _aftership_estimate(tracking)
    return Reading(
        tracking_number=_number(tracking.get("tracking_number")),
        carrier=_text(tracking.get("slug")),
        status=tracking.get("tag"),
        status_field="msg.tag",
        detail=tracking.get("subtag"),
        scans=scans,
        estimated=estimated,
        estimated_field=estimated_field,
        tracking_url=tracking.get("courier_tracking_link"),
    )


READERS = {"easypost": _easypost, "shippo": _shippo, "aftership": _aftership}
NUMBER_FIELDS = {
    "easypost": "result.tracking_code",
    "shippo": "data.tracking_number",
    "aftership": "msg.tracking_number",
}


def feed_reading(vendor: str, body: dict) -> Reading:
    """What a tracking update says, its tracking number required. Raises a ``DomainError``
    naming the vendor's field."""
    reading = READERS[vendor](body)
    if not reading.tracking_number:
        raise _required(NUMBER_FIELDS[vendor])
    return reading


def _mapped(vendor: str, status: Any, detail: Any, where: str) -> tuple[str, str] | None:
    """Our status and sub-status for the vendor's words; ``None`` for no word or no news. A
    status word the vendor does not have is refused, naming the field; a detail we do not know
    is left out (``feed_status``)."""
    if status is None or (isinstance(status, str) and not status.strip()):
        return None
    if not isinstance(status, str):
        raise _invalid(where, "must be a string")
    try:
        return feed_status(vendor, status, detail if isinstance(detail, str) else "")
    except UnknownStatus:
        raise DomainError(
            ConnectorsErrorCode.UNKNOWN_TRACKING_STATUS,
            f"{where}: {status!r} is not a {NAMES[vendor]} status we know",
            field=where,
        ) from None


def _aware(value: Any, where: str) -> datetime:
    if value in (None, ""):
        raise _required(where)
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise _invalid(where, f"{value!r} is not an ISO 8601 time with a UTC offset")
    return moment


def _day(value: Any, where: str) -> str:
    text = value[:10] if isinstance(value, str) else ""
    try:
        date.fromisoformat(text)
    except ValueError:
        raise _invalid(where, f"{value!r} is not a date (YYYY-MM-DD…)") from None
    return text


def _raw_word(status: Any, detail: Any) -> str:
    """The vendor's own word for a scan: its detail code when it sent one, else its status."""
    word = _text(detail) or _text(status)
    return word[:100]


def _checkpoints(vendor: str, reading: Reading) -> list[dict]:
    found = []
    for scan in reading.scans:
        mapped = _mapped(vendor, scan.status, scan.detail, f"{scan.where}.{scan.status_key}")
        if mapped is None:
            continue
        found.append(
            {
                "status": mapped[0],
                "substatus": mapped[1],
                "raw_status": _raw_word(scan.status, scan.detail),
                "occurred_at": _aware(scan.time, f"{scan.where}.{scan.time_key}"),
                "description": _text(scan.description)[:500],
                "location": scan.location[:255],
                "raw": scan.raw,
            }
        )
    return found


def feed_shipment_update(
    vendor: str, reading: Reading, *, external_id: str, order_external_id: str
) -> dict:
    """A ``ShipmentIn`` payload updating the shipment the reading is about, as
    ``tracking.tracking_shipment_update`` makes one of our own body."""
    payload: dict[str, Any] = {
        "external_id": external_id,
        "order_external_id": order_external_id,
        "checkpoints": _checkpoints(vendor, reading),
    }
    mapped = _mapped(vendor, reading.status, reading.detail, reading.status_field)
    if mapped is not None:
        payload["status"], payload["substatus"] = mapped
        times = [checkpoint["occurred_at"] for checkpoint in payload["checkpoints"]]
        if times:
            # As our own webhook: the status is as recent as the latest scan sent with it.
            payload["status_at"] = max(times)
    if reading.estimated:
        payload["estimated_delivery"] = _day(reading.estimated, reading.estimated_field)
    if isinstance(reading.tracking_url, str) and reading.tracking_url.strip():
        payload["tracking_url"] = reading.tracking_url.strip()
    return payload
