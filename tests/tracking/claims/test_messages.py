"""What the shopper is told about a claim, through the claim blueprints driven by the engine
with an explicit clock: the receipt at once, the decision (an approval only when no resolution
follows within the hour), the resolution with the replacement order or the refund, each with
the ``claim`` variable read from the claim's own row and its signed page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from journeys.blueprints import journey_blueprint_install
from journeys.services import journey_publish, journeys_handle_event, journeys_tick
from notifications.models import Message
from notifications.rendering import check_source
from postpurchase.events.models import Event
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import MerchantFactory
from tests.tracking.claims.test_decisions import DECIDED, RESOLVED
from tests.tracking.claims.test_filing import WINDOW_LAST_MOMENT, file
from tracking.claims.messages import BLUEPRINTS, claim_variable
from tracking.claims.models import Claim
from tracking.claims.services import claim_approve, claim_reject, claim_resolve

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


@pytest.fixture
def notices(merchant):
    """The four claim blueprints, installed and published as they come."""
    for blueprint in BLUEPRINTS:
        journey = journey_blueprint_install(merchant=merchant, key=blueprint.key, now=DECIDED)
        journey_publish(journey=journey, now=DECIDED)


@pytest.fixture
def claim(merchant, parcel, notices):
    order, shipment = parcel()
    claim = file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)
    handle("claim.filed", now=WINDOW_LAST_MOMENT)
    return claim


def handle(type, *, now):
    """Hand the newest event of ``type`` to the journeys, as the event log would."""
    event = Event.unscoped.filter(type=type).latest("id")
    return journeys_handle_event(event=event, now=now)


def step(merchant, action, claim, now, **kwargs):
    with merchant_scope(merchant):
        return action(claim=claim, now=now, **kwargs)


def told():
    """(template, subject) of each message, fallbacks left out, oldest first."""
    return list(
        Message.unscoped.exclude(idempotency_key__endswith=":fallback")
        .order_by("created_at", "id")
        .values_list("template__key", "subject")
    )


def latest():
    return Message.unscoped.order_by("-created_at", "-id").first()


def test_a_filed_claim_is_answered_at_once_with_its_number_and_signed_page(merchant, claim):
    # then
    assert told() == [("claim_received", "We've received your claim C-1")]
    message = latest()
    assert (message.status, message.to) == ("queued", "cust-1@example.net")
    assert "about the damaged items from order #ord-1" in message.html
    assert f"/s/{merchant.slug}/track/" in message.html
    assert f"?parcel={claim.shipment_id}" in message.text


def test_an_approval_resolved_within_the_hour_sends_the_resolution_only(merchant, claim):
    # given: approved, then resolved by reship half an hour later
    step(merchant, claim_approve, claim, DECIDED, message="Sorry about that!")
    handle("claim.approved", now=DECIDED)
    step(merchant, claim_resolve, claim, DECIDED + HOUR / 2, resolution="reship")
    handle("claim.resolved", now=DECIDED + HOUR / 2)

    # when: the hour has passed
    journeys_tick(now=DECIDED + 2 * HOUR)

    # then: the receipt and the reship, no approval in between
    assert told() == [
        ("claim_received", "We've received your claim C-1"),
        ("claim_resolved", "A replacement is on its way"),
    ]
    assert "we've sent a replacement at no charge (order #ord-1-C-1)" in latest().text


def test_an_approval_left_unresolved_is_told_after_the_hour_with_the_merchants_words(
    merchant, claim
):
    # given
    step(merchant, claim_approve, claim, DECIDED, message="Sorry about that & more!")
    handle("claim.approved", now=DECIDED)

    # when: not before the hour, then after it
    journeys_tick(now=DECIDED + HOUR - timedelta(seconds=1))
    before = told()
    journeys_tick(now=DECIDED + HOUR)

    # then
    assert before == [("claim_received", "We've received your claim C-1")]
    assert told()[1:] == [("claim_approved", "Your claim C-1 is approved")]
    message = latest()
    assert "<p>Sorry about that &amp; more!</p>" in message.html  # the merchant's words, escaped
    assert "Sorry about that & more!" in message.text


def test_a_declined_claim_carries_the_merchants_reason(merchant, claim):
    # when
    step(merchant, claim_reject, claim, DECIDED, message="The box in the photo is not ours.")
    handle("claim.rejected", now=DECIDED)

    # then
    assert told()[1:] == [("claim_rejected", "About your claim C-1")]
    assert "<p>The box in the photo is not ours.</p>" in latest().html


def test_a_refund_names_its_amount(merchant, claim):
    # given
    step(merchant, claim_approve, claim, DECIDED)
    handle("claim.approved", now=DECIDED)

    # when
    refunded = step(merchant, claim_resolve, claim, RESOLVED, resolution="refund")
    handle("claim.resolved", now=RESOLVED)

    # then: one shoe (40.00 less its share of the 5.00 discount) and the cap
    assert refunded.refund_amount == Decimal("57.500")
    assert told()[1:] == [("claim_resolved", "Your refund for claim C-1")]
    assert "we're refunding 57.50 USD to how you paid" in latest().text


def test_the_variable_is_the_claims_row_at_the_send(merchant, claim):
    # given
    memo = {}

    def remember(key, make):
        if key not in memo:
            memo[key] = make()
        return memo[key]

    step(merchant, claim_reject, claim, DECIDED, message="Not covered.")

    # when
    value = claim_variable(merchant=merchant, event={"claim_id": claim.pk}, memo=remember)

    # then
    url = value.pop("url")
    assert url.startswith(f"{settings.SITE_URL}/s/{merchant.slug}/track/")
    assert url.endswith(f"/claim/status/?parcel={claim.shipment_id}")
    assert value == {
        "number": "C-1",
        "kind": "damaged",
        "state": "rejected",
        "message": "Not covered.",
        "resolution": "",
        "refund_amount": "",
        "currency": "USD",
        "replacement_order_number": "",
        "filed_at": WINDOW_LAST_MOMENT,
    }


@pytest.mark.parametrize("event", [{}, {"claim_id": "1"}, {"claim_id": True}, {"order_id": 1}])
def test_a_trigger_naming_no_claim_fills_nothing(merchant, claim, event):
    assert claim_variable(merchant=merchant, event=event, memo=lambda key, make: make()) is None


def test_another_merchants_or_an_erased_claim_fills_nothing(merchant, claim):
    other = MerchantFactory()
    memo = lambda key, make: make()  # noqa: E731 - a run's cache, without the caching
    assert claim_variable(merchant=other, event={"claim_id": claim.pk}, memo=memo) is None
    Claim.unscoped.filter(pk=claim.pk).update(erased_at=DECIDED)
    assert claim_variable(merchant=merchant, event={"claim_id": claim.pk}, memo=memo) is None


def test_a_template_may_name_the_claim_and_is_checked_against_its_sample():
    # the checks run in a render process, which has no Django: the sample travels with them
    assert check_source("{{ claim.number }} {{ claim.replacement_order_number }}", html=False) == []
    [problem] = check_source("{{ claim.numbr }}", html=False)
    assert "numbr" in problem.message
