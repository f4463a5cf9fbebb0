"""An owner installs a blueprint in Chromium, adds a step to its draft through the forms, saves
it and publishes it."""

from __future__ import annotations

import os

import pytest

from journeys.models import Journey
from postpurchase.tenancy.permissions import Role
from tests.dashboard.conftest import PASSWORD
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
SCREENSHOTS = os.environ.get("JOURNEYS_SCREENSHOTS")  # a folder, to look at the pages


def shot(browser_page, name: str) -> None:
    if SCREENSHOTS:
        browser_page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


@pytest.fixture
def merchant():
    merchant = MerchantFactory(slug="alpha", name="Alpha Apparel", timezone="UTC")
    user = UserFactory(email="owner@alpha.example")
    MembershipFactory(user=user, merchant=merchant, role=Role.OWNER)
    return merchant


def test_installing_a_blueprint_adding_a_step_saving_and_publishing(page, live_server, merchant):
    # given: signed in, on the journeys page
    page.goto(f"{live_server.url}/app/")
    page.fill("input[name=username]", "owner@alpha.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/app/")
    page.click("nav >> text=Journeys")
    page.wait_for_url(f"{live_server.url}/app/journeys/")
    assert "No journeys yet." in page.inner_text("main")
    shot(page, "list")

    # when: installing the win-back blueprint
    page.click("[data-blueprint=win_back] >> text=Install")

    # then: its draft opens in the editor, with the fields of its trigger type only
    page.wait_for_selector("text=“Win-back” installed as a draft.")
    journey = Journey.unscoped.get(merchant=merchant, key="win_back")
    assert page.url == f"{live_server.url}/app/journeys/{journey.pk}/"
    assert page.input_value("#id_trigger-type") == "inactivity"
    assert page.input_value("#id_trigger-days") == "60"
    assert page.is_hidden("#id_trigger-event")
    assert page.locator("[data-step]").count() == 3
    shot(page, "editor")

    # when: adding a tag step after the last one
    page.select_option("#new-step", "action")
    page.click("text=Add step")
    page.wait_for_selector("[data-editor-note]")
    assert page.locator("[data-step]").count() == 4
    assert page.input_value("#id_steps-2-next") == "action_4"
    page.fill("#id_steps-3-tag", "won-back")
    page.click("text=Save draft")

    # then
    page.wait_for_selector("text=Draft saved. Publish it to start it.")
    journey.refresh_from_db()
    assert journey.draft["steps"][-1] == {
        "id": "action_4",
        "type": "action",
        "action": "add_tag",
        "tag": "won-back",
    }
    assert journey.status == "draft"

    # when: publishing it, through the confirmation step that counts who would enter now
    page.click("[data-publish]")
    page.wait_for_selector("[data-publish-preview]")
    assert page.text_content("[data-preview=customers]") == "0"  # no one's 60th quiet day
    shot(page, "publish-confirmation")
    page.click("text=Publish now")

    # then
    page.wait_for_selector("text=Published as version 1")
    assert page.text_content("[data-journey-status]") == "Live"
    journey.refresh_from_db()
    assert (journey.status, journey.live_version.number) == ("live", 1)
    assert [step["id"] for step in journey.live_version.definition["steps"]] == [
        "first_touch",
        "pause",
        "second_touch",
        "action_4",
    ]
    assert "Add tag won-back → end" in page.inner_text("[data-live-steps]")
    shot(page, "published")

    # when: back on the list
    page.click("nav >> text=Journeys")
    # then
    row = page.locator("[data-journey-row=win_back]")
    assert "Live" in row.inner_text()
    assert "60 days without an order, at 10:00" in row.inner_text()
