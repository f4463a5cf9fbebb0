"""A customer's erasure blanks their claims' words and deletes their photos (files too); and
what the tracking page offers a parcel (``claim_offer``)."""

from __future__ import annotations

import os
import time

import pytest

from orders.models import Customer
from orders.privacy import customer_erase, customer_export
from postpurchase.tenancy.scoping import merchant_scope
from tests.tracking.claims.test_filing import (
    LOST_TOO_EARLY,
    WINDOW_CLOSED,
    WINDOW_LAST_MOMENT,
    file,
)
from tracking.claims.models import Claim, ClaimPhoto
from tracking.claims.selectors import claim_offer
from tracking.claims.services import claim_reject, protection_settings_update

pytestmark = pytest.mark.django_db(transaction=True)  # the files go once the erasure commits


def test_erasure_blanks_the_claims_words_and_deletes_the_photos(merchant, parcel):
    # given
    order, shipment = parcel()
    claim = file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)
    with merchant_scope(merchant):
        claim_reject(claim=claim, message="Ada, the photo shows no damage.")
    path = ClaimPhoto.unscoped.get().file.path
    assert os.path.exists(path)
    customer = Customer.unscoped.get(pk=order.customer_id)
    assert customer_export(merchant=merchant, customer=customer)["claims"][0]["statement"] == (
        "Crushed"
    )

    # when
    summary = customer_erase(
        merchant=merchant, customer=customer, now=WINDOW_CLOSED, source="dashboard"
    )

    # then
    assert (summary["claims"], summary["claim_photos"]) == (1, 1)
    kept = Claim.unscoped.get(pk=claim.pk)
    assert (kept.statement, kept.decision_message, kept.erased_at) == ("", "", WINDOW_CLOSED)
    assert (kept.number, kept.kind, kept.state) == (1, "damaged", "rejected")
    assert ClaimPhoto.unscoped.count() == 0
    assert not os.path.exists(path)
    # a second erasure changes nothing
    again = customer_erase(
        merchant=merchant, customer=customer, now=WINDOW_CLOSED, source="dashboard"
    )
    assert (again["claims"], again["claim_photos"]) == (0, 0)


def test_the_offer_links_the_form_then_the_claim(merchant, parcel):
    order, shipment = parcel()
    with merchant_scope(merchant):
        url, reason = claim_offer(order, shipment, WINDOW_LAST_MOMENT)
        assert reason == ""
        assert url.startswith("/s/lima/track/")
        assert url.endswith(f"/claim/?parcel={shipment.pk}")
        file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)
        url, reason = claim_offer(order, shipment, WINDOW_LAST_MOMENT)
        assert reason == "claimed"
        assert url.endswith(f"/claim/status/?parcel={shipment.pk}")


@pytest.mark.parametrize(
    ("setup", "now", "reason"),
    [
        ({"offered": False}, WINDOW_LAST_MOMENT, "protection_not_offered"),
        ({"protection_products": ["OTHER"]}, WINDOW_LAST_MOMENT, "order_not_protected"),
        ({}, WINDOW_CLOSED, "claim_window_closed"),
    ],
)
def test_the_offer_says_why_not(merchant, parcel, setup, now, reason):
    order, shipment = parcel()
    protection_settings_update(merchant=merchant, values=setup)
    with merchant_scope(merchant):
        offer = claim_offer(order, shipment, now)
    assert (offer.url, offer.reason) == (None, reason)


def test_the_offer_for_a_parcel_in_transit_says_when(merchant, parcel):
    order, shipment = parcel(delivered=False)
    with merchant_scope(merchant):
        offer = claim_offer(order, shipment, LOST_TOO_EARLY)
    assert (offer.url, offer.reason) == (None, "claim_too_early")
    assert offer.message.endswith("If there’s no news by 12 March 2026, you can report it lost.")


def test_the_tracking_page_links_the_claim_form_with_the_link_it_was_opened_with(
    client, merchant, parcel, monkeypatch
):
    # given: a delivered, protected parcel, its tracking link signed a minute ago (by the wall
    # clock, as links expire), the page's clock on the claim window's last moment
    from django.utils import timezone

    from tracking.links import tracking_token

    order, shipment = parcel()
    monkeypatch.setattr(timezone, "now", lambda: WINDOW_LAST_MOMENT)
    token = tracking_token(merchant_id=merchant.pk, order_id=order.pk, now=time.time() - 60)

    # when
    offered = client.get(f"/s/lima/track/{token}/").content.decode()
    file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)
    claimed = client.get(f"/s/lima/track/{token}/").content.decode()
    protection_settings_update(merchant=merchant, values={"offered": False})
    off = client.get(f"/s/lima/track/{token}/").content.decode()

    # then
    form = f'href="/s/lima/track/{token}/claim/?parcel={shipment.pk}" data-claim-link>'
    assert form + "Report a problem with this parcel</a>" in offered
    status = f'href="/s/lima/track/{token}/claim/status/?parcel={shipment.pk}" data-claim-link>'
    assert status + "See your claim</a>" in claimed
    assert "data-claim-link" not in off
