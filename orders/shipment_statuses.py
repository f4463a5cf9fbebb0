"""The shipment status model: the order statuses come in along a parcel's journey, and the
sub-statuses (reasons) each may carry. Pure data and functions: no database.

Ten statuses, as the tracking aggregators have converged on them (AfterShip's tags, EasyPost's
and Shippo's statuses): ``pending`` (tracked, nothing heard from the carrier yet),
``info_received`` (the carrier has the label's data), ``in_transit``, ``out_for_delivery``,
``failed_attempt``, ``available_for_pickup``, ``delivered``, ``exception``,
``returned_to_sender`` and ``expired`` (no scan for 30 days: set by the delay scan, or by a
feed that says so, as AfterShip's ``Expired``). A status moves forward only: a dated statement
older than the one held changes nothing, and an undated one applies only if it is further along
(``RANK``).
"""

from __future__ import annotations

from orders.models import ShipmentStatus

# How far along its journey each status puts a parcel: orders undated statements and ties.
RANK: dict[str, int] = {
    ShipmentStatus.PENDING: 0,
    ShipmentStatus.INFO_RECEIVED: 1,
    ShipmentStatus.IN_TRANSIT: 2,
    ShipmentStatus.OUT_FOR_DELIVERY: 3,
    ShipmentStatus.FAILED_ATTEMPT: 3,
    ShipmentStatus.AVAILABLE_FOR_PICKUP: 3,
    ShipmentStatus.EXCEPTION: 3,
    ShipmentStatus.EXPIRED: 3,
    ShipmentStatus.DELIVERED: 4,
    ShipmentStatus.RETURNED_TO_SENDER: 4,
}

# Statuses in which the parcel has left the merchant: the first dated one tells when it shipped.
MOVING = frozenset(
    {
        ShipmentStatus.IN_TRANSIT,
        ShipmentStatus.OUT_FOR_DELIVERY,
        ShipmentStatus.FAILED_ATTEMPT,
        ShipmentStatus.AVAILABLE_FOR_PICKUP,
        ShipmentStatus.DELIVERED,
    }
)

# Statuses after which nothing more is expected of the carrier.
FINAL = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED_TO_SENDER})

# The reasons a status may carry, each with what it means; any other status carries none.
SUBSTATUSES: dict[str, dict[str, str]] = {
    ShipmentStatus.EXCEPTION: {
        "damaged": "The parcel was damaged in transit.",
        "refused": "The recipient refused the parcel.",
        "address": "The address is wrong or incomplete; the carrier cannot deliver.",
        "customs": "The parcel is held at customs.",
        "weather": "Weather or a natural event is holding the parcel up.",
        "lost": "The carrier has lost the parcel.",
        "delayed": "The carrier reports a delay.",
        "held": "The carrier is holding the parcel (awaiting payment, documents or a decision).",
        "undeliverable": "The carrier cannot deliver the parcel and will return or dispose of it.",
        "other": "The carrier reports a problem it does not describe.",
    },
    ShipmentStatus.FAILED_ATTEMPT: {
        "recipient_unavailable": "No one was there to take the parcel.",
        "business_closed": "The business was closed.",
        "no_access": "The carrier could not reach the door (gate, building access).",
        "other": "The carrier tried and could not deliver.",
    },
    ShipmentStatus.DELIVERED: {
        "signed": "Handed over and signed for.",
        "safe_place": "Left at the door or a safe place.",
        "pickup_point": "Collected at a pickup point or locker.",
        "neighbour": "Left with a neighbour, reception or a mailroom.",
    },
}


def substatus_error(status: str, substatus: str) -> str | None:
    """Why ``substatus`` cannot go with ``status``, or ``None`` when it can (empty always can)."""
    if not substatus:
        return None
    status = str(getattr(status, "value", status))  # a ShipmentStatus member reads as its word
    allowed = SUBSTATUSES.get(status)
    if allowed is None:
        return f"{status!r} carries no sub-status"
    if substatus not in allowed:
        return f"{substatus!r} is not a sub-status of {status!r}: one of {', '.join(allowed)}"
    return None
