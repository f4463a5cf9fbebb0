"""A merchant's owner signs in and follows an order to its tracking timeline, in Chromium."""

from datetime import UTC, datetime

import pytest

from orders.services import order_ingest, shipment_ingest
from postpurchase.tenancy.permissions import Role
from tests.dashboard.conftest import PASSWORD, shipment_payload
from tests.factories import MembershipFactory, MerchantFactory, UserFactory, order_payload

NOW = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():
    merchant = MerchantFactory(
        slug="alpha",
        name="Alpha Apparel",
        timezone="America/New_York",
        currency="USD",
        country="US",
    )
    owner = UserFactory(email="owner@alpha.example")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    other = MerchantFactory(slug="bravo", name="Bravo Books")
    MembershipFactory(user=owner, merchant=other, role=Role.VIEWER)
    order_ingest(merchant=merchant, payload=order_payload(currency="USD"), now=NOW)
    shipment_ingest(merchant=merchant, payload=shipment_payload(), now=NOW)
    return merchant


def sign_in(page, live_server):
    page.goto(f"{live_server.url}/app/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_owner_signs_in_and_follows_an_order_to_its_tracking(page, live_server, shop):
    # when: signing in
    sign_in(page, live_server)

    # then: the home page shows the live counts
    page.wait_for_url(f"{live_server.url}/app/")
    assert page.text_content("[data-count=customers]").strip() == "1"
    assert page.text_content("[data-count=orders]").strip() == "1"
    assert page.text_content("[data-count=shipments_in_transit]").strip() == "1"

    # when: opening the order from the orders list
    page.click("nav >> text=Orders")
    page.wait_for_url(f"{live_server.url}/app/orders/")
    page.click("text=#1001")

    # then: lines, shipment and tracking timeline are there
    body = page.text_content("main")
    assert "Trail shoe" in body
    assert "1Z999AA10123456784" in body
    assert "On the van" in body
    assert "Brooklyn, NY" in body


def test_switching_merchant_changes_what_the_dashboard_shows(page, live_server, shop):
    # given
    sign_in(page, live_server)
    page.wait_for_url(f"{live_server.url}/app/")

    # when: the switcher picks Bravo Books (it submits on change)
    page.select_option("select[name=merchant]", label="Bravo Books")
    page.wait_for_load_state("networkidle")

    # then
    assert page.text_content("[data-count=orders]").strip() == "0"
    assert "Bravo Books" in page.text_content("header")
