"""A merchant erases a customer's personal data from the dashboard, in Chromium at phone and
desktop sizes under the Content Security Policy: from the order's customer card, through the
confirmation page, to the flash message on the order page; and downloads their data first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orders.models import Customer, Order
from orders.services import order_ingest, shipment_ingest
from postpurchase.tenancy.permissions import Role
from tests.dashboard.conftest import PASSWORD, shipment_payload
from tests.factories import MembershipFactory, MerchantFactory, UserFactory, order_payload

pytestmark = pytest.mark.django_db(transaction=True)
NOW = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)


@pytest.fixture
def shop():
    merchant = MerchantFactory(
        slug="alpha", name="Alpha Apparel", timezone="UTC", currency="USD", country="US"
    )
    owner = UserFactory(email="owner@alpha.example")
    MembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    order_ingest(merchant=merchant, payload=order_payload(currency="USD"), now=NOW)
    shipment_ingest(merchant=merchant, payload=shipment_payload(), now=NOW)
    return merchant


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)], ids=["phone", "desktop"])
def test_a_merchant_downloads_then_erases_a_customers_data(page, live_server, shop, size):
    # given: signed in, on the order's page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{live_server.url}/app/login/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")
    order = Order.unscoped.get(merchant=shop)
    order_page = f"{live_server.url}/app/orders/{order.pk}/"
    page.goto(order_page)

    # when: the export
    with page.expect_download() as download:
        page.click("text=Export data")

    # then
    exported = json.loads(Path(download.value.path()).read_text())
    assert [c["email"] for c in exported["customers"]] == ["ada@example.net"]

    # when: the erasure, through its confirmation
    page.click("text=Erase personal data…")
    page.wait_for_selector("h1:has-text('Erase Ada Lovelace')")
    page.click("button:has-text('Erase personal data')")
    page.wait_for_url(order_page)

    # then
    flash = page.text_content(".messages").strip()
    assert flash.startswith(f"Customer #{order.customer_id}'s personal data is erased (")
    assert "Name not given" in page.text_content("main")
    assert Customer.unscoped.values_list("email", "first_name").get() == ("", "")
    assert page.csp_violations == []
