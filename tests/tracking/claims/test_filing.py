"""Filing a claim: each rule at its boundary, in the merchant's time zone (Los Angeles, which
moves to daylight saving time on 2026-03-08), and each refusal writing nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from orders.models import Order
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from postpurchase.tenancy.scoping import merchant_scope
from tests.tracking.claims.conftest import png_bytes
from tracking.claims.models import Claim, ClaimPhoto
from tracking.claims.services import claim_file, claim_reject, protection_settings_update

pytestmark = pytest.mark.django_db

# Delivered 23:30 on 4 March in Los Angeles: the 15-day window's last day is 19 March there,
# closing at its midnight, 00:00 PDT on 20 March = 07:00 UTC.
WINDOW_LAST_MOMENT = datetime(2026, 3, 20, 6, 59, 59, tzinfo=UTC)
WINDOW_CLOSED = datetime(2026, 3, 20, 7, 0, tzinfo=UTC)
# Last scan 10:00 PST on 2 March; 10 days later is 10:00 PDT on 12 March = 17:00 UTC.
LOST_FROM = datetime(2026, 3, 12, 17, 0, tzinfo=UTC)
LOST_TOO_EARLY = datetime(2026, 3, 12, 16, 59, 59, tzinfo=UTC)


def photo(name="box.png", content=None):
    return SimpleUploadedFile(name, content or png_bytes(), content_type="image/png")


def file(merchant, order, shipment, kind="damaged", *, now, photos=None, statement="Crushed"):
    with merchant_scope(merchant):
        return claim_file(
            merchant=merchant,
            order=order,
            shipment=shipment,
            kind=kind,
            statement=statement,
            photos=[photo()] if photos is None else photos,
            now=now,
        )


def refused(code, *args, **kwargs):
    with pytest.raises(DomainError) as caught:
        file(*args, **kwargs)
    assert caught.value.code == code
    assert Claim.unscoped.count() == 0
    assert Event.unscoped.filter(type__startswith="claim.").count() == 0
    return caught.value


def test_a_damage_claim_on_the_last_moment_of_the_window_is_filed(merchant, parcel):
    # given
    order, shipment = parcel()

    # when
    claim = file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)

    # then
    assert (claim.number, claim.reference, claim.kind, claim.state) == (
        1,
        "C-1",
        "damaged",
        "filed",
    )
    assert (claim.customer_id, claim.statement, claim.filed_at) == (
        order.customer_id,
        "Crushed",
        WINDOW_LAST_MOMENT,
    )
    stored = ClaimPhoto.unscoped.get(claim=claim)
    assert (stored.content_type, stored.size) == ("image/png", len(png_bytes()))
    assert stored.file.name.startswith(f"claims/{merchant.pk}/")
    assert stored.file.name.endswith(".png")
    with stored.file.open("rb") as handle:
        assert handle.read() == png_bytes()
    event = Event.unscoped.get(type="claim.filed")
    assert event.customer_id == order.customer_id
    assert {k: v for k, v in event.payload.items() if k != "claim_url"} == {
        "claim_id": claim.pk,
        "number": "C-1",
        "kind": "damaged",
        "state": "filed",
        "order_id": order.pk,
        "order_number": "#ord-1",
        "shipment_id": shipment.pk,
        "tracking_number": "1Z-ord-1",
    }
    assert event.payload["claim_url"].startswith("http")
    assert event.payload["claim_url"].endswith(f"/claim/status/?parcel={shipment.pk}")


def test_a_damage_claim_at_the_merchants_midnight_after_the_window_is_refused(merchant, parcel):
    order, shipment = parcel()
    error = refused("claim_window_closed", merchant, order, shipment, now=WINDOW_CLOSED)
    assert error.message == (
        "Claims can be made up to 15 days after delivery; that time has passed. "
        "Please contact the store."
    )


def test_the_window_is_the_merchants_setting(merchant, parcel):
    protection_settings_update(merchant=merchant, values={"claim_window_days": 1})
    order, shipment = parcel()
    # delivered 4 March (LA); window 1 day: 5 March is the last day, 6 March 00:00 PST closes
    file(merchant, order, shipment, "stolen", now=datetime(2026, 3, 6, 7, 59, tzinfo=UTC))
    Claim.unscoped.all().delete()
    Event.unscoped.filter(type__startswith="claim.").delete()
    refused(
        "claim_window_closed",
        merchant,
        order,
        shipment,
        "stolen",
        now=datetime(2026, 3, 6, 8, 0, tzinfo=UTC),
    )


def test_damage_and_theft_need_a_delivered_parcel(merchant, parcel):
    order, shipment = parcel(delivered=False)
    error = refused("not_delivered", merchant, order, shipment, "stolen", now=LOST_FROM)
    assert error.field == "kind"


def test_lost_after_n_days_without_a_scan_counted_in_the_merchants_zone(merchant, parcel):
    # given: in transit since 10:00 PST on 2 March, never scanned again
    order, shipment = parcel(delivered=False)

    # then: a second before 10:00 PDT on 12 March is too early, 10:00 is not
    error = refused(
        "claim_too_early", merchant, order, shipment, "lost", now=LOST_TOO_EARLY, photos=[]
    )
    assert error.message == (
        "The carrier scanned this parcel recently. If there’s no news by 12 March 2026, you "
        "can report it lost."
    )
    claim = file(merchant, order, shipment, "lost", now=LOST_FROM, photos=[])
    assert (claim.kind, claim.state) == ("lost", "filed")


def test_a_parcel_the_carrier_says_is_lost_is_claimable_at_once(merchant, parcel):
    order, shipment = parcel(
        checkpoints=[
            {"status": "in_transit", "occurred_at": "2026-03-02T18:00:00Z"},
            {"status": "exception", "substatus": "lost", "occurred_at": "2026-03-03T18:00:00Z"},
        ]
    )
    claim = file(
        merchant, order, shipment, "lost", photos=[], now=datetime(2026, 3, 3, 19, 0, tzinfo=UTC)
    )
    assert claim.kind == "lost"


def test_a_delivered_parcel_is_not_lost(merchant, parcel):
    order, shipment = parcel()
    refused("already_delivered", merchant, order, shipment, "lost", now=WINDOW_LAST_MOMENT)


@pytest.mark.parametrize("status", ["refunded", "voided"])
def test_a_refunded_or_voided_order_is_refused(merchant, parcel, status):
    order, shipment = parcel(financial_status=status)
    error = refused("order_refunded", merchant, order, shipment, now=WINDOW_LAST_MOMENT)
    assert error.message == "This order has been cancelled or refunded, so it can’t be claimed."


def test_a_partially_refunded_order_may_be_claimed(merchant, parcel):
    order, shipment = parcel(financial_status="partially_refunded")
    assert file(merchant, order, shipment, now=WINDOW_LAST_MOMENT).state == "filed"


def test_a_cancelled_order_is_refused(merchant, parcel):
    order, shipment = parcel(cancelled_at="2026-03-06T00:00:00Z")
    refused("order_refunded", merchant, order, shipment, now=WINDOW_LAST_MOMENT)


def test_an_order_with_a_return_is_refused(merchant, parcel):
    # given: the returns pillar recorded a return of the order (its event on the spine)
    order, shipment = parcel()
    Event.unscoped.create(
        merchant=merchant,
        customer_id=order.customer_id,
        type="return.requested",
        occurred_at=WINDOW_LAST_MOMENT,
        recorded_at=WINDOW_LAST_MOMENT,
        payload={"order_id": order.pk},
    )
    refused("order_returned", merchant, order, shipment, now=WINDOW_LAST_MOMENT)


def test_an_unprotected_order_is_refused(merchant, parcel):
    order, shipment = parcel(protected=False)
    error = refused("order_not_protected", merchant, order, shipment, now=WINDOW_LAST_MOMENT)
    assert error.message.startswith("This order wasn’t protected at checkout")


def test_protection_matches_the_product_id_too_without_case(merchant, parcel):
    protection_settings_update(merchant=merchant, values={"protection_products": ["PROD-SHOE"]})
    order, shipment = parcel(protected=False)
    assert file(merchant, order, shipment, now=WINDOW_LAST_MOMENT).state == "filed"


def test_a_merchant_that_does_not_offer_protection_refuses(merchant, parcel):
    protection_settings_update(merchant=merchant, values={"offered": False})
    order, shipment = parcel()
    refused("protection_not_offered", merchant, order, shipment, now=WINDOW_LAST_MOMENT)


def test_a_second_claim_on_the_parcel_is_refused_until_the_first_is_rejected(merchant, parcel):
    order, shipment = parcel()
    first = file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)
    with pytest.raises(DomainError) as caught:
        file(merchant, order, shipment, "stolen", now=WINDOW_LAST_MOMENT)
    assert caught.value.code == "already_claimed"
    assert Claim.unscoped.count() == 1
    with merchant_scope(merchant):
        claim_reject(claim=first, message="The photo shows no damage.", now=WINDOW_LAST_MOMENT)
    second = file(merchant, order, shipment, "stolen", now=WINDOW_LAST_MOMENT)
    assert second.number == 2


def test_the_customers_limit_counts_claims_in_the_period_rejected_ones_too(merchant, parcel):
    # given: 2 claims per 365 days; the customer filed two (one rejected)
    orders = [parcel(f"ord-{n}") for n in (1, 2, 3)]
    first = file(merchant, *orders[0], now=WINDOW_LAST_MOMENT)
    with merchant_scope(merchant):
        claim_reject(claim=first, message="No.", now=WINDOW_LAST_MOMENT)
    file(merchant, *orders[1], now=WINDOW_LAST_MOMENT)

    # when / then
    with pytest.raises(DomainError) as caught:
        file(merchant, *orders[2], now=WINDOW_LAST_MOMENT)
    assert caught.value.code == "claim_limit_reached"
    assert Claim.unscoped.count() == 2


def test_the_limit_period_ends(merchant, parcel):
    protection_settings_update(
        merchant=merchant,
        values={"claims_per_customer": 1, "limit_period_days": 10, "claim_window_days": 30},
    )
    (o1, s1), (o2, s2) = parcel("ord-1"), parcel("ord-2")
    filed_at = datetime(2026, 3, 6, 0, 0, tzinfo=UTC)
    file(merchant, o1, s1, now=filed_at)
    with pytest.raises(DomainError):
        file(merchant, o2, s2, now=datetime(2026, 3, 15, 23, 59, 59, tzinfo=UTC))
    # 10 days after it, the first claim has left the period
    claim = file(merchant, o2, s2, now=datetime(2026, 3, 16, 0, 0, tzinfo=UTC))
    assert claim.number == 2


def test_a_damage_claim_needs_a_photo_when_the_merchant_asks(merchant, parcel):
    order, shipment = parcel()
    error = refused("photo_required", merchant, order, shipment, now=WINDOW_LAST_MOMENT, photos=[])
    assert (error.field, error.message) == (
        "photos",
        "Please add at least one photo of the damage.",
    )
    protection_settings_update(merchant=merchant, values={"damage_photo_required": False})
    assert file(merchant, order, shipment, now=WINDOW_LAST_MOMENT, photos=[]).state == "filed"


def test_claim_numbers_are_per_merchant(merchant, parcel, merchant_b):
    order, shipment = parcel()
    assert file(merchant, order, shipment, now=WINDOW_LAST_MOMENT).number == 1
    assert Order.unscoped.filter(merchant=merchant_b).count() == 0


def test_a_filing_that_fails_after_its_photos_are_written_leaves_no_file(
    merchant, parcel, monkeypatch
):
    # given: recording the claim's event fails, after both photos reached the disk
    from tracking.claims import services
    from tracking.claims.storage import claim_photo_storage

    order, shipment = parcel()
    written = []
    real_save = services.ClaimPhoto.save

    def save(row, *args, **kwargs):
        written.append(row.file.name)
        return real_save(row, *args, **kwargs)

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services.ClaimPhoto, "save", save)
    monkeypatch.setattr(services, "_record", fail)

    # when
    with pytest.raises(RuntimeError):
        file(merchant, order, shipment, now=WINDOW_LAST_MOMENT, photos=[photo(), photo()])

    # then
    assert len(written) == 2
    assert [claim_photo_storage().exists(name) for name in written] == [False, False]
    assert Claim.unscoped.count() == 0


def test_a_guest_order_is_held_to_the_limit_on_the_order(merchant, parcel):
    # given: an order without a customer (its customer erased); two claims filed and rejected
    order, shipment = parcel()
    Order.unscoped.filter(pk=order.pk).update(customer=None)
    order.refresh_from_db()
    for _ in range(2):
        claim = file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)
        with merchant_scope(merchant):
            claim_reject(claim=claim, message="No.", now=WINDOW_LAST_MOMENT)

    # when / then
    with pytest.raises(DomainError) as caught:
        file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)
    assert caught.value.code == "claim_limit_reached"
    assert Claim.unscoped.count() == 2
