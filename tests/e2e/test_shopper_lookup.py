"""A shopper without a link finds their order on a phone: a wrong email first (the same answer
as no such order), then the right one, on to the order page with the parcel's tracking link, in
Chromium under the shopper pages' Content Security Policy (the ``page`` fixture fails the test
on any violation)."""

import pytest

from postpurchase.shopper.views import SHOPPER_CSP
from tests.factories import MerchantFactory
from tests.shopper.conftest import make_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def order():
    merchant = MerchantFactory(
        slug="alpha",
        name="Alpha Apparel",
        primary_colour="#112233",
        accent_colour="#aa5500",
        support_email="help@alpha.example",
    )
    return make_order(merchant, number="#1001", email="ada@example.net")


def test_shopper_looks_up_an_order_and_sees_its_parcel(page, live_server, order):
    # given: the store's lookup page on a phone-sized screen
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{live_server.url}/s/alpha/")
    assert response.headers["content-security-policy"] == SHOPPER_CSP
    assert page.text_content("h1").strip() == "Find your order"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: a wrong email
    page.fill("input[name=number]", "1001")
    page.fill("input[name=email]", "eve@example.net")
    page.click("text=Find my order")

    # then
    page.wait_for_selector("[data-lookup-error]")
    assert page.text_content("[data-lookup-error]").strip() == (
        "We couldn’t find an order with that number and email address. Check both and try again."
    )

    # when: the right one (the number kept as typed)
    assert page.input_value("input[name=number]") == "1001"
    page.fill("input[name=email]", "ADA@example.net")
    page.click("text=Find my order")

    # then: the order's page, under a signed link
    page.wait_for_selector("[data-page=order]")
    assert "/s/alpha/order/" in page.url
    assert page.text_content("[data-progress]").strip() == "On its way"
    assert page.text_content("[data-parcel-status]").strip() == "In transit"
    link = page.locator("[data-tracking-link]")
    assert link.text_content().strip() == "Track with UPS"
    assert link.get_attribute("href") == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert page.text_content("[data-total]").strip() == "$85.00"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: the same page on a desktop screen
    page.set_viewport_size({"width": 1280, "height": 900})

    # then: one readable column, centred
    box = page.locator("main").bounding_box()
    assert box["width"] == 640  # 40rem
    assert box["x"] == (1280 - 640) / 2
