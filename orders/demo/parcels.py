"""The demo's parcels: how each order ships (carrier, service, route) and what the carrier says
on the way (a timeline of checkpoints), with every tracking state the dashboard shows present at
least once."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from orders.demo.data import (
    ATTEMPT_TEXT,
    DELIVERED,
    DELIVERED_TEXT,
    EXCEPTION,
    HUBS,
    LABEL,
    OUT,
    RETURNED,
    SMALL_PARCEL,
    STORE_TZ,
    STUCK_TEXT,
    TRANSIT,
    WAREHOUSES,
    WEST,
)
from orders.demo.shapes import Checkpoint, OrderPlan, ParcelPlan, local_time, minutes


def _tracking_number(rng: random.Random, carrier: str, used: set[str]) -> str:
    while True:
        if carrier == "UPS":
            number = f"1Z7X4A29{rng.choice(('03', '02'))}{rng.randrange(10**8):08d}"
        elif carrier == "FedEx":
            number = f"{rng.randrange(10**11, 10**12)}"
        else:
            number = f"9400111{rng.randrange(10**15):015d}"
        if number not in used:
            used.add(number)
            return number


def _service(rng: random.Random, order: OrderPlan) -> tuple[str, int]:
    """The carrier and the days it promises: FedEx 2Day when paid for, USPS for light parcels of
    accessories, UPS Ground for the rest (slower across the country)."""
    if order.expedited:
        return "FedEx", 2
    if all(p["category"] in SMALL_PARCEL for _, p, _ in order.lines) and order.subtotal < 75:
        return "USPS", rng.choice((3, 4, 5))
    return "UPS", rng.choice((2, 3, 3, 4, 5))


def _route(rng: random.Random, start, end, most: int) -> list[str]:
    """Up to ``most`` sort hubs lying between ``start`` and ``end``, in the order passed."""

    def distance(a, b) -> float:
        return ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5

    span = distance(start, end)
    between = [h for h in HUBS if max(distance(start, h[1:]), distance(h[1:], end)) < span * 0.9]
    hubs = rng.sample(between, k=min(most, len(between)))
    return [hub[0] for hub in sorted(hubs, key=lambda hub: distance(start, hub[1:]))]


def _last_mile(rng, scenario: str, out: datetime, origin: str, destination: str):
    """What follows the first delivery run: delivered, a failed attempt and then delivered, or two
    failed attempts and the parcel's way back to the warehouse."""
    points = [Checkpoint(OUT, out, "Out for delivery", destination)]
    if scenario in ("attempt", "returned"):
        tried = out + minutes(rng.uniform(2, 7))
        points.append(Checkpoint(EXCEPTION, tried, rng.choice(ATTEMPT_TEXT), destination))
        out += timedelta(days=1)
        points.append(Checkpoint(OUT, out, "Out for delivery: second attempt", destination))
    if scenario == "returned":
        tried = out + minutes(rng.uniform(2, 7))
        turned = tried + minutes(rng.uniform(14, 30))
        back = turned + minutes(rng.uniform(60, 120))
        failed = "Delivery attempted: recipient not found at this address"
        turning = "Undeliverable as addressed; returning to sender"
        return [
            *points,
            Checkpoint(EXCEPTION, tried, failed, destination),
            Checkpoint(RETURNED, turned, turning, destination),
            Checkpoint(RETURNED, back, "Returned to sender: delivered to the shipper", origin),
        ]
    done = out + minutes(rng.uniform(1.5, 9))
    return [*points, Checkpoint(DELIVERED, done, rng.choice(DELIVERED_TEXT), destination)]


def _timeline(rng, order: OrderPlan, parcel: ParcelPlan, start: datetime, scenario: str):
    """A parcel's whole tracking history from its label to its end in ``scenario``: normal,
    attempt (a failed delivery, then delivered), returned, stalled (stuck in transit) or stuck
    (stuck in an exception). Sets the parcel's estimated delivery date."""
    place = order.person.place
    tz = ZoneInfo(place.timezone)
    origin, *origin_at = WAREHOUSES["west" if place.timezone in WEST else "east"]
    destination = f"{place.city}, {place.state}"
    label = start + minutes(rng.uniform(2, 26))
    pickup = label + minutes(rng.uniform(3, 20))
    parcel.eta = pickup.astimezone(tz).date() + timedelta(days=parcel.promised_days)
    late_by = rng.randint(1, 3) if rng.random() < 0.12 else 0
    out = local_time(parcel.eta + timedelta(days=late_by), rng.uniform(7, 9.5), tz)
    most_hubs = min(3, max(1, parcel.promised_days - 1))
    hubs = _route(rng, origin_at, (place.latitude, place.longitude), most_hubs)
    points = [
        Checkpoint(LABEL, label, "Shipping label created; awaiting pickup", origin),
        Checkpoint(TRANSIT, pickup, "Picked up by carrier", origin),
    ]
    for index, hub in enumerate(hubs, start=1):
        at = (pickup + (out - pickup) * index / (len(hubs) + 1)).replace(second=0, microsecond=0)
        points.append(Checkpoint(TRANSIT, at, f"Arrived at {parcel.carrier} facility", hub))
    if scenario in ("stalled", "stuck"):
        points = points[:3]  # it never gets past the first hub
        if scenario == "stuck":
            at = points[-1].at + minutes(rng.uniform(4, 30))
            points.append(Checkpoint(EXCEPTION, at, rng.choice(STUCK_TEXT), points[-1].location))
        return points
    local_hub = out - minutes(rng.uniform(6, 10))
    points.append(Checkpoint(TRANSIT, local_hub, "Arrived at local delivery facility", destination))
    return points + _last_mile(rng, scenario, out, origin, destination)


def _scenario(rng: random.Random, age_days: int) -> str:
    roll = rng.random()
    if roll < 0.012:
        return "returned"
    if roll < 0.05:
        return "attempt"
    if age_days <= 30 and roll < 0.085:
        return "stalled"  # becomes a delayed parcel once its estimated delivery has passed
    if age_days <= 30 and roll < 0.11:
        return "stuck"
    return "normal"


def plan_parcels(rng, order: OrderPlan, cutoff: datetime, used: set[str]) -> None:
    """One parcel per order, sometimes two (a backordered item ships days later); only what the
    carrier reported before the cutoff is kept, so recent orders are still on their way."""
    if order.cancelled_at is not None:
        return
    carrier, promised = _service(rng, order)
    lines = [(external_id, quantity) for external_id, _, quantity in order.lines]
    groups = [lines]
    if len(lines) > 1 and rng.random() < 0.07:
        split = rng.randrange(1, len(lines))
        groups = [lines[:split], lines[split:]]
    age_days = (cutoff - order.placed_at).days
    for index, group in enumerate(groups, start=1):
        parcel = ParcelPlan(
            external_id=f"demo-shp-{order.external_id.removeprefix('demo-ord-')}-{index}",
            carrier=carrier,
            tracking_number=_tracking_number(rng, carrier, used),
            promised_days=promised,
            lines=group,
        )
        start = order.placed_at + timedelta(days=rng.randint(2, 4) if index > 1 else 0)
        points = _timeline(rng, order, parcel, start, _scenario(rng, age_days))
        parcel.checkpoints = [point for point in points if point.at < cutoff]
        order.parcels.append(parcel)


# --- every status at least once, however small the run ---------------------------------------

DELAYED = "delayed"  # in transit after its estimated delivery date
# Each state we want to show, and the age of order that suits it best (in hours).
WANTED_STATES = {
    RETURNED: 40 * 24,
    EXCEPTION: 6 * 24,
    DELAYED: 10 * 24,
    OUT: 60,
    LABEL: 10,
    TRANSIT: 40,
    DELIVERED: 60 * 24,
}


def _state(parcel: ParcelPlan, anchor: date) -> str | None:
    if not parcel.checkpoints:
        return None
    status = parcel.checkpoints[-1].status
    return DELAYED if status == TRANSIT and parcel.eta and parcel.eta < anchor else status


def _force(rng, order: OrderPlan, state: str, cutoff: datetime, anchor: date) -> None:
    """Give ``order`` one parcel that ends in ``state`` before the cutoff, squeezing the history
    into the time since the order when it would not fit."""
    parcel = order.parcels[0]
    parcel.lines = [(external_id, quantity) for external_id, _, quantity in order.lines]
    scenario = {RETURNED: "returned", EXCEPTION: "stuck", DELAYED: "stalled"}.get(state, "normal")
    points = _timeline(rng, order, parcel, order.placed_at, scenario)
    if state in (LABEL, TRANSIT, OUT):
        points = points[: next(i for i, p in enumerate(points) if p.status == state) + 1]
        parcel.eta = max(parcel.eta, anchor)
    if points[-1].at >= cutoff:
        squeeze = (cutoff - order.placed_at) * 0.9 / (points[-1].at - order.placed_at)
        for point in points:
            point.at = order.placed_at + (point.at - order.placed_at) * squeeze
            point.at = point.at.replace(second=0, microsecond=0)
    if state == DELAYED:
        placed_on = order.placed_at.astimezone(STORE_TZ).date()
        parcel.eta = max(min(parcel.eta, anchor - timedelta(days=1)), placed_on)
    parcel.checkpoints = points
    order.parcels = [parcel]


def ensure_every_state(rng, orders: list[OrderPlan], cutoff: datetime, anchor: date) -> None:
    minimum = dict.fromkeys(WANTED_STATES, 1) | {OUT: max(1, len(orders) // 500)}
    forced: set[str] = set()
    for state, ideal_hours in WANTED_STATES.items():
        while True:
            held = Counter(_state(p, anchor) for order in orders for p in order.parcels[:1])
            if held[state] >= minimum[state]:
                break
            candidates = [
                order
                for order in orders
                if order.parcels
                and order.external_id not in forced
                and held[_state(order.parcels[0], anchor)]
                > minimum.get(_state(order.parcels[0], anchor), 0)
            ]
            if not candidates:
                break
            order = min(
                candidates,
                key=lambda o: abs((cutoff - o.placed_at) / timedelta(hours=1) - ideal_hours),
            )
            _force(rng, order, state, cutoff, anchor)
            forced.add(order.external_id)


# --- payloads -------------------------------------------------------------------------------
