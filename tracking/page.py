"""What the shopper's tracking page shows (read by ``tracking.page_reads``): the order, its
parcels, the chosen parcel's checkpoints and items, its delay, and products bought with it.

Everything is put in the shopper's words here (the template only lays it out): where the parcel
is on a five-step bar, when it should arrive (a range, one day only when the range is one day),
and, when something is wrong, what happened and what happens next.

Times are shown in the shopper's time zone: the customer's own when the store sent one, else the
destination country's when it has a single zone, else the merchant's (the page runs no script,
so the browser's zone is unknown to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from zoneinfo import ZoneInfo

from babel.core import get_global

from notifications.outbox import shopper_zone as messages_shopper_zone
from orders.models import Order, Shipment, ShipmentStatus, TrackingEvent
from orders.shipment_statuses import FINAL, SUBSTATUSES
from orders.shopper_views import tracking_link
from tracking.models import DelayIncident, DelayReason
from tracking.page_reads import open_incidents

# The bar: (label, the statuses that reach this step). A parcel's step is the furthest reached.
STEPS = ("Ordered", "Ready to ship", "On its way", "Out for delivery", "Delivered")
# A status's words (``get_status_display``'s, looked up once: the model's walks the choices)
STATUS_WORDS = dict(ShipmentStatus.choices)
STEP_OF = {
    ShipmentStatus.PENDING: 1,
    ShipmentStatus.INFO_RECEIVED: 1,
    ShipmentStatus.IN_TRANSIT: 2,
    ShipmentStatus.EXCEPTION: 2,
    ShipmentStatus.EXPIRED: 2,
    ShipmentStatus.RETURNED_TO_SENDER: 2,
    ShipmentStatus.OUT_FOR_DELIVERY: 3,
    ShipmentStatus.FAILED_ATTEMPT: 3,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 3,
    ShipmentStatus.DELIVERED: 4,
}
HEADLINES = {
    ShipmentStatus.PENDING: "Ready to ship",
    ShipmentStatus.INFO_RECEIVED: "Ready to ship",
    ShipmentStatus.IN_TRANSIT: "On its way",
    ShipmentStatus.OUT_FOR_DELIVERY: "Out for delivery",
    ShipmentStatus.FAILED_ATTEMPT: "The carrier tried to deliver",
    ShipmentStatus.AVAILABLE_FOR_PICKUP: "Ready to collect",
    ShipmentStatus.DELIVERED: "Delivered",
    ShipmentStatus.EXCEPTION: "There’s a problem with this delivery",
    ShipmentStatus.RETURNED_TO_SENDER: "On its way back to us",
    ShipmentStatus.EXPIRED: "We’ve lost sight of this parcel",
}

# What happened and what happens next, in the shopper's words: by status, and for an
# exception or a failed attempt by its reason (orders/shipment_statuses.SUBSTATUSES).
EXCEPTION_NOTICES = {
    "damaged": "The carrier reports that your parcel was damaged on the way. We’ll be in touch "
    "about a replacement; you don’t need to do anything yet.",
    "refused": "The parcel was refused at delivery and is coming back to us. If that wasn’t "
    "you, contact us and we’ll sort it out.",
    "address": "The carrier can’t deliver to the address on the order. Contact us or the "
    "carrier with the right address and they will try again.",
    "customs": "Your parcel is held at customs. This usually clears within a few working "
    "days; the carrier will contact you if duties or documents are needed.",
    "weather": "Weather is holding your parcel up. It will move again as soon as it’s safe; "
    "the delivery date may slip by a day or two.",
    "lost": "The carrier has lost your parcel. We’ll be in touch about a replacement or a refund.",
    "delayed": "The carrier reports a delay. We’re keeping an eye on it and will update you "
    "when it moves.",
    "held": "The carrier is holding your parcel. It may need a payment or documents from "
    "you: look for a note or message from the carrier.",
    "undeliverable": "The carrier can’t deliver your parcel and will send it back to us. "
    "We’ll contact you about sending it again or refunding it.",
    "other": "The carrier reports a problem with your parcel. We’re looking into it and will "
    "update you.",
}
STATUS_NOTICES = {
    ShipmentStatus.FAILED_ATTEMPT: "The carrier usually tries again on the next working day, "
    "or leaves a note saying where to collect the parcel.",
    ShipmentStatus.AVAILABLE_FOR_PICKUP: "Your parcel is waiting for you. Bring an ID and the "
    "tracking number when you collect it.",
    ShipmentStatus.EXPIRED: "We haven’t heard from the carrier for a while. We’re looking into "
    "it with them and will let you know what we find.",
    ShipmentStatus.RETURNED_TO_SENDER: "Your parcel is on its way back to us. We’ll contact "
    "you about sending it again or refunding it.",
}
DELAY_NOTICES = {
    DelayReason.NO_FIRST_SCAN: "The carrier hasn’t scanned your parcel yet. We’ve noticed and "
    "are checking with them; you don’t need to do anything.",
    DelayReason.NO_SCAN_IN_TRANSIT: "Your parcel hasn’t been scanned for a few days. We’ve "
    "noticed and are checking with the carrier; you don’t need to do anything.",
    DelayReason.PAST_ESTIMATED_DELIVERY: "Your parcel is taking longer than expected. We’re "
    "keeping an eye on it and will update you when it moves.",
}


@dataclass(frozen=True)
class Notice:
    tone: str  # "warning" or "info"
    text: str


@dataclass(frozen=True)
class Checkpoint:
    time: datetime  # in the shopper's zone
    clock: str  # "14:02", as the page shows it (a template filter would convert the zone)
    title: str
    detail: str
    location: str


@dataclass(frozen=True)
class Day:
    day: date
    label: str  # "Tuesday 8 December"
    checkpoints: list[Checkpoint]


@dataclass(frozen=True)
class Item:
    title: str
    quantity: int


@dataclass
class Parcel:
    shipment: Shipment
    number: int  # 1-based, in the order the shipments were made
    headline: str = ""
    step: int = 0
    arrival: str = ""  # "Arriving Tue 8 to Thu 10 December", "Delivered Tuesday 8 December"
    late: bool = False
    notice: Notice | None = None
    days: list[Day] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    carrier_link: str = ""


def _single_zone(country: str) -> str:
    zones = get_global("territory_zones").get(country.upper(), ()) if country else ()
    return zones[0] if len(zones) == 1 else ""


def shopper_zone(order: Order, merchant) -> ZoneInfo:
    """The customer's zone, else the destination country's single zone, else the merchant's
    (the messages' rule, ``notifications.outbox.shopper_zone``, with the destination between:
    a page about a parcel knows where it goes)."""
    customer = order.customer
    if customer is None or not customer.timezone:
        address = order.shipping_address if isinstance(order.shipping_address, dict) else {}
        country = address.get("country_code") or address.get("country") or ""
        zone = _single_zone(country if isinstance(country, str) and len(country) == 2 else "")
        if zone:
            return ZoneInfo(zone)
    return messages_shopper_zone(customer, merchant)


def _day(value: date, *, weekday: str = "%A") -> str:
    return f"{value.strftime(weekday)} {value.day} {value.strftime('%B')}"


def arrival_words(shipment: Shipment, today: date, zone: ZoneInfo) -> tuple[str, bool]:
    """When the parcel arrived or should arrive, and whether it is past the range shown."""
    if shipment.status == ShipmentStatus.DELIVERED and shipment.delivered_at is not None:
        return f"Delivered {_day(shipment.delivered_at.astimezone(zone).date())}", False
    if shipment.status in FINAL:
        return "", False
    earliest = shipment.estimate_earliest or shipment.estimated_delivery
    latest = shipment.estimate_latest or shipment.estimated_delivery
    if earliest is None or latest is None:
        return "", False
    if latest < today:
        return f"Expected by {_day(latest)}", True
    if earliest == latest or latest == today:
        return ("Arriving today" if latest == today else f"Arriving {_day(latest)}"), False
    earliest = max(earliest, today)
    if earliest.month == latest.month:
        first = f"{earliest.strftime('%a')} {earliest.day}"
    else:
        first = f"{earliest.strftime('%a')} {earliest.day} {earliest.strftime('%B')}"
    return f"Arriving {first} – {_day(latest, weekday='%a')}", False


def current_delay(shipment: Shipment, incidents: list[DelayIncident]) -> DelayIncident | None:
    """The shipment's latest open delay (``tracking/resolution.py`` closes them) that still
    holds: raised after the parcel's last status change (a parcel that moved since is no longer
    stuck, even in the moment before its incident is closed) and before it was delivered."""
    if shipment.status in FINAL:
        return None
    moved = shipment.status_changed_at
    for incident in incidents:  # latest first
        if incident.reason in DELAY_NOTICES and (moved is None or incident.since >= moved):
            return incident
    return None


def notice_for(shipment: Shipment, delay: DelayIncident | None) -> Notice | None:
    if shipment.status == ShipmentStatus.EXCEPTION:
        text = EXCEPTION_NOTICES.get(shipment.substatus, EXCEPTION_NOTICES["other"])
        return Notice("warning", text)
    if shipment.status in STATUS_NOTICES:
        reason = SUBSTATUSES.get(ShipmentStatus.FAILED_ATTEMPT, {}).get(shipment.substatus, "")
        text = STATUS_NOTICES[shipment.status]
        if (
            shipment.status == ShipmentStatus.FAILED_ATTEMPT
            and reason
            and shipment.substatus != "other"
        ):
            text = f"{reason} {text}"
        tone = "info" if shipment.status == ShipmentStatus.AVAILABLE_FOR_PICKUP else "warning"
        return Notice(tone, text)
    if delay is not None:
        return Notice("warning", DELAY_NOTICES[delay.reason])
    return None


def timeline(events: list[TrackingEvent], zone: ZoneInfo) -> list[Day]:
    """Checkpoints newest first, grouped by the shopper's local day."""
    points = []
    for event in events:
        local = event.occurred_at.astimezone(zone)
        title = STATUS_WORDS.get(event.status, event.status)
        points.append(
            Checkpoint(
                time=local,
                clock=local.strftime("%H:%M"),
                title=title,
                detail=event.description if event.description != title else "",
                location=event.location,
            )
        )
    return [
        Day(day, _day(day), list(group))
        for day, group in groupby(points, key=lambda p: p.time.date())
    ]


def headline(order: Order, parcel: Parcel | None) -> str:
    """The page's one line for where things stand: the chosen parcel's, or the order's."""
    if order.is_cancelled:
        return "Cancelled"
    return parcel.headline if parcel is not None else "We’re preparing your order"


def parcel_detail(
    *,
    shipment: Shipment,
    number: int,
    items: list[tuple[str, int]],
    delayed: bool,
    events: list[TrackingEvent],
    zone: ZoneInfo,
    now: datetime,
) -> Parcel:
    """Everything the page shows about the chosen parcel: ``items`` (title, quantity) are what
    it holds, ``delayed`` says whether it has an open delay (whose reasons are then read),
    ``events`` are its checkpoints, newest first."""
    today = now.astimezone(zone).date()
    incidents = open_incidents(shipment) if delayed and shipment.status not in FINAL else []
    arrival, late = arrival_words(shipment, today, zone)
    return Parcel(
        shipment=shipment,
        number=number,
        headline=HEADLINES[shipment.status],
        step=STEP_OF[shipment.status],
        arrival=arrival,
        late=late,
        notice=notice_for(shipment, current_delay(shipment, incidents)),
        days=timeline(events, zone),
        items=[Item(title, quantity) for title, quantity in items],
        carrier_link=tracking_link(shipment),
    )
