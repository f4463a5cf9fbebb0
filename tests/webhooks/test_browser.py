"""An owner adds a webhook endpoint, copies its secret, sends a test event and reads the
delivery log, in Chromium (Playwright, Debian's Chromium) against the live server."""

from __future__ import annotations

import os

import pytest

from postpurchase.tenancy.permissions import Role
from tests.dashboard.conftest import PASSWORD
from tests.factories import MembershipFactory, MerchantFactory, UserFactory
from tests.webhooks.conftest import T0, verify
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = os.environ.get("WEBHOOKS_SCREENSHOTS")  # a folder, to look at the pages


def shot(browser_page, name: str) -> None:
    if SCREENSHOTS:
        browser_page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def owner():
    merchant = MerchantFactory(slug="alpha", name="Alpha Apparel", timezone="UTC")
    user = UserFactory(email="owner@alpha.example")
    MembershipFactory(user=user, merchant=merchant, role=Role.OWNER)
    return user


def test_owner_adds_an_endpoint_and_follows_a_test_event_to_the_log(
    page,
    live_server,
    owner,
    receiver,
    enqueued,
    run_queue,
):
    # given: signed in
    page.goto(f"{live_server.url}/app/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")

    # when: adding an endpoint for two event types
    page.click("nav >> text=Webhooks")
    page.wait_for_url(f"{live_server.url}/app/settings/webhooks/")
    page.fill("input[name=url]", receiver.url)
    page.fill("input[name=description]", "ERP sync")
    page.uncheck("input[name=all_events]")
    page.check("input[value='order.placed']")
    page.check("input[value='shipment.delivered']")
    page.click("text=Add endpoint")

    # then: the secret is shown once, and the endpoint is listed as healthy
    secret = page.text_content("[data-new-webhook-secret]").strip()
    endpoint = WebhookEndpoint.unscoped.get()
    assert secret == endpoint.secret
    assert endpoint.event_types == ["order.placed", "shipment.delivered"]
    assert "Healthy" in page.text_content("main")
    shot(page, "webhooks-list")

    # when: sending a test event, which a worker then delivers
    page.click("text=Open the endpoint")
    page.click("text=Send a test event")
    page.wait_for_selector("text=Test event queued")
    run_queue(T0)
    page.reload()

    # then: the receiver got a request it can verify, and the log shows the attempt
    [request] = receiver.requests
    assert verify(secret=secret, headers=request.headers, body=request.body, now=T0)["type"] == (
        "webhook.test"
    )
    page.click("summary")
    log = page.text_content("main")
    assert "webhook.test" in log and "Succeeded" in log and " ms" in log
    shot(page, "webhooks-detail")
