"""An owner edits a message template in Chromium and watches the live preview follow, at both
widths, then saves it as a new version."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from notifications.models import MessageTemplate
from notifications.services import message_template_save
from postpurchase.tenancy.permissions import Role
from tests.dashboard.conftest import PASSWORD
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = os.environ.get("MESSAGES_SCREENSHOTS")  # a folder, to look at the pages
T0 = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)


def shot(browser_page, name: str) -> None:
    if SCREENSHOTS:
        browser_page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def template():
    merchant = MerchantFactory(slug="alpha", name="Alpha Apparel", timezone="UTC")
    user = UserFactory(email="owner@alpha.example")
    MembershipFactory(user=user, merchant=merchant, role=Role.OWNER)
    return message_template_save(
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
                    "html_body": "<p>Hi {{ customer.first_name }},</p>",
                }
            ],
        },
        now=T0,
    )


def frame_text(page) -> str:
    return page.frame_locator("[data-email-frame]").locator("body").inner_text()


def test_editing_a_template_updates_the_live_preview(page, live_server, template):
    # given: signed in, on the messages pages
    page.goto(f"{live_server.url}/app/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")
    page.click("nav >> text=Messages")
    page.wait_for_url(f"{live_server.url}/app/messages/")
    page.click("main >> text=Templates")
    page.click("text=Shipped")
    page.wait_for_url(f"{live_server.url}/app/messages/templates/{template.pk}/")
    assert page.text_content("[data-preview-subject]") == "Order #1001 is on its way"
    assert "Hi Ada," in frame_text(page)
    shot(page, "editor")

    # when: typing a new subject and body, without saving
    page.fill("#id_variants-0-subject", "{{ customer.first_name }}, it shipped!")
    page.fill("#id_variants-0-html_body", "<p>Your parcel left {{ merchant.name }} today.</p>")

    # then: the preview follows, once typing pauses
    # (Playwright's locator assertions: its wait_for_function evaluates a string, which the
    # dashboard's CSP refuses, as it should.)
    expect(page.locator("[data-preview-subject]")).to_have_text("Ada, it shipped!")
    expect(page.frame_locator("[data-email-frame]").locator("body")).to_contain_text(
        "Your parcel left Alpha Apparel today."
    )
    assert "Your parcel left Alpha Apparel today." in frame_text(page)
    assert page.eval_on_selector("[data-email-frame]", "f => f.offsetWidth") == 600

    # when: switching to the phone width
    page.click("text=Mobile (375 px)")
    # then
    assert page.eval_on_selector("[data-email-frame]", "f => f.offsetWidth") == 375
    shot(page, "editor-mobile")

    # when: a typo in a variable
    page.fill("#id_variants-0-subject", "{{ custmer.first_name }}")
    # then: the preview says what is wrong instead
    page.wait_for_selector("[data-preview-problems]")
    assert "unknown variable 'custmer'" in page.text_content("[data-preview-problems]")

    # when: fixing it and saving
    page.fill("#id_variants-0-subject", "{{ customer.first_name }}, it shipped!")
    page.click("text=Save as version 2")
    # then
    page.wait_for_selector("text=Saved as version 2")
    template = MessageTemplate.unscoped.get(pk=template.pk)
    assert template.current_version.number == 2
    assert template.current_version.variants.get().subject == (
        "{{ customer.first_name }}, it shipped!"
    )
