"""``manage.py journey_blueprint_publish``: what ./scripts/run calls after seeding the demo."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from journeys.models import Journey
from journeys.services import journey_set_status

pytestmark = pytest.mark.django_db


def run(merchant) -> str:
    out = StringIO()
    call_command(
        "journey_blueprint_publish",
        merchant=merchant.slug,
        blueprint="order_confirmation",
        stdout=out,
    )
    return out.getvalue().strip()


def test_installs_and_publishes_once_and_leaves_a_paused_journey_paused(merchant_a):

    # when
    first = run(merchant_a)
    journey = Journey.unscoped.get(merchant=merchant_a, key="order_confirmation")
    status_after_first = journey.status
    journey_set_status(journey=journey, status="paused")
    second = run(merchant_a)

    # then
    assert first == "Journey 'order_confirmation': installed and published."
    assert status_after_first == "live"
    assert second == "Journey 'order_confirmation': already there (paused)."
    assert Journey.unscoped.get(pk=journey.pk).status == "paused"


def test_an_unknown_merchant_is_an_error():
    with pytest.raises(CommandError, match="No merchant 'nobody'"):
        call_command("journey_blueprint_publish", merchant="nobody", blueprint="order_confirmation")
