"""Every page of the dashboard and of the admin works in Chromium under the Content Security
Policy: each answers with the policy, and no page breaks it (the ``page`` fixture fails the test
on any violation the browser reports). Signing in goes through the throttled forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from journeys.models import Journey
from notifications.services import message_template_save
from orders.models import Order
from orders.services import order_ingest, shipment_ingest
from postpurchase.csp import POLICY
from postpurchase.tenancy.models import User
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
    message_template_save(
        merchant=merchant,
        payload={
            "key": "shipped",
            "name": "Shipped",
            "channel": "email",
            "category": "transactional",
            "kind": "status",
            "default_locale": "en",
            "variants": [
                {
                    "locale": "en",
                    "subject": "Order {{ order.number }} is on its way",
                    "html_body": '<p style="color:#333">Hi {{ customer.first_name }},</p>',
                }
            ],
        },
        now=NOW,
    )
    return merchant


def open_page(page, url: str) -> None:
    response = page.goto(url)
    assert (url, response.status) == (url, 200)
    assert response.headers["content-security-policy"] == POLICY
    page.wait_for_load_state("load")


def test_every_dashboard_page_runs_under_the_policy(page, live_server, shop):
    # given: signed in through the form
    page.goto(f"{live_server.url}/app/login/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")

    # when: a journey is installed (htmx list, then the editor's own script)
    page.click("nav >> text=Journeys")
    page.click("[data-blueprint=win_back] >> text=Install")
    page.wait_for_selector("[data-step]")
    journey = Journey.unscoped.get(merchant=shop, key="win_back")

    # when: every link of the navigation, and the pages behind them
    nav_links = page.eval_on_selector_all("nav a.nav__link", "links => links.map(a => a.href)")
    order = Order.unscoped.get(merchant=shop)
    details = [
        f"/app/orders/{order.pk}/",
        f"/app/journeys/{journey.pk}/",
        "/app/messages/templates/",
    ]
    for url in [*nav_links, *(live_server.url + path for path in details)]:
        open_page(page, url)

    # then: the template editor's live preview (htmx, an email in a srcdoc frame) still works
    page.click("nav >> text=Messages")
    page.click("main >> text=Templates")
    page.click("text=Shipped")
    page.fill("#id_variants-0-subject", "{{ customer.first_name }}, it shipped!")
    expect(page.locator("[data-preview-subject]")).to_have_text("Ada, it shipped!")
    assert len(nav_links) == 16
    assert page.csp_violations == []


def test_every_admin_page_runs_under_the_policy(page, live_server, shop):
    # given: an operator signs in through the admin's own (throttled) form
    User.objects.create_superuser(email="ops@platform.example", password=PASSWORD)
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", "ops@platform.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    # when: every model's list, its add form, and the merchant's change form
    lists = page.eval_on_selector_all(
        "#content-main th[scope=row] a", "links => links.map(a => a.href)"
    )
    adds = page.eval_on_selector_all("#content-main a.addlink", "links => links.map(a => a.href)")
    for url in [*lists, *adds, f"{live_server.url}/admin/tenancy/merchant/{shop.pk}/change/"]:
        open_page(page, url)

    # then: the admin's scripts work (the change list's select-all box ticks every row)
    open_page(page, f"{live_server.url}/admin/tenancy/merchant/")
    page.check("#action-toggle")
    assert page.is_checked("input.action-select")
    assert len(lists) > 10
    assert page.csp_violations == []
