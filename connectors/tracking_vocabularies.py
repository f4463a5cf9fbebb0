"""The tracking feeds' own words mapped onto our status model (``orders/shipment_statuses.py``):
EasyPost's tracker ``status`` and ``status_detail``, Shippo's ``tracking_status.status`` and
``substatus.code``, AfterShip's ``tag`` and ``subtag``, and Shopify's fulfillment
``shipment_status`` and fulfillment event ``status``. Pure data and one function; docs/tracking.md
prints the same tables (``tests/connectors/test_tracking_vocabularies.py`` keeps them equal).

A feed gives a status and, often, a detail. The detail is the more precise: where it maps, it
decides; a detail marked ``PARENT`` keeps the status's own word and adds only its reason (when
that reason fits the status); a detail we do not know leaves the status's mapping as it is, so
a vendor's new code never stops a delivery. A status we do not know is refused, naming it.
``None`` as a mapping means the word says nothing about where the parcel is (an API error, an
unknown tracking number): accepted, and no status changes.
"""

from __future__ import annotations

from orders.models import ShipmentStatus as S
from orders.shipment_statuses import substatus_error

Mapping = tuple[str, str] | None  # (status, substatus), or no news
PARENT = "parent"  # a detail that keeps the status's word and adds its reason

EASYPOST_STATUS: dict[str, Mapping] = {
    "unknown": (S.PENDING, ""),
    "pre_transit": (S.INFO_RECEIVED, ""),
    "in_transit": (S.IN_TRANSIT, ""),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, ""),
    "delivered": (S.DELIVERED, ""),
    "available_for_pickup": (S.AVAILABLE_FOR_PICKUP, ""),
    "return_to_sender": (S.RETURNED_TO_SENDER, ""),
    "failure": (S.EXCEPTION, "other"),
    "cancelled": (S.EXCEPTION, "other"),
    "error": None,  # the tracker's own error, not the carrier's news
}
EASYPOST_DETAIL: dict[str, Mapping] = {
    "address_correction": (PARENT, "address"),
    "arrived_at_destination": (S.IN_TRANSIT, ""),
    "arrived_at_facility": (S.IN_TRANSIT, ""),
    "arrived_at_pickup_location": (S.AVAILABLE_FOR_PICKUP, ""),
    "awaiting_information": (PARENT, "other"),
    "cancelled": (S.EXCEPTION, "other"),
    "damaged": (S.EXCEPTION, "damaged"),
    "delayed": (S.EXCEPTION, "delayed"),
    "delivery_exception": (S.EXCEPTION, "other"),
    "departed_facility": (S.IN_TRANSIT, ""),
    "departed_origin_facility": (S.IN_TRANSIT, ""),
    "expired": (S.EXPIRED, ""),
    "failure": (S.EXCEPTION, "other"),
    "held": (S.EXCEPTION, "held"),
    "in_transit": (S.IN_TRANSIT, ""),
    "label_created": (S.INFO_RECEIVED, ""),
    "lost": (S.EXCEPTION, "lost"),
    "missorted": (S.EXCEPTION, "delayed"),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, ""),
    "received_at_destination_facility": (S.IN_TRANSIT, ""),
    "received_at_origin_facility": (S.IN_TRANSIT, ""),
    "refused": (S.EXCEPTION, "refused"),
    "return": (S.RETURNED_TO_SENDER, ""),
    "status_update": (PARENT, ""),
    "transferred_to_destination_carrier": (S.IN_TRANSIT, ""),
    "transit_exception": (S.EXCEPTION, "other"),
    "unknown": (PARENT, ""),
    "weather_delay": (S.EXCEPTION, "weather"),
}

SHIPPO_STATUS: dict[str, Mapping] = {
    "unknown": (S.PENDING, ""),
    "pre_transit": (S.INFO_RECEIVED, ""),
    "transit": (S.IN_TRANSIT, ""),
    "delivered": (S.DELIVERED, ""),
    "returned": (S.RETURNED_TO_SENDER, ""),
    "failure": (S.EXCEPTION, "other"),
}
SHIPPO_DETAIL: dict[str, Mapping] = {
    "information_received": (S.INFO_RECEIVED, ""),
    "address_issue": (S.EXCEPTION, "address"),
    "contact_carrier": (S.EXCEPTION, "other"),
    "delayed": (S.EXCEPTION, "delayed"),
    "delivery_attempted": (S.FAILED_ATTEMPT, "other"),
    "delivery_rescheduled": (S.IN_TRANSIT, ""),
    "delivery_scheduled": (S.IN_TRANSIT, ""),
    "location_inaccessible": (S.FAILED_ATTEMPT, "no_access"),
    "notice_left": (S.FAILED_ATTEMPT, "recipient_unavailable"),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, ""),
    "package_accepted": (S.IN_TRANSIT, ""),
    "package_arrived": (S.IN_TRANSIT, ""),
    "package_damaged": (S.EXCEPTION, "damaged"),
    "package_departed": (S.IN_TRANSIT, ""),
    "package_forwarded": (S.IN_TRANSIT, ""),
    "package_held": (S.EXCEPTION, "held"),
    "package_processed": (S.IN_TRANSIT, ""),
    "package_processing": (S.IN_TRANSIT, ""),
    "pickup_available": (S.AVAILABLE_FOR_PICKUP, ""),
    "reschedule_delivery": (S.FAILED_ATTEMPT, "other"),
    "delivered": (S.DELIVERED, ""),
    "return_to_sender": (S.RETURNED_TO_SENDER, ""),
    "package_unclaimed": (S.EXCEPTION, "undeliverable"),
    "package_undeliverable": (S.EXCEPTION, "undeliverable"),
    "package_disposed": (S.EXCEPTION, "undeliverable"),
    "package_lost": (S.EXCEPTION, "lost"),
    "other": (PARENT, ""),
}

AFTERSHIP_STATUS: dict[str, Mapping] = {
    "pending": (S.PENDING, ""),
    "info_received": (S.INFO_RECEIVED, ""),
    "in_transit": (S.IN_TRANSIT, ""),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, ""),
    "attempt_fail": (S.FAILED_ATTEMPT, ""),
    "delivered": (S.DELIVERED, ""),
    "available_for_pickup": (S.AVAILABLE_FOR_PICKUP, ""),
    "exception": (S.EXCEPTION, "other"),
    "expired": (S.EXPIRED, ""),
}
AFTERSHIP_DETAIL: dict[str, Mapping] = {
    "delivered_001": (S.DELIVERED, ""),
    "delivered_002": (S.DELIVERED, "pickup_point"),
    "delivered_003": (S.DELIVERED, "signed"),
    "delivered_004": (S.DELIVERED, ""),  # cash collected on delivery
    "delivered_005": (S.DELIVERED, "neighbour"),
    "available_for_pickup_001": (S.AVAILABLE_FOR_PICKUP, ""),
    "exception_001": (S.EXCEPTION, "other"),
    "exception_002": (S.EXCEPTION, "address"),  # the customer moved
    "exception_003": (S.EXCEPTION, "refused"),
    "exception_004": (S.EXCEPTION, "customs"),
    "exception_005": (S.EXCEPTION, "delayed"),
    "exception_006": (S.EXCEPTION, "held"),  # held for payment
    "exception_007": (S.EXCEPTION, "address"),
    "exception_008": (S.EXCEPTION, "undeliverable"),  # not collected
    "exception_009": (S.EXCEPTION, "other"),  # rejected by the carrier
    "exception_010": (S.RETURNED_TO_SENDER, ""),  # returning
    "exception_011": (S.RETURNED_TO_SENDER, ""),  # returned
    "exception_012": (S.EXCEPTION, "damaged"),
    "exception_013": (S.EXCEPTION, "lost"),
    "exception_016": (S.EXCEPTION, "delayed"),  # processing issue
    "exception_017": (S.EXCEPTION, "weather"),
    "exception_018": (S.EXCEPTION, "customs"),  # documents incorrect or missing
    "exception_019": (S.EXCEPTION, "delayed"),  # late flight
    "exception_020": (S.EXCEPTION, "other"),  # shipment cancelled
    "exception_021": (S.EXCEPTION, "undeliverable"),  # disposed
    "attempt_fail_001": (S.FAILED_ATTEMPT, "other"),
    "attempt_fail_002": (S.FAILED_ATTEMPT, "recipient_unavailable"),
    "attempt_fail_003": (S.FAILED_ATTEMPT, "business_closed"),
    **{f"in_transit_00{n}": (S.IN_TRANSIT, "") for n in range(1, 10)},
    "info_received_001": (S.INFO_RECEIVED, ""),
    "out_for_delivery_001": (S.OUT_FOR_DELIVERY, ""),
    "out_for_delivery_002": (S.AVAILABLE_FOR_PICKUP, ""),  # an older code for it
    "out_for_delivery_003": (S.OUT_FOR_DELIVERY, ""),
    "out_for_delivery_004": (S.OUT_FOR_DELIVERY, ""),
    "pending_001": (S.PENDING, ""),
    "expired_001": (S.EXPIRED, ""),
}

SHOPIFY_STATUS: dict[str, Mapping] = {
    "label_purchased": (S.INFO_RECEIVED, ""),
    "label_printed": (S.INFO_RECEIVED, ""),
    "confirmed": (S.INFO_RECEIVED, ""),
    "carrier_picked_up": (S.IN_TRANSIT, ""),
    "in_transit": (S.IN_TRANSIT, ""),
    "out_for_delivery": (S.OUT_FOR_DELIVERY, ""),
    "attempted_delivery": (S.FAILED_ATTEMPT, "other"),
    "ready_for_pickup": (S.AVAILABLE_FOR_PICKUP, ""),
    "ready_for_recipient_pickup": (S.AVAILABLE_FOR_PICKUP, ""),
    "picked_up": (S.DELIVERED, "pickup_point"),
    "delivered": (S.DELIVERED, ""),
    "delayed": (S.EXCEPTION, "delayed"),
    "failure": (S.EXCEPTION, "other"),
    "buyer_action_required": (S.EXCEPTION, "held"),
    "returning_to_sender": (S.RETURNED_TO_SENDER, ""),
}

VOCABULARIES: dict[str, tuple[dict[str, Mapping], dict[str, Mapping]]] = {
    "easypost": (EASYPOST_STATUS, EASYPOST_DETAIL),
    "shippo": (SHIPPO_STATUS, SHIPPO_DETAIL),
    "aftership": (AFTERSHIP_STATUS, AFTERSHIP_DETAIL),
    "shopify": (SHOPIFY_STATUS, {}),
}


class UnknownStatus(ValueError):
    """A feed's status word that is in none of its vocabulary's tables."""


def feed_status(vocabulary: str, status: str, detail: str = "") -> Mapping:
    """Our ``(status, substatus)`` for a feed's status word and optional detail (words compared
    in snake_case: ``InTransit``, ``in-transit``, ``IN_TRANSIT`` are one), or ``None`` for no
    news. Raises ``UnknownStatus`` for a status word the vocabulary does not have."""
    statuses, details = VOCABULARIES[vocabulary]
    word = snake(status)
    if word not in statuses:
        raise UnknownStatus(f"{status!r} is not a {vocabulary} status")
    mapped = statuses[word]
    refined = details.get(snake(detail)) if detail else None
    if mapped is None or refined is None:
        return mapped
    if refined[0] != PARENT:
        return refined
    reason = refined[1] or mapped[1]
    return (mapped[0], reason if substatus_error(mapped[0], reason) is None else mapped[1])


def snake(value: str) -> str:
    """``OutForDelivery``, ``out-for-delivery``, ``OUT FOR DELIVERY`` → ``out_for_delivery``;
    ``Exception_001`` → ``exception_001``; ``AttemptFail_002`` → ``attempt_fail_002``."""
    import re

    word = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", value.strip())
    return re.sub(r"[\s\-]+", "_", word).lower()


TITLES = {
    "easypost": ("EasyPost", "tracker `status`", "`status_detail`"),
    "shippo": ("Shippo", "`tracking_status.status`", "`tracking_status.substatus.code`"),
    "aftership": ("AfterShip", "`tag`", "`subtag`"),
    "shopify": ("Shopify", "fulfillment `shipment_status`, fulfillment event `status`", ""),
}


def vocabulary_tables() -> str:
    """The mapping tables as docs/tracking.md prints them (between its ``vocabularies``
    markers)."""

    def cell(mapping: Mapping) -> str:
        if mapping is None:
            return "no news (nothing changes)"
        status, reason = mapping
        status = "the status's own" if status == PARENT else f"`{status}`"
        return f"{status} / `{reason}`" if reason else status

    parts = []
    for key, (statuses, details) in VOCABULARIES.items():
        name, status_title, detail_title = TITLES[key]
        parts.append(f"### {name}\n\n| {status_title} | ours |\n|---|---|")
        parts += [f"| `{word}` | {cell(mapping)} |" for word, mapping in statuses.items()]
        if details:
            parts.append(f"\n| {detail_title} | ours |\n|---|---|")
            parts += [f"| `{word}` | {cell(mapping)} |" for word, mapping in details.items()]
        parts.append("")
    return "\n".join(parts)
