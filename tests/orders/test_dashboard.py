"""The orders pages of the dashboard (list, detail with the customer's timeline) and the orders
card of the home page (live counts, latest orders)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from orders.models import FinancialStatus, FulfillmentStatus
from orders.services import order_ingest, shipment_ingest
from postpurchase.dashboard.formatting import money
from postpurchase.events.services import event_record
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.scoping import merchant_scope
from tests.dashboard.conftest import INGESTED_AT, shipment_payload
from tests.factories import OrderFactory, order_payload

MARCH_1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_orders(merchant, *specs: dict) -> list:
    with merchant_scope(merchant):
        return [OrderFactory(merchant=merchant, **spec) for spec in specs]


def numbers(response, key: str = "orders") -> list[str]:
    return [order.number for order in response.context[key]]


@pytest.fixture
def second_order_a(merchant_a, order_a):
    """Another customer's order in merchant A, in transit and not late."""
    payload = order_payload(
        external_id="ord-1002",
        number="#1002",
        currency="USD",
        placed_at="2026-03-02T12:00:00Z",
        customer={"external_id": "cust-2", "email": "grace@example.net", "first_name": "Grace"},
    )
    order = order_ingest(merchant=merchant_a, payload=payload, now=INGESTED_AT).instance
    shipment_ingest(
        merchant=merchant_a,
        payload=shipment_payload(
            external_id="shp-2",
            order_external_id="ord-1002",
            estimated_delivery="2099-01-01",
            checkpoints=[],
            status="in_transit",
            status_at="2026-03-03T08:00:00Z",
        ),
        now=INGESTED_AT,
    )
    return order


def test_counts_endpoint_answers_the_current_merchants_figures(
    second_order_a, order_b, member_of, merchant_a, client_for
):
    # given: A has two customers and orders, both shipments moving, one past its date (a delay
    # only once the tracking scan raises it: tests/tracking/test_home_card.py)
    client = client_for(member_of(merchant_a, Role.VIEWER))
    # when
    response = client.get(reverse("dashboard:counts"))
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    assert json.loads(response.content) == {
        "customers": 2,
        "orders": 2,
        "shipments_in_transit": 2,
        "shipments_delayed": 0,
        "orders_late_to_ship": 0,
    }


def test_home_shows_the_counts_wired_for_live_updates(second_order_a, order_b, owner_a, client_for):
    # given
    client = client_for(owner_a)
    # when
    response = client.get(reverse("dashboard:home"))
    # then
    html = response.content.decode()
    assert response.context["counts"] == {
        "customers": 2,
        "orders": 2,
        "shipments_in_transit": 2,
        "shipments_delayed": 0,
        "orders_late_to_ship": 0,
    }
    assert 'data-counts-url="/app/counts/"' in html
    assert '<span class="stat__value" data-count="shipments_in_transit">2</span>' in html
    assert '<script src="/static/dashboard/js/dashboard.js" defer></script>' in html


def test_home_lists_the_ten_latest_orders(merchant_a, merchant_b, owner_a, client_for):
    # given: twelve orders a day apart, and one of merchant B's that is newer than all
    make_orders(
        merchant_a,
        *({"number": f"#{n}", "placed_at": MARCH_1 + timedelta(days=n)} for n in range(1, 13)),
    )
    make_orders(merchant_b, {"number": "#B-1", "placed_at": MARCH_1 + timedelta(days=30)})
    # when
    response = client_for(owner_a).get(reverse("dashboard:home"))
    # then
    assert numbers(response, "latest_orders") == [f"#{n}" for n in range(12, 2, -1)]


def test_home_of_a_merchant_with_no_orders_says_so(owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(reverse("dashboard:home"))
    # then
    assert "No orders yet." in response.content.decode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("", ["#5", "#4", "#3", "#2", "#1"]),
        ("unfulfilled", ["#1"]),
        ("partially_fulfilled", ["#2"]),
        ("fulfilled", ["#3"]),
        ("cancelled", ["#5", "#4"]),
        ("no-such-status", ["#5", "#4", "#3", "#2", "#1"]),
    ],
)
def test_order_list_filters_by_status(status, expected, merchant_a, owner_a, client_for):
    # given: #4 was cancelled before shipping, #5 after
    make_orders(
        merchant_a,
        {"number": "#1", "placed_at": MARCH_1},
        {
            "number": "#2",
            "placed_at": MARCH_1 + timedelta(days=1),
            "fulfillment_status": FulfillmentStatus.PARTIALLY_FULFILLED,
        },
        {
            "number": "#3",
            "placed_at": MARCH_1 + timedelta(days=2),
            "fulfillment_status": FulfillmentStatus.FULFILLED,
        },
        {
            "number": "#4",
            "placed_at": MARCH_1 + timedelta(days=3),
            "cancelled_at": MARCH_1 + timedelta(days=3, hours=1),
        },
        {
            "number": "#5",
            "placed_at": MARCH_1 + timedelta(days=4),
            "fulfillment_status": FulfillmentStatus.FULFILLED,
            "cancelled_at": MARCH_1 + timedelta(days=5),
        },
    )
    # when
    response = client_for(owner_a).get(reverse("dashboard:order_list"), {"status": status})
    # then
    assert response.status_code == 200
    assert numbers(response) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [("1002", ["#1002"]), ("#1001", ["#1001"]), ("grace@", ["#1002"]), ("lovelace", ["#1001"])],
)
def test_order_list_searches_numbers_emails_and_names(
    query, expected, second_order_a, order_b, owner_a, client_for
):
    # given: merchant B has an order #1001 by Ada Lovelace as well
    client = client_for(owner_a)
    # when
    response = client.get(reverse("dashboard:order_list"), {"q": query})
    # then
    assert numbers(response) == expected
    assert response.context["query"] == query


def test_order_list_pages_by_fifty_and_keeps_the_filter(merchant_a, owner_a, client_for):
    # given
    make_orders(
        merchant_a,
        *(
            {
                "number": f"#{n}",
                "placed_at": MARCH_1 + timedelta(hours=n),
                "fulfillment_status": FulfillmentStatus.FULFILLED,
            }
            for n in range(1, 52)
        ),
        {"number": "#unfulfilled", "placed_at": MARCH_1},
    )
    client = client_for(owner_a)
    url = reverse("dashboard:order_list")
    # when
    first = client.get(url, {"status": "fulfilled"})
    second = client.get(url, {"status": "fulfilled", "page": 2})
    # then
    assert numbers(first) == [f"#{n}" for n in range(51, 1, -1)]
    assert numbers(second) == ["#1"]
    assert first.context["paginator"].count == 51
    assert 'href="?status=fulfilled&amp;page=2" rel="next"' in first.content.decode()
    assert "Page 2 of 2" in second.content.decode()


def test_order_list_shows_each_orders_columns_in_the_merchants_time_zone(
    merchant_a, owner_a, client_for
):
    # given: noon UTC is 07:00 in New York (EST)
    make_orders(
        merchant_a,
        {
            "number": "#77",
            "placed_at": MARCH_1,
            "currency": "USD",
            "total": "1234.50",
            "financial_status": FinancialStatus.PARTIALLY_REFUNDED,
            "customer__first_name": "Ada",
            "customer__last_name": "Lovelace",
            "customer__email": "ada@example.net",
        },
    )
    # when
    response = client_for(owner_a).get(reverse("dashboard:order_list"))
    # then
    html = response.content.decode()
    assert ">#77</a>" in html
    assert '<time datetime="2026-03-01T07:00:00-05:00">Mar 1, 2026, 07:00</time>' in html
    assert '<span class="cell-main">Ada Lovelace</span>' in html
    assert '<span class="cell-sub">ada@example.net</span>' in html
    assert '<td class="num nowrap">$1,234.50</td>' in html
    assert '<span class="badge badge--warning">Partially refunded</span>' in html
    assert '<span class="badge badge--neutral">Unfulfilled</span>' in html


def test_order_detail_shows_figures_lines_shipments_and_tracking_events(
    order_a, owner_a, client_for
):
    # given
    client = client_for(owner_a)
    # when
    response = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_a.pk}))
    # then
    html = response.content.decode()
    assert response.context["order"] == order_a
    for figure, amount in [
        ("Subtotal", "$80.00"),
        ("Discount", "$0.00"),
        ("Shipping", "$5.00"),
        ("Tax", "$0.00"),
    ]:
        assert f"<div><dt>{figure}</dt><dd>{amount}</dd></div>" in html
    assert '<div class="figures__total"><dt>Total</dt><dd>$85.00</dd></div>' in html
    # the line
    assert '<span class="cell-main">Trail shoe</span>' in html
    assert '<td class="mono">TS-1</td>' in html
    assert '<td class="num nowrap">$40.00</td>' in html
    # the shipment
    assert "<h3>UPS</h3>" in html
    assert 'href="https://track.example/1Z999AA10123456784"' in html
    assert '<span class="badge badge--info">Out for delivery</span>' in html
    assert "<div><dt>Estimated delivery</dt><dd>Mar 5, 2026</dd></div>" in html
    assert "<div><dt>Shipped</dt><dd>Mar 2, 2026, 04:30</dd></div>" in html
    assert "<div><dt>Delivered</dt><dd>—</dd></div>" in html
    assert "2 × Trail shoe" in html
    # its tracking events, newest first, in New York time
    on_the_van = html.index("Out for delivery — On the van")
    departed = html.index("In transit — Departed facility")
    assert on_the_van < departed
    assert "Mar 4, 2026, 08:15</time> · Brooklyn, NY" in html
    assert "Mar 2, 2026, 04:30</time> · Newark, NJ" in html


def test_order_detail_shows_the_customer_card(order_a, owner_a, client_for):
    # given
    client = client_for(owner_a)
    # when
    response = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_a.pk}))
    # then
    html = response.content.decode()
    assert '<p class="customer__name">Ada Lovelace</p>' in html
    assert '<a href="mailto:ada@example.net">ada@example.net</a>' in html
    assert "<div><dt>Phone</dt><dd>—</dd></div>" in html
    assert "<div><dt>Orders</dt><dd>1</dd></div>" in html
    assert "<div><dt>Total spent</dt><dd>$85.00</dd></div>" in html
    assert "<div><dt>Email marketing</dt><dd>Not subscribed</dd></div>" in html
    assert "<div><dt>SMS marketing</dt><dd>Not subscribed</dd></div>" in html


def test_order_detail_shows_the_customers_timeline_in_the_merchants_time_zone(
    order_a, second_order_a, owner_a, client_for
):
    # given
    client = client_for(owner_a)
    # when
    response = client.get(reverse("dashboard:order_detail", kwargs={"pk": order_a.pk}))
    # then: Grace's order (#1002) is not on Ada's timeline
    timeline = [
        (entry.label, entry.occurred_at, entry.tone, entry.order_number, entry.tracking)
        for entry in response.context["timeline"]
    ]
    ups = "UPS 1Z999AA10123456784"
    assert timeline == [
        ("Order fulfilled", INGESTED_AT, "success", "#1001", ""),
        (
            "Shipment out for delivery",
            datetime(2026, 3, 4, 13, 15, tzinfo=UTC),
            "info",
            "#1001",
            ups,
        ),
        ("Shipment in transit", datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "info", "#1001", ups),
        ("Shipment created", datetime(2026, 3, 2, 9, 30, tzinfo=UTC), "neutral", "#1001", ups),
        ("Order placed", MARCH_1, "neutral", "#1001", ""),
    ]
    html = response.content.decode()
    assert '<span class="timeline__title">Order fulfilled</span>' in html
    assert '<time datetime="2026-03-04T09:00:00-05:00">Mar 4, 2026, 09:00</time>' in html


def test_order_detail_timeline_links_the_customers_other_orders(
    merchant_a, order_a, owner_a, client_for
):
    # given: Ada orders again
    payload = order_payload(
        external_id="ord-2001", number="#2001", currency="USD", placed_at="2026-04-01T12:00:00Z"
    )
    again = order_ingest(merchant=merchant_a, payload=payload, now=INGESTED_AT).instance
    # when
    response = client_for(owner_a).get(reverse("dashboard:order_detail", kwargs={"pk": order_a.pk}))
    # then
    assert f'<a href="/app/orders/{again.pk}/">Order #2001</a>' in response.content.decode()


def test_order_detail_of_an_unknown_order_is_404(owner_a, client_for):
    # given / when
    response = client_for(owner_a).get(reverse("dashboard:order_detail", kwargs={"pk": 999999}))
    # then
    assert response.status_code == 404


def test_order_detail_timeline_survives_an_integrators_odd_payload(
    merchant_a, order_a, owner_a, client_for
):
    # given: a custom event whose payload looks like an order's but is not one
    with transaction.atomic():
        event_record(
            merchant=merchant_a,
            type="product.setup_completed",
            customer=order_a.customer,
            payload={"order_id": "not-a-number", "number": 42, "carrier": ["x"]},
            occurred_at=datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
        )
    # when
    response = client_for(owner_a).get(reverse("dashboard:order_detail", kwargs={"pk": order_a.pk}))
    # then
    assert response.status_code == 200
    first = response.context["timeline"][0]
    assert (first.label, first.order_number, first.order_id, first.tone, first.tracking) == (
        "Product setup completed",
        "42",
        None,
        "neutral",
        "['x']",
    )


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("85.000", "USD", "$85.00"),
        ("1234.5", "EUR", "€1,234.50"),
        ("1500", "JPY", "¥1,500"),
        ("12.345", "KWD", "KWD12.345"),
        ("7", "NOPE", "NOPE7.00"),
        (None, "USD", ""),
    ],
)
def test_money_is_written_with_the_currencys_symbol_and_decimals(amount, currency, expected):
    # given / when / then
    assert money(None if amount is None else Decimal(amount), currency) == expected
