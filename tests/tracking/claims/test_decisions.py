"""The merchant's steps on a claim: only the allowed transitions (each illegal one refused
naming the state, nothing changed), a reship placing exactly one replacement order at no charge
through the orders engine, a refund recording the parcel's paid value, each with its event."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orders.models import Order, OrderLine
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from postpurchase.tenancy.scoping import merchant_scope
from tests.tracking.claims.test_filing import WINDOW_LAST_MOMENT, file
from tracking.claims.models import Claim
from tracking.claims.services import claim_approve, claim_reject, claim_resolve

pytestmark = pytest.mark.django_db

DECIDED = datetime(2026, 3, 21, 16, 0, tzinfo=UTC)
RESOLVED = datetime(2026, 3, 22, 16, 0, tzinfo=UTC)


@pytest.fixture
def claim(merchant, parcel):
    order, shipment = parcel()
    return file(merchant, order, shipment, now=WINDOW_LAST_MOMENT)


def step(merchant, name, claim, **kwargs):
    action = {"approve": claim_approve, "reject": claim_reject, "resolve": claim_resolve}[name]
    with merchant_scope(merchant):
        return action(claim=claim, **kwargs)


ARGS = {"approve": {}, "reject": {"message": "No."}, "resolve": {"resolution": "refund"}}


@pytest.mark.parametrize(
    ("path", "illegal", "state"),
    [
        ([], "resolve", "filed"),
        (["approve"], "approve", "approved"),
        (["approve"], "reject", "approved"),
        (["reject"], "approve", "rejected"),
        (["reject"], "reject", "rejected"),
        (["reject"], "resolve", "rejected"),
        (["approve", "resolve"], "approve", "resolved"),
        (["approve", "resolve"], "reject", "resolved"),
        (["approve", "resolve"], "resolve", "resolved"),
    ],
)
def test_each_illegal_step_is_refused_naming_the_state(merchant, claim, path, illegal, state):
    # given
    for name in path:
        step(merchant, name, claim, **ARGS[name])
    before = Claim.unscoped.values().get(pk=claim.pk)
    events = Event.unscoped.count()
    orders = Order.unscoped.count()

    # when
    with pytest.raises(DomainError) as caught:
        step(merchant, illegal, claim, **ARGS[illegal])

    # then
    verb = {"approve": "approved", "reject": "rejected", "resolve": "resolved"}[illegal]
    assert caught.value.code == "illegal_transition"
    assert caught.value.message == f"Claim C-1 is {state}: it cannot be {verb}."
    assert Claim.unscoped.values().get(pk=claim.pk) == before
    assert (Event.unscoped.count(), Order.unscoped.count()) == (events, orders)


def test_approve_records_the_message_and_its_event(merchant, claim):
    approved = step(merchant, "approve", claim, message="Sorry about that!", now=DECIDED)
    assert (approved.state, approved.decision_message, approved.decided_at) == (
        "approved",
        "Sorry about that!",
        DECIDED,
    )
    event = Event.unscoped.get(type="claim.approved")
    assert (event.payload["state"], event.payload["message"]) == ("approved", "Sorry about that!")
    assert event.occurred_at == DECIDED


def test_a_rejection_needs_a_message(merchant, claim):
    with pytest.raises(DomainError) as caught:
        step(merchant, "reject", claim, message="  ")
    assert (caught.value.code, caught.value.field) == ("invalid", "message")
    assert Claim.unscoped.get(pk=claim.pk).state == "filed"


def test_reship_places_one_replacement_order_at_no_charge(merchant, claim):
    # given
    step(merchant, "approve", claim, now=DECIDED)

    # when
    resolved = step(merchant, "resolve", claim, resolution="reship", now=RESOLVED)

    # then: the parcel's items (one of the two shoes, the cap), not the protection line
    replacement = Order.unscoped.get(external_id="claim-1")
    assert resolved.replacement_order_id == replacement.pk
    assert (resolved.state, resolved.resolution, resolved.refund_amount) == (
        "resolved",
        "reship",
        None,
    )
    assert (replacement.number, replacement.total, replacement.subtotal, replacement.source) == (
        "#ord-1-C-1",
        Decimal("0.000"),
        Decimal("0.000"),
        "claim",
    )
    assert replacement.customer_id == claim.customer_id
    assert replacement.shipping_address["address1"] == "1 Main St"
    lines = OrderLine.unscoped.filter(order=replacement).order_by("position")
    assert [(line.external_id, line.sku, line.quantity, line.unit_price) for line in lines] == [
        ("shoe", "TS-1", 1, Decimal("0.000")),
        ("cap", "", 1, Decimal("0.000")),
    ]
    assert Event.unscoped.filter(type="order.placed", payload__order_id=replacement.pk).count() == 1
    event = Event.unscoped.get(type="claim.resolved")
    assert {
        key: event.payload[key]
        for key in ("resolution", "replacement_order_id", "refund_amount", "currency", "state")
    } == {
        "resolution": "reship",
        "replacement_order_id": replacement.pk,
        "refund_amount": None,
        "currency": "USD",
        "state": "resolved",
    }


def test_resolving_twice_places_no_second_order(merchant, claim):
    step(merchant, "approve", claim)
    step(merchant, "resolve", claim, resolution="reship")
    with pytest.raises(DomainError):
        step(merchant, "resolve", claim, resolution="reship")
    assert Order.unscoped.filter(source="claim").count() == 1
    assert Event.unscoped.filter(type="claim.resolved").count() == 1


def test_refund_records_what_the_parcels_items_were_paid(merchant, claim):
    # given: one of two shoes (2 x 40.00 - 5.00 discount: 37.50 for one) and a 20.00 cap
    step(merchant, "approve", claim)

    # when
    resolved = step(merchant, "resolve", claim, resolution="refund", now=RESOLVED)

    # then
    assert (resolved.resolution, resolved.refund_amount, resolved.replacement_order_id) == (
        "refund",
        Decimal("57.500"),
        None,
    )
    event = Event.unscoped.get(type="claim.resolved")
    assert (event.payload["refund_amount"], event.payload["replacement_order_id"]) == (
        "57.50",
        None,
    )
    assert Order.unscoped.filter(source="claim").count() == 0


def test_an_unknown_resolution_is_refused_naming_the_field(merchant, claim):
    step(merchant, "approve", claim)
    with pytest.raises(DomainError) as caught:
        step(merchant, "resolve", claim, resolution="credit")
    assert (caught.value.code, caught.value.field) == ("invalid", "resolution")
    assert Claim.unscoped.get(pk=claim.pk).state == "approved"


def test_a_reship_never_overwrites_the_stores_own_order_of_that_id(merchant, claim, parcel):
    # given: the store sent an order whose id is the one a reship would take
    parcel("claim-1")
    step(merchant, "approve", claim, now=DECIDED)
    before = Order.unscoped.values_list("pk", "number", "total", "source").get(
        external_id="claim-1"
    )

    # when
    with pytest.raises(DomainError) as caught:
        step(merchant, "resolve", claim, resolution="reship", now=RESOLVED)

    # then
    assert caught.value.message.startswith("An order with the id claim-1 came from your store")
    assert (
        Order.unscoped.values_list("pk", "number", "total", "source").get(external_id="claim-1")
        == before
    )
    assert Claim.unscoped.get(pk=claim.pk).state == "approved"
