"""The tracking pillar's reads: open incidents by reason, carrier and age at the buckets' edges,
sorted by page views; counts; delay states; calibration in whole percent; settings read without
writing; each merchant's rows only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from orders.models import Shipment
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import OrderFactory
from tracking.models import DelaySettings
from tracking.selectors import (
    calibration,
    delay_settings_read,
    delay_states,
    incident_counts,
    incidents_open,
)

NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def open_ids(merchant, **filters) -> list[int]:
    with merchant_scope(merchant):
        return [incident.pk for incident in incidents_open(now=NOW, **filters)]


def test_age_buckets_at_their_edges(merchant_la, shipment_of, incident_of):
    # given: delayed just under two days, exactly two, just under seven, exactly seven
    ship = lambda: shipment_of(merchant_la, status="exception", created_at=NOW - 30 * DAY)  # noqa: E731
    under_two = incident_of(ship(), "exception", delayed_at=NOW - 2 * DAY + SECOND)
    two = incident_of(ship(), "exception", delayed_at=NOW - 2 * DAY)
    under_seven = incident_of(ship(), "exception", delayed_at=NOW - 7 * DAY + SECOND)
    seven = incident_of(ship(), "exception", delayed_at=NOW - 7 * DAY)

    # when / then: the longest delayed first in each
    assert open_ids(merchant_la, age="new") == [under_two.pk]
    assert open_ids(merchant_la, age="week") == [under_seven.pk, two.pk]
    assert open_ids(merchant_la, age="old") == [seven.pk]
    assert open_ids(merchant_la) == [seven.pk, under_seven.pk, two.pk, under_two.pk]


def test_filters_by_reason_and_carrier_and_leaves_resolved_ones_out(
    merchant_la, shipment_of, incident_of
):
    # given
    ups = shipment_of(merchant_la, status="in_transit", created_at=NOW - 9 * DAY)
    usps = shipment_of(merchant_la, status="in_transit", created_at=NOW - 9 * DAY, carrier="USPS")
    late_ups = incident_of(ups, "no_scan_in_transit", delayed_at=NOW - 3 * DAY)
    late_usps = incident_of(usps, "past_estimated_delivery", delayed_at=NOW - 2 * DAY)
    incident_of(usps, "no_scan_in_transit", delayed_at=NOW - 4 * DAY, resolved_at=NOW - DAY)
    order = OrderFactory(merchant=merchant_la)
    unfulfilled = incident_of(order, "fulfillment_late", delayed_at=NOW - DAY)

    # when / then
    assert open_ids(merchant_la) == [late_ups.pk, late_usps.pk, unfulfilled.pk]
    assert open_ids(merchant_la, reason="no_scan_in_transit") == [late_ups.pk]
    assert open_ids(merchant_la, carrier="USPS") == [late_usps.pk]
    assert open_ids(merchant_la, reason="fulfillment_late") == [unfulfilled.pk]


def test_page_views_all_time_and_last_seven_days_and_sorting_by_them(
    merchant_la, shipment_of, incident_of, page_views
):
    # given: A seen 10 times long ago and once on the 7th day back; B 4 times today
    a = shipment_of(merchant_la, status="in_transit", created_at=NOW - 20 * DAY)
    b = shipment_of(merchant_la, status="in_transit", created_at=NOW - 20 * DAY)
    late_a = incident_of(a, "no_scan_in_transit", delayed_at=NOW - 5 * DAY)
    late_b = incident_of(b, "no_scan_in_transit", delayed_at=NOW - 1 * DAY)
    page_views(a, date(2026, 4, 13), 10)  # eight days back: outside "last 7 days"
    page_views(a, date(2026, 4, 14), 1)  # the seventh day back, counted
    page_views(b, date(2026, 4, 20), 4)

    # when
    with merchant_scope(merchant_la):
        by_views = list(incidents_open(now=NOW, sort="views"))
        by_recent = list(incidents_open(now=NOW, sort="recent_views"))

    # then
    assert [(i.pk, i.views_total, i.views_recent) for i in by_views] == [
        (late_a.pk, 11, 1),
        (late_b.pk, 4, 4),
    ]
    assert [i.pk for i in by_recent] == [late_b.pk, late_a.pk]


def test_counts_by_reason_carrier_and_age(merchant_la, shipment_of, incident_of):
    # given
    ups = shipment_of(merchant_la, status="exception", created_at=NOW - 9 * DAY)
    usps = shipment_of(merchant_la, status="exception", created_at=NOW - 9 * DAY, carrier="USPS")
    other_ups = shipment_of(merchant_la, status="in_transit", created_at=NOW - 9 * DAY)
    incident_of(ups, "exception", delayed_at=NOW - DAY)
    incident_of(usps, "exception", delayed_at=NOW - 3 * DAY)
    incident_of(other_ups, "no_scan_in_transit", delayed_at=NOW - 8 * DAY)
    incident_of(OrderFactory(merchant=merchant_la), "fulfillment_late", delayed_at=NOW - DAY)
    incident_of(other_ups, "expired", delayed_at=NOW - DAY, resolved_at=NOW)

    # when
    with merchant_scope(merchant_la):
        counts = incident_counts(now=NOW)

    # then
    assert counts.total == 4
    assert counts.by_reason == [
        ("no_first_scan", "No first carrier scan", 0),
        ("no_scan_in_transit", "No scan while in transit", 1),
        ("past_estimated_delivery", "Past the estimated delivery date", 0),
        ("exception", "Carrier exception", 2),
        ("fulfillment_late", "Not fulfilled within the promise", 1),
        ("expired", "No scan for the expired threshold", 0),
    ]
    assert counts.by_carrier == [("UPS", 2), ("USPS", 1)]
    assert [(bucket.key, count) for bucket, count in counts.by_age] == [
        ("new", 2),
        ("week", 1),
        ("old", 1),
    ]


def test_another_merchants_incidents_are_never_read(
    merchant_la, merchant_b, shipment_of, incident_of
):
    # given: one incident each
    own = incident_of(
        shipment_of(merchant_la, status="exception", created_at=NOW - DAY),
        "exception",
        delayed_at=NOW - DAY,
    )
    bravo = shipment_of(merchant_b, status="exception", created_at=NOW - DAY)
    incident_of(bravo, "exception", delayed_at=NOW - DAY)

    # when / then
    assert open_ids(merchant_la) == [own.pk]
    with merchant_scope(merchant_la):
        assert incident_counts(now=NOW).total == 1
    assert delay_states(merchant=merchant_la, shipment_ids=[bravo.pk]) == {}


def test_delay_states_show_the_incident_that_became_a_delay_first(
    merchant_la, shipment_of, incident_of
):
    # given: a shipment late in transit since the 15th and past its estimate since the 17th
    shipment = shipment_of(merchant_la, status="in_transit", created_at=NOW - 9 * DAY)
    quiet = shipment_of(merchant_la, status="in_transit", created_at=NOW - 9 * DAY)
    incident_of(shipment, "past_estimated_delivery", delayed_at=NOW - 3 * DAY)
    incident_of(shipment, "no_scan_in_transit", since=NOW - 10 * DAY, delayed_at=NOW - 5 * DAY)

    # when
    states = delay_states(merchant=merchant_la, shipment_ids=[shipment.pk, quiet.pk])

    # then
    assert states == {
        shipment.pk: {
            "reason": "no_scan_in_transit",
            "since": NOW - 10 * DAY,
            "delayed_at": NOW - 5 * DAY,
        }
    }
    assert delay_states(merchant=merchant_la, shipment_ids=[]) == {}


def test_calibration_in_whole_percent_halves_up(merchant_la, shipment_of):
    # given: UPS 8 deliveries shown 14-16 April: 5 inside, 1 early, 2 late; one older than 90
    # days; FedEx 3, all inside (delivery days in Los Angeles)
    def delivered(carrier: str, day: int, *, month: int = 4) -> Shipment:
        return shipment_of(
            merchant_la,
            status="delivered",
            created_at=datetime(2026, month, 1, tzinfo=UTC),
            carrier=carrier,
            delivered_at=datetime(2026, month, day, 20, 0, tzinfo=UTC),  # 13:00 in LA
            estimate_earliest=date(2026, month, 14),
            estimate_latest=date(2026, month, 16),
            estimate_basis="history",
        )

    for day in (14, 15, 15, 16, 16, 13, 17, 18):
        delivered("UPS", day)
    delivered("UPS", 10, month=1)  # before the 90 days (from 20 January)
    for day in (14, 15, 16):
        delivered("FedEx", day)

    # when
    lines = calibration(merchant=merchant_la, now=NOW)

    # then
    assert [
        (line.carrier, line.delivered, line.inside, line.early, line.late, line.inside_percent)
        for line in lines
    ] == [("FedEx", 3, 3, 0, 0, 100), ("UPS", 8, 5, 1, 2, 63)]


def test_settings_are_read_without_being_written(merchant_la):
    # when
    settings = delay_settings_read(merchant=merchant_la)

    # then: the defaults, and no row
    assert (
        settings.first_scan_days,
        settings.transit_scan_days,
        settings.fulfillment_promise_days,
        settings.expired_days,
    ) == (3, 5, 3, 30)
    assert DelaySettings.unscoped.filter(merchant=merchant_la).exists() is False
