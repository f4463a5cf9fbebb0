"""The dashboard's Tracking page in Chromium at phone width (390 px) and on a desktop, under the
Content Security Policy: shipments at risk with their page views, a filter, the estimates'
calibration and the delay settings, none wider than the screen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Shipment
from postpurchase.tenancy.permissions import Role
from tests.dashboard.conftest import PASSWORD
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory, UserFactory
from tracking.models import DelayIncident, DelaySettings, ShipmentPageViews

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():
    merchant = MerchantFactory(
        slug="alpha", name="Alpha Apparel", timezone="UTC", currency="USD", country="US"
    )
    MembershipFactory(
        user=UserFactory(email="owner@alpha.example"), merchant=merchant, role=Role.OWNER
    )
    now = timezone.now()
    for n, (carrier, reason, days) in enumerate(
        [
            ("Royal Mail International Tracked & Signed", "no_scan_in_transit", 9),
            ("UPS", "exception", 1),
            ("DHL Express", "past_estimated_delivery", 3),
        ]
    ):
        order = OrderFactory(merchant=merchant, number=f"#10{n:02d}")
        shipment = Shipment.unscoped.create(
            merchant=merchant,
            order=order,
            external_id=f"ful-{n}",
            carrier=carrier,
            tracking_number=f"JD0146000044{n:08d}GB-LONG-REFERENCE",
            status="exception" if reason == "exception" else "in_transit",
            created_at=now - timedelta(days=20),
            delivered_at=None,
        )
        DelayIncident.unscoped.create(
            merchant=merchant,
            order=order,
            shipment=shipment,
            reason=reason,
            since=now - timedelta(days=days + 5),
            delayed_at=now - timedelta(days=days),
            detected_at=now - timedelta(days=days),
        )
        ShipmentPageViews.unscoped.create(
            merchant=merchant, shipment=shipment, day=now.date(), views=n + 4, last_viewed_at=now
        )
    return merchant


def fits(page, width: int) -> bool:
    page.wait_for_load_state("load")
    return page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_a_merchant_reads_the_tracking_pages_without_sideways_scrolling(
    page, live_server, shop, size
):
    # given: signed in
    width = size[0]
    page.set_viewport_size({"width": width, "height": size[1]})
    page.goto(f"{live_server.url}/app/login/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")

    # when: the Tracking page
    page.goto(f"{live_server.url}/app/tracking/")

    # then: three shipments at risk, the longest delayed first, and nothing sideways
    assert fits(page, width)
    orders = [
        cell.strip()
        for cell in page.locator("[data-at-risk] tbody tr td:first-child").all_text_contents()
    ]
    assert orders == ["#1000", "#1002", "#1001"]
    assert page.text_content("[data-count-reason=exception] .num").strip() == "1"

    # when: filtered to carrier exceptions
    page.select_option("select[name=reason]", "exception")
    page.click("button:has-text('Filter')")
    page.wait_for_url(f"{live_server.url}/app/tracking/?reason=exception&carrier=&age=")

    # then
    assert fits(page, width)
    assert page.locator("[data-at-risk] tbody tr").count() == 1
    assert "UPS" in page.text_content("[data-at-risk] tbody")

    # when / then: the calibration and the settings
    page.click("a.tabs__tab:has-text('Estimates')")
    page.wait_for_url(f"{live_server.url}/app/tracking/calibration/")
    assert fits(page, width)
    assert "No delivery with dates shown in the last 90 days yet." in page.text_content("main")

    page.click("a.tabs__tab:has-text('Delay settings')")
    page.wait_for_url(f"{live_server.url}/app/tracking/settings/")
    assert fits(page, width)

    # when: a value out of range is saved
    page.fill("input[name=expired_days]", "3")
    page.click("button:has-text('Save delay settings')")
    page.wait_for_load_state("load")

    # then: refused on its field, nothing saved
    assert fits(page, width)
    assert page.text_content(".field--error .field__error").strip() == (
        "Enter a whole number from 7 to 180."
    )
    assert DelaySettings.unscoped.filter(merchant=shop).exists() is False

    # when: a good one
    page.fill("input[name=expired_days]", "40")
    page.click("button:has-text('Save delay settings')")
    page.wait_for_url(f"{live_server.url}/app/tracking/settings/")

    # then
    assert DelaySettings.unscoped.get(merchant=shop).expired_days == 40
    assert page.csp_violations == []
