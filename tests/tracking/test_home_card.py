"""The tracking card of the dashboard's home page: its delayed shipments are the shipments the
Tracking page lists as at risk (each once), its orders late to ship the late orders there; a
resolved incident leaves both, another merchant's never count; and the card leads to the page."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client

from orders.models import Shipment
from postpurchase.dashboard.cards import home_cards
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import OrderFactory
from tracking.delays import delays_scan
from tracking.home import home_counts


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# In transit, last scanned on 2 April 12:00 PDT: late from 7 April 12:00 PDT (five days).
CREATED = at("2026-04-01T12:00:00-07:00")
LAST_SCAN = at("2026-04-02T12:00:00-07:00")
SCAN = at("2026-04-07T12:00:00-07:00")


def stalled(shipment_of, merchant, **fields) -> Shipment:
    return shipment_of(
        merchant, status="in_transit", created_at=CREATED, status_changed_at=LAST_SCAN, **fields
    )


def late_order(merchant):
    """Placed on Wednesday 1 April 09:00 PDT, unfulfilled: three business days end on Monday
    6 April, so it is late to ship from Tuesday 7 April 00:00 PDT."""
    return OrderFactory(merchant=merchant, placed_at=at("2026-04-01T09:00:00-07:00"))


@pytest.fixture
def signed_in(member_of):
    """``signed_in(merchant)`` → a dashboard client of a new viewer of ``merchant``."""

    def make(merchant) -> Client:
        client = Client()
        client.force_login(member_of(merchant, Role.VIEWER))
        return client

    return make


def figures(client: Client) -> dict[str, int]:
    return json.loads(client.get("/app/counts/").content)


def at_risk(client: Client) -> tuple[set[int], set[int]]:
    """The shipments and the unshipped orders the Tracking page lists."""
    incidents = client.get("/app/tracking/").context["incidents"]
    return (
        {incident.shipment_id for incident in incidents if incident.shipment_id},
        {incident.order_id for incident in incidents if not incident.shipment_id},
    )


def test_the_card_comes_just_after_the_orders_card():
    # given / when: the apps are loaded
    cards = [card.name for card in home_cards.all()]
    # then
    assert cards[:2] == ["orders", "tracking"]


def test_each_shipment_with_an_open_incident_counts_once_as_on_the_tracking_page(
    merchant_la, signed_in, shipment_of
):
    # given: one parcel late in transit and past its estimate (two incidents), one late in
    # transit, one moving on time, and an order not fulfilled within the promise
    both = stalled(shipment_of, merchant_la, estimated_delivery=date(2026, 4, 5))
    one = stalled(shipment_of, merchant_la)
    shipment_of(merchant_la, status="in_transit", created_at=CREATED, status_changed_at=SCAN)
    order = late_order(merchant_la)
    result = delays_scan(now=SCAN)
    assert (result.counts["no_scan_in_transit"], result.counts["past_estimated_delivery"]) == (2, 1)
    assert result.counts["fulfillment_late"] == 1
    client = signed_in(merchant_la)

    # when
    counts = figures(client)

    # then: what the Tracking page lists, shipments and orders each once
    assert (counts["shipments_delayed"], counts["orders_late_to_ship"]) == (2, 1)
    assert at_risk(client) == ({both.pk, one.pk}, {order.pk})


def test_the_home_page_shows_the_figures_and_leads_to_the_tracking_page(
    merchant_la, signed_in, shipment_of
):
    # given: two parcels late in transit, no late order
    stalled(shipment_of, merchant_la)
    stalled(shipment_of, merchant_la)
    delays_scan(now=SCAN)

    # when
    response = signed_in(merchant_la).get("/app/")

    # then
    html = response.content.decode()
    assert response.context["counts"]["shipments_delayed"] == 2
    assert '<span class="stat__label">Delayed shipments</span>' in html
    assert '<span class="stat__value" data-count="shipments_delayed">2</span>' in html
    assert 'class="stat stat--warning" data-count-warn="shipments_delayed"' in html
    assert '<span class="stat__value" data-count="orders_late_to_ship">0</span>' in html
    assert 'class="stat stat--warning stat--quiet" data-count-warn="orders_late_to_ship"' in html
    assert '<a class="button button--small" href="/app/tracking/">Open Tracking</a>' in html
    assert '<a href="/app/tracking/?reason=fulfillment_late">orders late to ship</a>' in html
    assert "data-no-scan" not in html


def test_a_resolved_incident_no_longer_counts(merchant_la, signed_in, shipment_of):
    # given: two parcels late, and a late order
    delivered = stalled(shipment_of, merchant_la, estimated_delivery=date(2026, 4, 5))
    still_late = stalled(shipment_of, merchant_la)
    order = late_order(merchant_la)
    delays_scan(now=SCAN)
    client = signed_in(merchant_la)
    assert (figures(client)["shipments_delayed"], figures(client)["orders_late_to_ship"]) == (2, 1)

    # when: one parcel arrives, the order ships, and the next scan resolves their incidents
    Shipment.unscoped.filter(pk=delivered.pk).update(
        status="delivered", status_changed_at=SCAN + timedelta(seconds=1)
    )
    type(order).unscoped.filter(pk=order.pk).update(fulfillment_status="fulfilled")
    result = delays_scan(now=SCAN + timedelta(hours=1))

    # then
    assert (result.resolved["ended"], result.resolved["fulfilled"]) == (2, 1)
    counts = figures(client)
    assert (counts["shipments_delayed"], counts["orders_late_to_ship"]) == (1, 0)
    assert at_risk(client) == ({still_late.pk}, set())


def test_another_merchants_incidents_are_not_counted(
    merchant_la, merchant_b, signed_in, shipment_of
):
    # given: Lima has one parcel late; Bravo has two and a late order
    stalled(shipment_of, merchant_la)
    stalled(shipment_of, merchant_b)
    stalled(shipment_of, merchant_b)
    late_order(merchant_b)
    delays_scan(now=SCAN + timedelta(days=1))  # a day on: Berlin's days end nine hours earlier

    # when
    lima = figures(signed_in(merchant_la))
    bravo = figures(signed_in(merchant_b))

    # then
    assert (lima["shipments_delayed"], lima["orders_late_to_ship"]) == (1, 0)
    assert (bravo["shipments_delayed"], bravo["orders_late_to_ship"]) == (2, 1)


def test_the_counts_are_one_query(merchant_la, shipment_of, django_assert_num_queries):
    # given
    stalled(shipment_of, merchant_la)
    delays_scan(now=SCAN)

    # when / then
    with merchant_scope(merchant_la), django_assert_num_queries(1):
        counts = home_counts(today=date(2026, 4, 7))
    assert counts == {"shipments_delayed": 1, "orders_late_to_ship": 0}


def test_an_embedded_install_says_the_scan_does_not_count_delays_there(
    merchant_la, signed_in, monkeypatch
):
    # given: the database is not PostgreSQL (the embedded mode's SQLite)
    client = signed_in(merchant_la)
    monkeypatch.setattr(connection, "vendor", "sqlite")

    # when
    html = client.get("/app/").content.decode()

    # then
    assert "<p data-no-scan>The delay scan runs on PostgreSQL;" in html
    assert '<a class="button button--small" href="/app/tracking/">Open Tracking</a>' in html
