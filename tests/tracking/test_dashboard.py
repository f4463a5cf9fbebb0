"""The dashboard's Tracking page: shipments at risk with their page views, filters, sorting and
pages; counts; calibration; the delay settings form (validation, permissions); and another
merchant's rows never shown."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from postpurchase.tenancy.permissions import Role
from tests.factories import OrderFactory
from tracking.models import DelaySettings

DAY = timedelta(days=1)


@pytest.fixture
def signed_in(member_of):
    """``signed_in(merchant, role)`` → a dashboard client of a new member of ``merchant``."""

    def make(merchant, role=Role.OWNER) -> Client:
        client = Client()
        client.force_login(member_of(merchant, role))
        return client

    return make


@pytest.fixture
def late(merchant_la, shipment_of, incident_of):
    """``late(days, reason=…, carrier=…)`` → a shipment of Lima delayed ``days`` days ago."""

    def make(days: float, reason: str = "no_scan_in_transit", **fields):
        now = timezone.now()
        shipment = shipment_of(
            merchant_la, status="in_transit", created_at=now - 30 * DAY, **fields
        )
        return incident_of(
            shipment, reason, since=now - (days + 5) * DAY, delayed_at=now - days * DAY
        )

    return make


def rows(response) -> list[int]:
    return [incident.pk for incident in response.context["incidents"]]


def test_a_shipment_at_risk_shows_its_order_carrier_status_reason_and_views(
    merchant_la, signed_in, late, page_views
):
    # given: in transit, late for three days, its page opened 5 times today and 7 long ago
    incident = late(3, carrier="USPS")
    shipment = incident.shipment
    today = timezone.now().date()
    page_views(shipment, today, 5)
    page_views(shipment, today - 30 * DAY, 7)

    # when
    response = signed_in(merchant_la, Role.VIEWER).get("/app/tracking/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == [
        "tracking/at_risk.html",
        "dashboard/base.html",
    ]
    (row,) = response.context["incidents"]
    assert (row.pk, row.views_total, row.views_recent) == (incident.pk, 12, 5)
    assert (
        f'<a class="strong" href="/app/orders/{shipment.order_id}/">{shipment.order.number}</a>'
    ) in html
    assert '<span class="cell-main">USPS</span>' in html
    assert f'<span class="cell-sub mono">{shipment.tracking_number}</span>' in html
    assert '<span class="badge badge--info">In transit</span>' in html
    assert "<td>No scan while in transit</td>" in html
    assert '<span class="cell-main">3\xa0days</span>' in html
    assert '<td class="num">12</td>' in html
    assert '<td class="num">5</td>' in html
    assert (
        '<a class="nav__link nav__link--active" href="/app/tracking/" aria-current="page">'
    ) in html


def test_an_unfulfilled_order_at_risk_shows_its_fulfilment_and_no_views(
    merchant_la, signed_in, incident_of
):
    # given
    order = OrderFactory(merchant=merchant_la, number="#4242")
    incident_of(order, "fulfillment_late", delayed_at=timezone.now() - DAY)

    # when
    html = signed_in(merchant_la).get("/app/tracking/").content.decode()

    # then
    assert f'href="/app/orders/{order.pk}/">#4242</a>' in html
    assert '<span class="muted">Not shipped</span>' in html
    assert "Unfulfilled</span>" in html
    assert "<td>Not fulfilled within the promise</td>" in html


def test_filters_by_reason_carrier_and_age(merchant_la, signed_in, late):
    # given
    old_ups = late(10)
    new_usps = late(1, carrier="USPS")
    week_ups = late(3, reason="past_estimated_delivery")
    client = signed_in(merchant_la)

    # when / then
    assert rows(client.get("/app/tracking/")) == [old_ups.pk, week_ups.pk, new_usps.pk]
    assert rows(client.get("/app/tracking/?reason=past_estimated_delivery")) == [week_ups.pk]
    assert rows(client.get("/app/tracking/?carrier=USPS")) == [new_usps.pk]
    assert rows(client.get("/app/tracking/?age=old")) == [old_ups.pk]
    assert rows(client.get("/app/tracking/?age=week&carrier=UPS")) == [week_ups.pk]
    # a hand-edited value is no filter at all
    assert rows(client.get("/app/tracking/?reason=bogus&carrier=UPS")) == [
        old_ups.pk,
        week_ups.pk,
        new_usps.pk,
    ]


def test_the_filters_and_counts_show_what_is_chosen(merchant_la, signed_in, late):
    # given
    late(10)
    late(1, carrier="USPS")
    late(2.5, carrier="USPS", reason="exception")

    # when
    html = signed_in(merchant_la).get("/app/tracking/?carrier=USPS&age=new").content.decode()

    # then
    assert '<option value="USPS" selected>USPS</option>' in html
    assert '<option value="new" selected>Under 2 days</option>' in html
    assert "3 open" in html
    assert (
        '<li data-count-reason="exception"><a href="/app/tracking/?carrier=USPS&amp;age=new'
        '&amp;reason=exception">Carrier exception</a><span class="num">1</span></li>'
    ) in html
    assert (
        '<li data-count-carrier="USPS"><a href="/app/tracking/?carrier=USPS&amp;age=new">' in html
    )
    assert (
        '<li data-count-age="week"><a href="/app/tracking/?carrier=USPS&amp;age=week">2–7 days</a>'
        '<span class="num">1</span></li>'
    ) in html


def test_sorting_by_page_views(merchant_la, signed_in, late, page_views):
    # given: the most viewed last week is not the most viewed of all time
    today = timezone.now().date()
    busy_long_ago, busy_now, quiet = late(5), late(4), late(3)
    page_views(busy_long_ago.shipment, today - 20 * DAY, 30)
    page_views(busy_now.shipment, today, 9)
    client = signed_in(merchant_la)

    # when / then
    assert rows(client.get("/app/tracking/?sort=views")) == [
        busy_long_ago.pk,
        busy_now.pk,
        quiet.pk,
    ]
    assert rows(client.get("/app/tracking/?sort=recent_views")) == [
        busy_now.pk,
        busy_long_ago.pk,
        quiet.pk,
    ]
    html = client.get("/app/tracking/?sort=views").content.decode()
    assert '<a class="sort-link" href="?sort=views" aria-current="true">Page views</a>' in html


def test_fifty_a_page(merchant_la, signed_in, late):
    # given
    incidents = [late(60 - n) for n in range(51)]
    client = signed_in(merchant_la)

    # when
    first = client.get("/app/tracking/")
    second = client.get("/app/tracking/?page=2")

    # then
    assert rows(first) == [incident.pk for incident in incidents[:50]]
    assert rows(second) == [incidents[50].pk]
    assert "Page 2 of 2" in second.content.decode()


def test_another_merchants_shipments_at_risk_never_show(
    merchant_la, merchant_b, signed_in, late, shipment_of, incident_of
):
    # given: Bravo has a late DHL parcel
    own = late(2)
    bravo = shipment_of(
        merchant_b, status="exception", created_at=timezone.now() - DAY, carrier="DHL"
    )
    incident_of(bravo, "exception", delayed_at=timezone.now() - DAY)

    # when
    response = signed_in(merchant_la).get("/app/tracking/?carrier=DHL")
    unfiltered = signed_in(merchant_la).get("/app/tracking/")

    # then: the filter finds nothing, the counts hold Lima's only
    assert rows(response) == []
    assert rows(unfiltered) == [own.pk]
    assert unfiltered.context["counts"].total == 1
    assert unfiltered.context["counts"].by_carrier == [("UPS", 1)]
    assert "DHL" not in unfiltered.content.decode()


def test_nothing_at_risk(merchant_la, signed_in):
    html = signed_in(merchant_la).get("/app/tracking/").content.decode()

    assert "No shipment is at risk." in html
    assert "0 open" in html


# --- calibration ----------------------------------------------------------------------------


def test_the_calibration_table(merchant_la, signed_in, shipment_of):
    # given: three UPS parcels shown the days from three days ago to yesterday (the merchant's
    # days); two arrived inside them, one today, a day late
    zone = ZoneInfo(merchant_la.timezone)
    now = timezone.now()
    today = now.astimezone(zone).date()
    for arrival in (today - 3 * DAY, today - 2 * DAY, today):
        shipment_of(
            merchant_la,
            status="delivered",
            created_at=now - 10 * DAY,
            delivered_at=datetime.combine(arrival, time(0, 30), tzinfo=zone),
            estimate_earliest=today - 3 * DAY,
            estimate_latest=today - DAY,
            estimate_basis="default",
        )

    # when
    response = signed_in(merchant_la, Role.VIEWER).get("/app/tracking/calibration/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    (line,) = response.context["lines"]
    assert (line.carrier, line.delivered, line.inside, line.early, line.late) == ("UPS", 3, 2, 0, 1)
    assert (
        '<td class="num"><span class="cell-main">67%</span><span class="cell-sub">2</span></td>'
    ) in html
    assert "Deliveries of the last 90 days" in html
    assert (
        '<a class="nav__link nav__link--active" href="/app/tracking/" aria-current="page">'
    ) in html


# --- the delay settings ---------------------------------------------------------------------

VALID = {
    "first_scan_days": "2",
    "transit_scan_days": "4",
    "fulfillment_promise_days": "5",
    "expired_days": "45",
}


def stored(merchant) -> tuple[int, int, int, int] | None:
    row = DelaySettings.unscoped.filter(merchant=merchant).first()
    if row is None:
        return None
    return (
        row.first_scan_days,
        row.transit_scan_days,
        row.fulfillment_promise_days,
        row.expired_days,
    )


def test_an_owner_saves_the_delay_settings(merchant_la, signed_in):
    # given
    client = signed_in(merchant_la, Role.ADMIN)

    # when
    response = client.post("/app/tracking/settings/save/", VALID)

    # then
    assert (response.status_code, response["Location"]) == (302, "/app/tracking/settings/")
    assert stored(merchant_la) == (2, 4, 5, 45)
    page = client.get("/app/tracking/settings/").content.decode()
    assert "Delay settings saved. The next hourly scan uses them." in page
    assert 'name="expired_days" value="45"' in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"first_scan_days": "0"}, "first_scan_days", "Enter a whole number from 1 to 30."),
        ({"transit_scan_days": "31"}, "transit_scan_days", "Enter a whole number from 1 to 30."),
        (
            {"fulfillment_promise_days": "two"},
            "fulfillment_promise_days",
            "Enter a whole number from 1 to 30.",
        ),
        ({"expired_days": ""}, "expired_days", "Enter a whole number from 7 to 180."),
        ({"expired_days": "181"}, "expired_days", "Enter a whole number from 7 to 180."),
        (
            {"transit_scan_days": "10", "expired_days": "10"},
            "expired_days",
            "Must be more than the days without a scan in transit (10): a shipment must be "
            "able to be late before it expires.",
        ),
    ],
)
def test_a_bad_value_is_refused_on_its_field_and_nothing_is_saved(
    merchant_la, signed_in, changes, field, message
):
    # when
    response = signed_in(merchant_la).post("/app/tracking/settings/save/", {**VALID, **changes})

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [message]}
    html = response.content.decode()
    assert f'<p class="field__error">{message}</p>' in html.replace("&#x27;", "'")
    assert "The delay settings need another look; nothing was saved." in html
    assert stored(merchant_la) is None


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_other_roles_read_the_settings_and_cannot_save_them(merchant_la, signed_in, role):
    # given
    client = signed_in(merchant_la, role)

    # when
    page = client.get("/app/tracking/settings/")
    refused = client.post("/app/tracking/settings/save/", VALID)

    # then: read-only (a disabled form without its button), the save refused, nothing written
    html = page.content.decode()
    assert page.status_code == 200
    assert "You can read these settings; only owners and admins can change them." in html
    assert '<fieldset class="plain" disabled>' in html
    assert "Save delay settings" not in html
    assert 'name="first_scan_days" value="3"' in html
    assert refused.status_code == 403
    assert stored(merchant_la) is None


def test_one_merchants_settings_never_show_on_anothers_page(merchant_la, merchant_b, signed_in):
    # given
    signed_in(merchant_b).post("/app/tracking/settings/save/", VALID)

    # when
    html = signed_in(merchant_la).get("/app/tracking/settings/").content.decode()

    # then
    assert stored(merchant_b) == (2, 4, 5, 45)
    assert 'name="expired_days" value="30"' in html
    assert stored(merchant_la) is None


def test_the_page_reads_a_fixed_number_of_queries_whatever_it_shows(
    merchant_la, signed_in, late, page_views
):
    def queries(client) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/app/tracking/?sort=views").status_code == 200
        return len(captured)

    # given: two late parcels with views, then twenty more
    client = signed_in(merchant_la)
    today = timezone.now().date()
    for days in (1, 2):
        page_views(late(days).shipment, today, 3)
    client.get("/app/tracking/")  # the session's first page loads its membership
    few = queries(client)
    for days in range(3, 23):
        page_views(late(days).shipment, today, 1)

    # then
    assert queries(client) == few


def test_an_embedded_install_says_the_scan_does_not_run_there(merchant_la, signed_in, monkeypatch):
    # given: the database is SQLite (the embedded mode), where the delay scan does nothing
    from django.db import connection

    monkeypatch.setattr(connection, "vendor", "sqlite")

    # when
    html = signed_in(merchant_la).get("/app/tracking/").content.decode()

    # then
    assert "this install uses SQLite (the embedded mode), so nothing is scanned" in html
    assert "No shipment is at risk." not in html
