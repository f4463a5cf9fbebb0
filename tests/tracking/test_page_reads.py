"""The tracking page's plain SQL (tracking/page_reads.py): another merchant's order is not read,
a view reads the order and all it shows in one statement on PostgreSQL, and the embedded mode
(SQLite, five short statements) shows the same page as PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from tests.embedded import on_fresh_sqlite
from tests.factories import MerchantFactory, OrderFactory
from tests.tracking.page_scenario import run_scenario
from tracking.links import tracking_token
from tracking.page_reads import page_order

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def kept_connections(monkeypatch):
    """Connections kept between requests, as production keeps them (``DB_CONN_MAX_AGE``): the
    page's statements are prepared on them."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)


SCANNED = [
    ["In transit", "Arrived at Birmingham", "Birmingham"],
    ["In transit", "Arrived at Manchester", "Manchester"],
    ["In transit", "Arrived at Leeds", "Leeds"],
]


@pytest.fixture(scope="module")
def on_sqlite(tmp_path_factory):
    """The scenario's outcome on a fresh SQLite database, in a subprocess of its own."""
    folder = tmp_path_factory.mktemp("embedded-page")
    return on_fresh_sqlite(ROOT / "tests" / "tracking" / "page_scenario.py", folder)


@pytest.fixture
def twin(db):
    return MerchantFactory(
        slug="twin", name="Twin", currency="GBP", country="GB", timezone="Europe/London"
    )


@pytest.mark.django_db
def test_each_parcel_s_page_shows_its_own_state(twin):
    seen = run_scenario(twin)

    first, second = seen["pages"]["first"], seen["pages"]["second"]
    assert first == {
        "status": 200,
        "headline": ["On its way"],
        "arrival": ["Arriving Thu 5 – Sat 7 March"],
        "checkpoints": SCANNED,
        "items": ["1 × Trail shoe"],
        "notice": [
            "Your parcel hasn’t been scanned for a few days. We’ve noticed and are checking "
            "with the carrier; you don’t need to do anything."
        ],
        "suggestions": ["Wool socks"],  # the lamp is in the order already
        "subscriptions": ["SMS to •••0123"],  # the stopped one is not shown
        "claim": [],  # protection is offered, but this order did not take it
        "tabs": ["Parcel 1", "Parcel 2"],
    }
    assert second == {
        **first,
        "headline": ["Ready to ship"],
        "checkpoints": [],
        "items": ["1 × Trail shoe", "1 × Desk lamp"],
        "notice": [],
    }
    assert seen["views"] == {"shp-1": 1, "shp-2": 1}
    assert seen["suggestion_views"] == {"Wool socks": 2}


@pytest.mark.django_db
def test_the_embedded_mode_shows_the_same_pages(twin, on_sqlite):
    assert on_sqlite == run_scenario(twin)


@pytest.mark.django_db
def test_a_view_reads_the_order_in_one_statement(twin):
    run_scenario(twin)  # the connection has prepared the page's statements
    order = Order.unscoped.get(merchant=twin, number="#2001")
    path = f"/s/twin/track/{tracking_token(merchant_id=twin.pk, order_id=order.pk)}/"

    with CaptureQueriesContext(connection) as captured:
        response = Client().get(path)

    assert response.status_code == 200
    ran = [query["sql"].split()[0] for query in captured.captured_queries]
    # the merchant is kept from the scenario's views (postpurchase/shopper/views.py); the
    # order (its customer, the protection settings, its subscriptions counted, its lines, its
    # parcels, the parcel's scans, the suggestions) in one statement; the parcel's open delay
    # (only when it has one); the claim's three checks (only for a merchant offering
    # protection); the live subscriptions (only when the order has some). The view itself is
    # counted in Redis (tracking/counters.py), not here.
    assert ran == [*["EXECUTE"] * 2, *["SELECT"] * 3, "EXECUTE"]


@pytest.mark.django_db
def test_another_merchant_s_order_is_not_read(merchant_a, merchant_b):
    theirs = OrderFactory(merchant=merchant_b)

    assert page_order(merchant_a, theirs.pk) is None
    assert page_order(merchant_b, theirs.pk).order.pk == theirs.pk
