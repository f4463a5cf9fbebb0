"""Estimated delivery as a range (orders/estimates.py): business days, the carrier's date, the
merchant's own transit history at the narrowest level with enough deliveries, the carriers'
defaults, and calibration against what was shown. A merchant in Los Angeles, so local days
differ from UTC ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orders.estimates import (
    MIN_SAMPLES,
    business_days_after,
    business_days_between,
    estimate_calibration,
    percentile,
    shipment_estimate,
)
from orders.models import Shipment
from orders.services.orders import order_ingest
from orders.services.shipments import shipment_ingest
from tests.factories import MerchantFactory, OrderFactory, order_payload

LA = ZoneInfo("America/Los_Angeles")
TODAY = date(2026, 6, 15)  # a Monday


def la(*args) -> datetime:
    return datetime(*args, tzinfo=LA)


@pytest.fixture
def shop(db):
    return MerchantFactory(slug="west", timezone="America/Los_Angeles")


def order_to(merchant, country="US", province="CA"):
    return OrderFactory(
        merchant=merchant, shipping_address={"country_code": country, "province_code": province}
    )


def delivered(merchant, *, carrier, shipped, transit_days, service="Ground", **to):
    """A delivered shipment that took ``transit_days`` business days from ``shipped``."""
    arrival = datetime.combine(
        business_days_after(shipped.astimezone(LA).date(), transit_days),
        datetime.min.time(),
        tzinfo=LA,
    ) + timedelta(hours=14)
    return Shipment.unscoped.create(
        merchant=merchant,
        order=order_to(merchant, **to),
        external_id=f"s-{Shipment.unscoped.count()}",
        carrier=carrier,
        service=service,
        status="delivered",
        shipped_at=shipped,
        delivered_at=arrival,
    )


def history(merchant, carrier, spread, **kwargs):
    """Deliveries shipped on Monday 1 June 2026, ``count`` of each transit time in ``spread``."""
    for days, count in spread.items():
        for _ in range(count):
            delivered(
                merchant, carrier=carrier, shipped=la(2026, 6, 1, 10), transit_days=days, **kwargs
            )


def in_flight(merchant, *, carrier="UPS", service="Ground", shipped=None, **fields):
    return Shipment(
        merchant=merchant,
        order=order_to(merchant),
        carrier=carrier,
        service=service,
        status="in_transit",
        shipped_at=shipped or la(2026, 6, 12, 23, 30),  # a Friday night in LA, Saturday in UTC
        created_at=la(2026, 6, 12, 9),
        **fields,
    )


def test_business_days_skip_the_weekend():
    friday, monday = date(2026, 6, 12), date(2026, 6, 15)
    assert business_days_between(friday, monday) == 1
    assert business_days_between(monday, monday + timedelta(days=7)) == 5
    assert business_days_between(monday, friday) == 0
    assert business_days_after(friday, 1) == monday
    assert business_days_after(friday, 0) == friday
    assert business_days_after(monday, 5) == date(2026, 6, 22)


def test_the_merchants_country_holidays_are_not_business_days():
    # Thanksgiving is Thursday 26 November 2026 in the US; Germany works that day
    wednesday = date(2026, 11, 25)
    assert business_days_after(wednesday, 1, "US") == date(2026, 11, 27)
    assert business_days_after(wednesday, 1, "DE") == date(2026, 11, 26)
    assert business_days_between(wednesday, date(2026, 11, 30), "US") == 2  # Fri, Mon
    assert business_days_between(wednesday, date(2026, 11, 30), "DE") == 3
    christmas_eve = date(2026, 12, 24)
    assert business_days_after(christmas_eve, 1, "US") == date(2026, 12, 28)
    # both close 25 December and 1 January: 28 to 31 December and 4 January are left
    assert business_days_between(christmas_eve, date(2027, 1, 4), "DE") == 5
    assert business_days_between(christmas_eve, date(2027, 1, 4), "US") == 5
    assert business_days_between(christmas_eve, date(2027, 1, 4)) == 7  # weekdays only
    assert business_days_after(wednesday, 1, "ZZ") == date(2026, 11, 26)  # unknown: weekdays


def test_a_default_range_skips_a_holiday(shop):
    # given: a parcel with UPS (1 to 5 business days) leaving the day before Thanksgiving
    shop.country = "US"
    shipment = Shipment(
        merchant=shop,
        carrier="UPS",
        status="in_transit",
        shipped_at=datetime(2026, 11, 25, 18, 0, tzinfo=UTC),
    )

    # when
    estimate = shipment_estimate(
        merchant=shop, shipment=shipment, order=order_to(shop), today=date(2026, 11, 25)
    )

    # then
    assert (estimate.earliest, estimate.latest, estimate.basis) == (
        date(2026, 11, 27),
        date(2026, 12, 3),
        "default",
    )


def test_percentiles_are_nearest_rank():
    values = list(range(1, 11))
    assert (percentile(values, 25), percentile(values, 85), percentile(values, 100)) == (3, 9, 10)
    assert percentile([4], 25) == 4


def test_the_carriers_own_date_is_a_single_day(shop):
    estimate = shipment_estimate(
        merchant=shop,
        shipment=in_flight(shop, estimated_delivery=date(2026, 6, 17)),
        order=order_to(shop),
        today=TODAY,
    )
    assert (estimate.earliest, estimate.latest, estimate.basis, estimate.single_day) == (
        date(2026, 6, 17),
        date(2026, 6, 17),
        "carrier",
        True,
    )


def test_history_gives_the_25th_to_85th_percentile_counted_from_the_local_ship_day(shop):
    # given: 20 UPS Ground deliveries to California: 10 took 2 days, 6 took 3, 4 took 5
    history(shop, "UPS", {2: 10, 3: 6, 5: 4})
    shipment = in_flight(shop)

    # when
    estimate = shipment_estimate(
        merchant=shop, shipment=shipment, order=shipment.order, today=TODAY
    )

    # then: p25 = 2, p85 = 5 business days after Friday 12 June (local), not Saturday (UTC)
    assert (estimate.earliest, estimate.latest, estimate.basis, estimate.samples) == (
        date(2026, 6, 16),
        date(2026, 6, 19),
        "history",
        20,
    )


def test_too_few_at_the_narrow_level_falls_back_to_the_carrier_and_then_its_default(shop):
    # given: 20 UPS deliveries, but to Texas and by another service
    history(shop, "UPS", {4: MIN_SAMPLES}, service="Express", province="TX")
    shipment = in_flight(shop)

    # when / then: the carrier level (20 deliveries) answers: 4 days at both ends
    estimate = shipment_estimate(
        merchant=shop, shipment=shipment, order=shipment.order, today=TODAY
    )
    assert (estimate.earliest, estimate.latest, estimate.basis) == (
        date(2026, 6, 18),
        date(2026, 6, 18),
        "history",
    )

    # and a carrier with no history of this merchant's gets the carrier's usual range (DHL: 2 to
    # 6 business days), an unknown carrier 2 to 7
    for carrier, latest in (
        ("DHL Express", date(2026, 6, 22)),
        ("Speedy Parcels", date(2026, 6, 23)),
    ):
        other = in_flight(shop, carrier=carrier)
        estimate = shipment_estimate(merchant=shop, shipment=other, order=other.order, today=TODAY)
        assert (estimate.earliest, estimate.latest, estimate.basis) == (
            date(2026, 6, 16),
            latest,
            "default",
        )


def test_another_merchants_deliveries_never_count(shop):
    east = MerchantFactory(slug="east", timezone="America/Los_Angeles")
    history(east, "UPS", {1: 30})
    shipment = in_flight(shop)

    estimate = shipment_estimate(
        merchant=shop, shipment=shipment, order=shipment.order, today=TODAY
    )

    assert estimate.basis == "default"


def test_nothing_is_estimated_once_delivered(shop):
    shipment = in_flight(shop, estimated_delivery=date(2026, 6, 17))
    shipment.status = "delivered"
    assert (
        shipment_estimate(merchant=shop, shipment=shipment, order=shipment.order, today=TODAY)
        is None
    )


def test_calibration_counts_deliveries_inside_before_and_after_the_range_shown(shop):
    # given: UPS shown 16-18 June: delivered on the 16th, the 18th (inside), the 15th (early) and
    # the 19th (late, though 02:00 UTC on the 19th is still the 18th in LA: inside); FedEx once
    shown = {"estimate_earliest": date(2026, 6, 16), "estimate_latest": date(2026, 6, 18)}
    for arrival in (
        la(2026, 6, 16, 12),
        la(2026, 6, 18, 20),
        la(2026, 6, 15, 12),
        la(2026, 6, 19, 9),
        datetime(2026, 6, 19, 2, 0, tzinfo=UTC),
    ):
        Shipment.unscoped.create(
            merchant=shop, order=order_to(shop), external_id=f"u-{arrival}", carrier="UPS",
            status="delivered", delivered_at=arrival, estimate_basis="history", **shown,
        )  # fmt: skip
    Shipment.unscoped.create(
        merchant=shop, order=order_to(shop), external_id="f-1", carrier="FedEx",
        status="delivered", delivered_at=la(2026, 6, 17, 12), estimate_basis="default", **shown,
    )  # fmt: skip
    # and a delivery with no range shown, which cannot count
    Shipment.unscoped.create(
        merchant=shop, order=order_to(shop), external_id="n-1", carrier="UPS",
        status="delivered", delivered_at=la(2026, 6, 17, 12),
    )  # fmt: skip

    rows = estimate_calibration(merchant=shop, since=la(2026, 6, 1))

    assert [(r.carrier, r.delivered, r.inside, r.early, r.late) for r in rows] == [
        ("FedEx", 1, 1, 0, 0),
        ("UPS", 5, 3, 1, 1),
    ]
    assert rows[1].share_inside == 0.6


def test_a_shipment_posted_keeps_the_range_it_is_shown(shop):
    # given: an order, and its shipment posted with the carrier's service, moving on Friday night
    order_ingest(merchant=shop, payload=order_payload(), now=la(2026, 6, 12, 9))
    history(shop, "UPS", {2: 10, 3: 6, 5: 4})

    # when
    result = shipment_ingest(
        merchant=shop,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1001",
            "carrier": "UPS",
            "service": "Ground",
            "tracking_number": "1Z999",
            "checkpoints": [{"status": "in_transit", "occurred_at": "2026-06-13T06:30:00Z"}],
        },
        now=la(2026, 6, 13, 8),
    )

    # then: the order has no address, so the carrier's level answers (its 20 deliveries), and
    # the range is kept on the shipment
    held = Shipment.unscoped.get(pk=result.instance.pk)
    assert (held.service, held.estimate_earliest, held.estimate_latest, held.estimate_basis) == (
        "Ground",
        date(2026, 6, 16),
        date(2026, 6, 19),
        "history",
    )
