"""A shopper without a link finds their order on a phone: a wrong email first (the same answer
as no such order), then the right one, on to the order page with the parcel's tracking link; a
gift's recipient finds it by the postcode it ships to, typed their own way. In Chromium under
the shopper pages' Content Security Policy (the ``page`` fixture fails the test on any
violation)."""

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
    return make_order(merchant, number="#1001", email="ada@example.net", postal_code="SW1A 1AA")


NOT_FOUND = (
    "We couldn’t find an order with that number and email address or postal code. "
    "Check both and try again."
)


def test_shopper_looks_up_an_order_and_sees_its_parcel(page, live_server, order):
    # given: the store's lookup page on a phone-sized screen
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{live_server.url}/s/alpha/")
    assert response.headers["content-security-policy"] == SHOPPER_CSP
    assert page.text_content("h1").strip() == "Find your order"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: a wrong email
    page.fill("input[name=number]", "1001")
    page.fill("input[name=contact]", "eve@example.net")
    page.click("text=Find my order")

    # then
    page.wait_for_selector("[data-lookup-error]")
    assert page.text_content("[data-lookup-error]").strip() == NOT_FOUND

    # when: the right one (the number kept as typed)
    assert page.input_value("input[name=number]") == "1001"
    page.fill("input[name=contact]", "ADA@example.net")
    page.click("text=Find my order")

    # then: the order's tracking page, under a signed link
    page.wait_for_selector("[data-page=tracking]")
    assert "/s/alpha/track/" in page.url
    assert page.text_content("h1").strip() == "On its way"
    link = page.locator("[data-carrier-link]")
    assert link.text_content().strip() == "See it on UPS’s site"
    assert link.get_attribute("href") == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert page.text_content("[data-item]").strip() == "2 × Trail shoe"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: the same page on a desktop screen
    page.set_viewport_size({"width": 1280, "height": 900})

    # then: one readable column, centred
    box = page.locator("main").bounding_box()
    assert box["width"] == 640  # 40rem
    assert box["x"] == (1280 - 640) / 2


def test_a_gift_recipient_looks_up_the_order_by_its_postcode(page, live_server, order):
    # given: the lookup page on a phone-sized screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/s/alpha/")
    assert page.text_content("label[for=id_contact]").strip() == "Email or postal code"

    # when: a wrong postcode
    page.fill("input[name=number]", "#1001")
    page.fill("input[name=contact]", "SW1A 2AA")
    page.click("text=Find my order")

    # then: the same answer as a wrong email
    page.wait_for_selector("[data-lookup-error]")
    assert page.text_content("[data-lookup-error]").strip() == NOT_FOUND
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # when: the right one, typed in lower case without its space
    page.fill("input[name=contact]", "sw1a1aa")
    page.click("text=Find my order")

    # then: the order's tracking page
    page.wait_for_selector("[data-page=tracking]")
    assert "/s/alpha/track/" in page.url
    assert page.text_content("[data-tracking-number]").strip() == "1Z999AA10123456784"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
