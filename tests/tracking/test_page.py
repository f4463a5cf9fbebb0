"""The shopper's tracking page (tracking/shopper_views.py, tracking/page.py): a parcel's place on
the bar, its arrival in words, its checkpoints in the shopper's time zone, a tab per parcel, the
notice when something is wrong, view counts, and the link messages carry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from orders.models import Shipment, ShipmentLine, ShipmentStatus, TrackingEvent
from postpurchase.shopper.tokens import link_read
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory
from tracking import counters
from tracking.links import TRACKING_PAGE, tracking_page_url, tracking_token, tracking_url_make
from tracking.models import DelayIncident, DelayReason, ShipmentPageViews
from tracking.page import arrival_words, shopper_zone

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # 10:00 in New York


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def order_of(merchant, *, number="#1001", tz="", country=""):
    customer = CustomerFactory(merchant=merchant, email="ada@example.net", timezone=tz)
    address = {"city": "Leeds", "country_code": country} if country else {}
    order = OrderFactory(
        merchant=merchant,
        customer=customer,
        number=number,
        placed_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        shipping_address=address,
        currency="USD",
        fulfillment_status="fulfilled",
    )
    shoe = OrderLineFactory(order=order, title="Trail shoe", quantity=2, position=0)
    OrderLineFactory(order=order, title="Wool socks", quantity=1, position=1)
    return order, shoe


def parcel(order, n=1, *, status=ShipmentStatus.IN_TRANSIT, **fields):
    return Shipment.unscoped.create(
        merchant=order.merchant,
        order=order,
        external_id=f"shp-{order.pk}-{n}",
        carrier="UPS",
        tracking_number=f"1Z99{n}",
        tracking_url=f"https://www.ups.com/track?tracknum=1Z99{n}",
        status=status,
        created_at=NOW - timedelta(days=3, hours=-n),
        **fields,
    )


def scan(shipment, at, status=ShipmentStatus.IN_TRANSIT, description="", location=""):
    return TrackingEvent.unscoped.create(
        merchant=shipment.merchant,
        shipment=shipment,
        status=status,
        description=description,
        location=location,
        occurred_at=at,
    )


def page_path(order, query=""):
    token = tracking_token(merchant_id=order.merchant_id, order_id=order.pk)
    return f"/s/{order.merchant.slug}/track/{token}/{query}"


def test_the_page_shows_where_the_parcel_is_its_checkpoints_and_its_items(
    client, merchant_a, frozen
):
    # given: a parcel in transit, expected Thursday 5 to Monday 9 March, with two scans
    order, shoe = order_of(merchant_a, tz="America/Chicago")
    shipment = parcel(
        order,
        service="Ground",
        estimate_earliest=date(2026, 3, 5),
        estimate_latest=date(2026, 3, 9),
    )
    ShipmentLine.unscoped.create(
        merchant=merchant_a, shipment=shipment, order_line=shoe, quantity=2
    )
    scan(
        shipment,
        datetime(2026, 3, 3, 4, 30, tzinfo=UTC),
        description="Departed facility",
        location="Louisville, KY",
    )
    scan(
        shipment,
        datetime(2026, 3, 4, 13, 5, tzinfo=UTC),
        description="Arrived at facility",
        location="Chicago, IL",
    )

    # when
    response = client.get(page_path(order))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<title>Order #1001 · Alpha Apparel</title>" in body
    assert "<h1 data-headline>On its way</h1>" in body
    assert '<p class="arrival" data-arrival>Arriving Thu 5 – Mon 9 March</p>' in body
    assert 'aria-current="step" data-step><span class="progress__label">On its way' in body
    assert body.count("progress__step is-done") == 3  # ordered, ready, on its way
    assert "<dd data-carrier>UPS · Ground</dd>" in body
    assert '<dd class="mono" data-tracking-number>1Z991</dd>' in body
    assert 'href="https://www.ups.com/track?tracknum=1Z991" rel="noopener noreferrer"' in body
    # the shopper's own zone (Chicago, UTC-6): 04:30 UTC on the 3rd is 22:30 on the 2nd
    assert "Times in America/Chicago" in body
    assert '<h3 class="timeline__date">Wednesday 4 March</h3>' in body
    assert '<h3 class="timeline__date">Monday 2 March</h3>' in body
    assert ">07:05</time>" in body
    assert ">22:30</time>" in body
    assert body.index("Arrived at facility") < body.index("Departed facility")
    assert '<p class="muted">Chicago, IL</p>' in body
    assert '<h2 id="items-title">In this parcel</h2>' in body
    assert "2 × Trail shoe" in body
    assert "Wool socks" not in body  # in the order, not in this parcel
    assert "<script" not in body
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("earliest", "latest", "status", "delivered_at", "words", "late"),
    [
        (
            date(2026, 3, 5),
            date(2026, 3, 9),
            "in_transit",
            None,
            "Arriving Thu 5 – Mon 9 March",
            False,
        ),
        (
            date(2026, 3, 30),
            date(2026, 4, 2),
            "in_transit",
            None,
            "Arriving Mon 30 March – Thu 2 April",
            False,
        ),
        (date(2026, 3, 6), date(2026, 3, 6), "in_transit", None, "Arriving Friday 6 March", False),
        (date(2026, 3, 2), date(2026, 3, 4), "out_for_delivery", None, "Arriving today", False),
        (
            date(2026, 3, 3),
            date(2026, 3, 6),
            "in_transit",
            None,
            "Arriving Wed 4 – Fri 6 March",
            False,
        ),
        (
            date(2026, 3, 1),
            date(2026, 3, 3),
            "in_transit",
            None,
            "Expected by Tuesday 3 March",
            True,
        ),
        (None, None, "in_transit", None, "", False),
        (
            date(2026, 3, 1),
            date(2026, 3, 3),
            "delivered",
            datetime(2026, 3, 4, 3, 0, tzinfo=UTC),  # 22:00 on the 3rd in New York
            "Delivered Tuesday 3 March",
            False,
        ),
        (date(2026, 3, 1), date(2026, 3, 3), "returned_to_sender", None, "", False),
    ],
)
def test_the_arrival_in_words(earliest, latest, status, delivered_at, words, late):
    # given: today is Wednesday 4 March in New York
    shipment = Shipment(
        status=status,
        estimate_earliest=earliest,
        estimate_latest=latest,
        delivered_at=delivered_at,
    )

    # when / then
    zone = ZoneInfo("America/New_York")
    assert arrival_words(shipment, date(2026, 3, 4), zone) == (words, late)


@pytest.mark.parametrize(
    ("customer_tz", "country", "zone"),
    [
        ("Asia/Tokyo", "GB", "Asia/Tokyo"),  # the customer's own first
        ("", "GB", "Europe/London"),  # a country of one zone
        ("", "US", "America/New_York"),  # many zones: the merchant's
        ("Not/AZone", "", "America/New_York"),
    ],
)
def test_the_shoppers_time_zone(merchant_a, customer_tz, country, zone):
    order, _ = order_of(merchant_a, tz=customer_tz, country=country)
    assert str(shopper_zone(order, merchant_a)) == zone


def test_each_parcel_has_its_tab_and_a_foreign_parcel_falls_back_to_the_first(
    client, merchant_a, merchant_b, frozen
):
    # given
    order, _ = order_of(merchant_a)
    parcel(order, 1, status=ShipmentStatus.DELIVERED, delivered_at=NOW - timedelta(days=1))
    second = parcel(order, 2, status=ShipmentStatus.OUT_FOR_DELIVERY)
    other_order, _ = order_of(merchant_b, number="#2001")
    foreign = parcel(other_order, 9)

    # when
    chosen = client.get(page_path(order, f"?parcel={second.pk}")).content.decode()
    default = client.get(page_path(order)).content.decode()
    stranger = client.get(page_path(order, f"?parcel={foreign.pk}")).content.decode()

    # then
    assert "Order #1001 · Parcel 2 of 2" in chosen
    assert "<h1 data-headline>Out for delivery</h1>" in chosen
    assert chosen.count("data-tab>") == 2
    assert f'?parcel={second.pk}" aria-current="page" data-tab>Parcel 2' in chosen
    assert "Order #1001 · Parcel 1 of 2" in default
    assert "<h1 data-headline>Delivered</h1>" in default
    assert "Order #1001 · Parcel 1 of 2" in stranger
    assert "1Z999" not in stranger


def test_an_order_not_shipped_yet_shows_its_items_and_the_first_step(client, merchant_a):
    order, _ = order_of(merchant_a)

    body = client.get(page_path(order)).content.decode()

    assert "<h1 data-headline>We’re preparing your order</h1>" in body
    assert 'aria-current="step" data-step><span class="progress__label">Ordered' in body
    assert '<h2 id="items-title">Your order</h2>' in body
    assert "1 × Wool socks" in body
    assert "data-timeline" not in body


@pytest.mark.parametrize(
    ("status", "substatus", "words"),
    [
        ("exception", "address", "The carrier can’t deliver to the address on the order."),
        ("exception", "customs", "Your parcel is held at customs."),
        ("exception", "", "The carrier reports a problem with your parcel."),
        (
            "failed_attempt",
            "recipient_unavailable",
            "No one was there to take the parcel. The carrier usually tries again",
        ),
        ("failed_attempt", "", "The carrier usually tries again on the next working day"),
        ("available_for_pickup", "", "Your parcel is waiting for you."),
        ("expired", "", "We haven’t heard from the carrier for a while."),
    ],
)
def test_a_parcel_in_trouble_says_what_happened_and_what_happens_next(
    client, merchant_a, status, substatus, words
):
    order, _ = order_of(merchant_a)
    parcel(order, status=status, substatus=substatus)

    body = client.get(page_path(order)).content.decode()

    notice = body.split("data-notice>")[1].split("</div>")[0]
    assert notice.startswith(words)


def stalled(merchant, **incident):
    """An order whose parcel has had no scan in transit since 27 February, and the incident
    the scan raised about it on 4 March (``incident``: more of its fields)."""
    order, _ = order_of(merchant)
    stalled_at = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)
    shipment = parcel(order, status_changed_at=stalled_at)
    DelayIncident.unscoped.create(
        merchant=merchant,
        order=order,
        shipment=shipment,
        reason=DelayReason.NO_SCAN_IN_TRANSIT,
        since=stalled_at,
        delayed_at=NOW - timedelta(hours=2),
        detected_at=NOW - timedelta(hours=1),
        **incident,
    )
    return order, shipment


def test_a_delay_shows_while_the_parcel_has_not_moved_since(client, merchant_a, frozen):
    # given: no scan in transit since 27 February, raised on 4 March
    order, shipment = stalled(merchant_a)

    # when
    stuck = client.get(page_path(order)).content.decode()
    Shipment.unscoped.filter(pk=shipment.pk).update(
        status=ShipmentStatus.OUT_FOR_DELIVERY, status_changed_at=NOW
    )
    moved = client.get(page_path(order)).content.decode()

    # then
    assert "Your parcel hasn’t been scanned for a few days. We’ve noticed" in stuck
    assert "data-notice" not in moved


def test_every_view_counts_for_its_parcel_on_the_day(client, merchant_a, frozen):
    # given
    order, _ = order_of(merchant_a)
    first, second = parcel(order, 1), parcel(order, 2)

    # when
    for query in ("", "", f"?parcel={second.pk}"):
        assert client.get(page_path(order, query)).status_code == 200
    counters.flush()

    # then
    rows = ShipmentPageViews.unscoped.order_by("shipment_id").values_list(
        "merchant_id", "shipment_id", "day", "views", "last_viewed_at"
    )
    assert list(rows) == [
        (merchant_a.pk, first.pk, date(2026, 3, 4), 2, NOW),
        (merchant_a.pk, second.pk, date(2026, 3, 4), 1, NOW),
    ]


def test_messages_link_to_the_page_on_their_parcel(merchant_a):
    # given
    order, _ = order_of(merchant_a)
    shipment = parcel(order)

    # when
    with merchant_scope(merchant_a):
        about_parcel = tracking_url_make(
            merchant=merchant_a, customer=order.customer, order=order, shipment=shipment
        )
        about_order = tracking_url_make(
            merchant=merchant_a, customer=order.customer, order=order, shipment=None
        )
        about_nothing = tracking_url_make(
            merchant=merchant_a, customer=order.customer, order=None, shipment=None
        )

    # then
    url, query = about_parcel.split("?")
    assert url.startswith(settings.SITE_URL.rstrip("/") + "/s/alpha/track/")
    assert query == f"parcel={shipment.pk}"
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert link_read(token, purpose=TRACKING_PAGE, merchant_id=merchant_a.pk) == {
        "m": merchant_a.pk,
        "o": order.pk,
    }
    assert "?" not in about_order and "/s/alpha/track/" in about_order
    assert about_nothing is None
    assert tracking_page_url(merchant=merchant_a, order_id=order.pk) == about_order


def test_the_page_keeps_the_link_it_was_opened_with(client, merchant_a):
    # given: a link signed 80 days ago (it expires at 90)
    order, _ = order_of(merchant_a)
    parcel(order, 1), parcel(order, 2)
    old = timezone.now().timestamp() - 80 * 86400
    token = tracking_token(merchant_id=merchant_a.pk, order_id=order.pk, now=old)

    # when
    body = client.get(f"/s/alpha/track/{token}/").content.decode()

    # then: its tabs and forms use the same token, never a fresh one that would outlive it
    assert body.count(f"/s/alpha/track/{token}/?parcel=") == 3  # two tabs, the form
    assert f'action="/s/alpha/track/{token}/?parcel=' in body


def test_money_is_not_on_the_page(client, merchant_a):
    order, _ = order_of(merchant_a)
    order.total = Decimal("123.45")
    order.save()

    assert "123.45" not in client.get(page_path(order)).content.decode()


def test_a_resolved_delay_shows_no_notice(client, merchant_a, frozen):
    # given: the same stall, its incident closed (the parcel was re-estimated)
    order, _ = stalled(merchant_a, resolved_at=NOW, resolution="re_estimated")

    # when
    body = client.get(page_path(order)).content.decode()

    # then
    assert "data-notice" not in body
