"""Publishing, pausing and resuming a journey from its page, and what a viewer may do: read the
journey without the means to change it, and neither change nor create one."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from journeys.models import JourneyVersion
from journeys.services import journey_save
from postpurchase.tenancy.permissions import Role
from tests.journeys.dashboard_helpers import DEFINITION, journey_rows, make_journey

# --- publish, pause, resume -------------------------------------------------------------------


def test_publishing_makes_the_draft_version_2(owner, owner_a, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    journey_save(
        merchant=merchant_a,
        key="welcome",
        name="Welcome",
        definition={**DEFINITION, "holdout_percent": 0},
        journey=journey,
    )
    # when
    response = owner.post(reverse("dashboard:journey_publish", args=[journey.pk]))
    # then
    assert response["Location"] == reverse("dashboard:journey_detail", args=[journey.pk])
    journey.refresh_from_db()
    version = journey.live_version
    assert (version.number, version.published_by, journey.status) == (2, owner_a, "live")
    assert version.definition["holdout_percent"] == 0
    assert JourneyVersion.unscoped.filter(journey=journey).count() == 2
    page = owner.get(response["Location"])
    assert "Published as version 2" in page.content.decode()


def test_a_draft_sending_a_missing_template_is_not_published(owner, merchant_a, templates_a):
    # given
    steps = [{"id": "hello", "type": "send", "template": "nope"}]
    definition = {**DEFINITION, "start": "hello", "steps": steps}
    journey = make_journey(merchant_a, definition=definition, publish=False)
    before = journey_rows()
    # when
    response = owner.post(reverse("dashboard:journey_publish", args=[journey.pk]), follow=True)
    # then
    assert "Not published: No such message template: nope." in response.content.decode()
    assert journey_rows() == before


def test_pausing_and_resuming_a_live_journey(owner, merchant_a, templates_a):
    # given
    journey = make_journey(merchant_a)
    # when
    owner.post(reverse("dashboard:journey_pause", args=[journey.pk]))
    # then
    journey.refresh_from_db()
    assert journey.status == "paused"
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk])).content.decode()
    assert f'action="/app/journeys/{journey.pk}/resume/"' in page
    # when
    owner.post(reverse("dashboard:journey_resume", args=[journey.pk]))
    # then
    journey.refresh_from_db()
    assert (journey.status, journey.live_version.number) == ("live", 1)


@pytest.mark.parametrize(("status", "action"), [("draft", "pause"), ("live", "resume")])
def test_pausing_or_resuming_from_another_status_changes_nothing(
    status, action, owner, merchant_a, templates_a
):
    # given
    journey = make_journey(merchant_a, publish=status == "live")
    before = journey_rows()
    # when
    response = owner.post(reverse(f"dashboard:journey_{action}", args=[journey.pk]), follow=True)
    # then
    assert f"Only a {'live' if action == 'pause' else 'paused'} journey" in (
        response.content.decode()
    )
    assert journey_rows() == before


# --- what a viewer may do ---------------------------------------------------------------------


def test_a_viewer_reads_the_journey_without_the_means_to_change_it(
    merchant_a, member_of, signed_in, templates_a
):
    # given
    journey = make_journey(merchant_a)
    viewer = signed_in(member_of(merchant_a, Role.VIEWER))
    # when
    response = viewer.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "your role cannot change it" in html
    assert '<fieldset class="plain stack" disabled>' in html
    for action in ("json", "publish", "pause"):
        assert f'action="/app/journeys/{journey.pk}/{action}/"' not in html
    assert "Save draft" not in html and "Add step" not in html


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("journey_save", {"name": "Sneaky", "key": "welcome", "steps-TOTAL": "0"}),
        ("journey_json_save", {"definition": json.dumps(DEFINITION)}),
        ("journey_publish", {}),
        ("journey_pause", {}),
        ("journey_resume", {}),
    ],
)
def test_a_viewer_cannot_change_a_journey(
    name, body, merchant_a, member_of, signed_in, templates_a
):
    # given
    journey = make_journey(merchant_a)
    viewer = signed_in(member_of(merchant_a, Role.VIEWER))
    before = journey_rows()
    # when
    response = viewer.post(reverse(f"dashboard:{name}", args=[journey.pk]), body)
    # then
    assert response.status_code == 403
    assert journey_rows() == before


def test_a_viewer_cannot_create_a_journey_or_install_a_blueprint(
    merchant_a, member_of, signed_in, templates_a
):
    # given
    viewer = signed_in(member_of(merchant_a, Role.VIEWER))
    before = journey_rows()
    # when
    created = viewer.post(reverse("dashboard:journey_create"), {"name": "x", "key": "x"})
    installed = viewer.post(reverse("dashboard:journey_blueprint_install"), {"key": "win_back"})
    # then
    assert (created.status_code, installed.status_code) == (403, 403)
    assert journey_rows() == before
