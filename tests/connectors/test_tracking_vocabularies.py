"""The feeds' status words on our status model: every documented word of each vocabulary is
mapped, onto a status and sub-status that go together; a detail refines its status as the
module says; and docs/tracking.md prints exactly the tables the code holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.tracking_vocabularies import (
    PARENT,
    VOCABULARIES,
    UnknownStatus,
    feed_status,
    snake,
    vocabulary_tables,
)
from orders.models import ShipmentStatus
from orders.shipment_statuses import substatus_error

DOC = Path(__file__).resolve().parents[2] / "docs" / "tracking.md"

# Each vendor's words as its own reference lists them (docs/tracking.md has the sources).
DOCUMENTED = {
    "easypost": (
        "unknown pre_transit in_transit out_for_delivery delivered available_for_pickup "
        "return_to_sender failure cancelled error",
        "address_correction arrived_at_destination arrived_at_facility arrived_at_pickup_location "
        "awaiting_information cancelled damaged delayed delivery_exception departed_facility "
        "departed_origin_facility expired failure held in_transit label_created lost missorted "
        "out_for_delivery received_at_destination_facility received_at_origin_facility refused "
        "return status_update transferred_to_destination_carrier transit_exception unknown "
        "weather_delay",
    ),
    "shippo": (
        "UNKNOWN PRE_TRANSIT TRANSIT DELIVERED RETURNED FAILURE",
        "information_received address_issue contact_carrier delayed delivery_attempted "
        "delivery_rescheduled delivery_scheduled location_inaccessible notice_left "
        "out_for_delivery package_accepted package_arrived package_damaged package_departed "
        "package_forwarded package_held package_processed package_processing pickup_available "
        "reschedule_delivery delivered return_to_sender package_unclaimed package_undeliverable "
        "package_disposed package_lost other",
    ),
    "aftership": (
        "Pending InfoReceived InTransit OutForDelivery AttemptFail Delivered AvailableForPickup "
        "Exception Expired",
        "Delivered_001 Delivered_002 Delivered_003 Delivered_004 Delivered_005 "
        "AvailableForPickup_001 Exception_001 Exception_002 Exception_003 Exception_004 "
        "Exception_005 Exception_006 Exception_007 Exception_008 Exception_009 Exception_010 "
        "Exception_011 Exception_012 Exception_013 Exception_016 Exception_017 Exception_018 "
        "Exception_019 Exception_020 Exception_021 AttemptFail_001 AttemptFail_002 "
        "AttemptFail_003 InTransit_001 InTransit_002 InTransit_003 InTransit_004 InTransit_005 "
        "InTransit_006 InTransit_007 InTransit_008 InTransit_009 InfoReceived_001 "
        "OutForDelivery_001 OutForDelivery_003 OutForDelivery_004 Pending_001 Expired_001",
    ),
    "shopify": (
        "label_purchased label_printed confirmed carrier_picked_up in_transit out_for_delivery "
        "attempted_delivery ready_for_pickup picked_up delivered delayed failure",
        "",
    ),
}


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
def test_every_documented_word_is_mapped(vocabulary):
    statuses, details = DOCUMENTED[vocabulary]
    for word in statuses.split():
        feed_status(vocabulary, word)  # raises for a word it does not know
    known = VOCABULARIES[vocabulary][1]
    assert {snake(word) for word in details.split()} <= set(known)


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
def test_every_mapping_is_a_status_and_a_sub_status_that_go_together(vocabulary):
    statuses, details = VOCABULARIES[vocabulary]
    for word, mapping in [*statuses.items(), *details.items()]:
        if mapping is None:
            continue
        status, reason = mapping
        if status == PARENT:  # a reason that fits some status
            assert reason == "" or any(
                substatus_error(s, reason) is None for s in ShipmentStatus.values
            ), word
            continue
        assert status in ShipmentStatus.values, word
        assert substatus_error(status, reason) is None, word


@pytest.mark.parametrize(
    ("vocabulary", "status", "detail", "ours"),
    [
        # the detail decides where it maps
        (
            "aftership",
            "AttemptFail",
            "AttemptFail_002",
            ("failed_attempt", "recipient_unavailable"),
        ),
        ("aftership", "Exception", "Exception_011", ("returned_to_sender", "")),
        ("aftership", "Exception", "Exception_017", ("exception", "weather")),
        ("aftership", "Delivered", "Delivered_003", ("delivered", "signed")),
        ("shippo", "TRANSIT", "notice_left", ("failed_attempt", "recipient_unavailable")),
        ("shippo", "TRANSIT", "package_damaged", ("exception", "damaged")),
        ("shippo", "FAILURE", "package_lost", ("exception", "lost")),
        ("easypost", "in_transit", "weather_delay", ("exception", "weather")),
        (
            "easypost",
            "available_for_pickup",
            "arrived_at_pickup_location",
            ("available_for_pickup", ""),
        ),
        # a "parent" detail keeps the status word's mapping and adds its reason where it fits
        ("easypost", "failure", "address_correction", ("exception", "address")),
        ("easypost", "in_transit", "address_correction", ("in_transit", "")),
        ("easypost", "pre_transit", "status_update", ("info_received", "")),
        ("shippo", "FAILURE", "other", ("exception", "other")),
        # a detail we do not know leaves the status word's mapping
        ("aftership", "Exception", "Exception_099", ("exception", "other")),
        ("aftership", "InTransit", "", ("in_transit", "")),
        ("shopify", "attempted_delivery", "", ("failed_attempt", "other")),
        # no news
        ("easypost", "error", "", None),
        ("easypost", "error", "delayed", None),
    ],
)
def test_a_status_and_its_detail_map_onto_ours(vocabulary, status, detail, ours):
    assert feed_status(vocabulary, status, detail) == ours


def test_a_status_word_the_vocabulary_lacks_is_refused_naming_it():
    with pytest.raises(UnknownStatus, match="'Teleported' is not a shippo status"):
        feed_status("shippo", "Teleported")


def test_the_docs_print_the_tables_the_code_holds():
    text = DOC.read_text()
    start = text.index("<!-- vocabularies:")
    start = text.index("\n", start) + 1
    end = text.index("<!-- /vocabularies -->")
    assert text[start:end] == vocabulary_tables()
