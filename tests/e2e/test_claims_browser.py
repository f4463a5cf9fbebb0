"""Package protection end to end in Chromium: a shopper on a phone opens the tracking page from
the shipping email's link, sees the parcel's checkpoints, follows its claim link, files a damage
claim with a photo, and sees it filed; the merchant's owner signs in, sees the photo, approves
the claim and reships it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order
from orders.services import order_ingest, shipment_ingest
from postpurchase.shopper.views import SHOPPER_CSP
from postpurchase.tenancy.permissions import Role
from tests.dashboard.conftest import PASSWORD
from tests.factories import MembershipFactory, MerchantFactory, UserFactory
from tests.tracking.claims.conftest import PROTECTION_SKU, order_payload, png_bytes
from tracking.claims.models import Claim
from tracking.claims.services import protection_settings_update
from tracking.links import tracking_page_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def delivered():
    """A protected order of Alpha Apparel, its parcel delivered yesterday."""
    merchant = MerchantFactory(
        slug="alpha", name="Alpha Apparel", timezone="America/New_York", currency="USD"
    )
    owner = UserFactory(email="owner@alpha.example")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    protection_settings_update(
        merchant=merchant, values={"offered": True, "protection_products": [PROTECTION_SKU]}
    )
    now = timezone.now()
    order = order_ingest(
        merchant=merchant,
        payload=order_payload("ord-1", placed_at=(now - timedelta(days=4)).isoformat()),
        now=now,
    ).instance
    shipment = shipment_ingest(
        merchant=merchant,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1",
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "lines": [
                {"line_external_id": "shoe", "quantity": 2},
                {"line_external_id": "cap", "quantity": 1},
            ],
            "checkpoints": [
                {"status": "in_transit", "occurred_at": (now - timedelta(days=3)).isoformat()},
                {"status": "delivered", "occurred_at": (now - timedelta(days=1)).isoformat()},
            ],
        },
        now=now,
    ).instance
    return merchant, order, shipment


def test_a_shopper_files_a_damage_claim_and_the_merchant_reships_it(
    page, live_server, delivered, tmp_path
):
    merchant, order, shipment = delivered
    # given: the tracking link of the parcel's shipping email, opened on a phone
    url = tracking_page_url(merchant=merchant, order_id=order.pk, shipment_id=shipment.pk)
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{live_server.url}{url[url.index('/s/') :]}", wait_until="load")
    assert response.headers["content-security-policy"] == SHOPPER_CSP
    assert page.text_content("h1").strip() == "Delivered"
    assert page.locator("[data-checkpoint]").count() == 2

    # when: the shopper follows the page's claim link
    with page.expect_navigation(wait_until="load"):
        page.click("[data-claim-link]")

    # then
    assert page.text_content("h1").strip() == "Report a problem with your parcel"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: the shopper reports damage with a photo
    page.check("input[name=kind][value=damaged]")
    page.fill("textarea[name=statement]", "The box was crushed and one shoe is torn.")
    page.set_input_files(
        "input[name=photos]",
        files=[{"name": "box.png", "mimeType": "image/png", "buffer": png_bytes()}],
    )
    page.click("text=Send my claim")

    # then: the claim's page
    page.wait_for_selector("[data-page=claim]")
    assert page.text_content("h1").strip() == "We’ve got your claim"
    assert page.text_content("[data-claim-kind]").strip() == "Damaged"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    claim = Claim.unscoped.get()
    assert (claim.kind, claim.state, claim.photos.count()) == ("damaged", "filed", 1)

    # when: the merchant's owner signs in and opens the claim
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/app/tracking/claims/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("text=C-1")
    # the 1x1 photo, served to the member
    width = page.eval_on_selector(
        "[data-claim-photo]", "img => img.decode().then(() => img.naturalWidth)"
    )
    assert width == 1
    page.click("button[value=approve]")
    page.wait_for_selector("[data-resolve-form]")
    page.click("button[value=reship]")

    # then: one replacement order at no charge, and the shopper's page says so
    page.wait_for_selector("[data-resolution]")
    replacement = Order.unscoped.get(external_id="claim-1")
    assert page.text_content("[data-resolution]").strip().startswith("Reshipped: order #ord-1-C-1")
    assert replacement.total == 0
    claim.refresh_from_db()
    assert (claim.state, claim.resolution, claim.replacement_order_id) == (
        "resolved",
        "reship",
        replacement.pk,
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}{url[url.index('/s/') :]}", wait_until="load")
    with page.expect_navigation(wait_until="load"):
        page.click("[data-claim-link]")  # the tracking page now leads to the claim
    page.wait_for_selector("[data-page=claim]")
    assert page.text_content("h1").strip() == "Your claim is settled"
    assert "A replacement is on its way" in page.text_content("[data-claim-next]")
