"""The delay scan: each rule at its boundary in the merchant's time zone, once per incident, a new
incident after the shipment moves, isolation between merchants, inactive merchants skipped, and a
statement count that does not grow with the shipments."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.ingest.events import order_event_payload, shipment_event_payload
from orders.models import Shipment
from postpurchase.celery import app
from postpurchase.events.models import Event
from postpurchase.tenancy.models import Merchant
from tests.factories import MerchantFactory, OrderFactory, OrderLineFactory, ProductFactory
from tracking import delays
from tracking.delays import delays_scan
from tracking.models import DelayIncident, DelaySettings
from tracking.services import delay_settings_update
from tracking.tasks import delays_scan_task

SECOND = timedelta(seconds=1)
ZERO = {
    "no_first_scan": 0,
    "no_scan_in_transit": 0,
    "past_estimated_delivery": 0,
    "exception": 0,
    "fulfillment_late": 0,
    "expired": 0,
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def delayed(merchant) -> list[Event]:
    return list(Event.unscoped.filter(merchant=merchant, type="shipment.delayed").order_by("id"))


def counts(**nonzero) -> dict[str, int]:
    return {**ZERO, **nonzero}


# --- no first carrier scan ----------------------------------------------------------------


def test_no_first_scan_counts_calendar_days_in_the_merchants_zone(merchant_la, shipment_of):
    # given: fulfilled on Friday 6 March at 10:00 in Los Angeles (PST, UTC-8); the clocks go
    # forward on Sunday, so "3 days later" is Monday 9 March 10:00 PDT = 17:00 UTC (71 hours)
    shipment = shipment_of(
        merchant_la, status="info_received", created_at=at("2026-03-06T10:00:00-08:00")
    )
    threshold = at("2026-03-09T10:00:00-07:00")
    assert threshold == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)

    # when: a scan a second before the threshold
    before = delays_scan(now=threshold - SECOND)

    # then: nothing
    assert before.counts == ZERO
    assert delayed(merchant_la) == []

    # when: a scan at the threshold
    result = delays_scan(now=threshold)

    # then: one event, with the shipment's payload, the reason, since and days
    assert result.counts == counts(no_first_scan=1)
    (event,) = delayed(merchant_la)
    assert event.payload == {
        **shipment_event_payload(shipment, shipment.order),
        "reason": "no_first_scan",
        "since": "2026-03-06T18:00:00+00:00",
        "days": 3,
    }
    assert event.occurred_at == threshold
    assert event.customer_id == shipment.order.customer_id
    assert event.source == "tracking"


def test_the_merchants_own_first_scan_threshold_applies(merchant_la, shipment_of):
    # given: a merchant that waits one day only
    delay_settings_update(merchant=merchant_la, values={"first_scan_days": 1})
    shipment_of(merchant_la, status="pending", created_at=at("2026-04-01T09:00:00-07:00"))

    # when / then
    assert delays_scan(now=at("2026-04-02T08:59:59-07:00")).counts == ZERO
    assert delays_scan(now=at("2026-04-02T09:00:00-07:00")).counts == counts(no_first_scan=1)


# --- no scan while in transit -------------------------------------------------------------


def test_no_scan_in_transit_from_the_last_scan(merchant_la, shipment_of):
    # given: last scanned on 2 April at 23:30 in Los Angeles (3 April 06:30 UTC); five days later
    # there is 7 April 23:30 PDT
    shipment = shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-03-30T12:00:00-07:00"),
        shipped_at=at("2026-03-31T12:00:00-07:00"),
        status_changed_at=at("2026-04-02T23:30:00-07:00"),
    )
    threshold = at("2026-04-07T23:30:00-07:00")

    # when / then: a second before, nothing; at the threshold, one event
    assert delays_scan(now=threshold - SECOND).counts == ZERO
    assert delays_scan(now=threshold).counts == counts(no_scan_in_transit=1)
    (event,) = delayed(merchant_la)
    assert event.payload["reason"] == "no_scan_in_transit"
    assert event.payload["since"] == "2026-04-03T06:30:00+00:00"
    assert event.payload["days"] == 5
    assert event.payload["status"] == "in_transit"
    assert event.dedupe_key == (
        f"shipment.delayed:{shipment.external_id}:no_scan_in_transit:2026-04-03T06:30:00+00:00"
    )


def test_once_per_incident_and_again_after_the_shipment_moves(merchant_la, shipment_of):
    # given: a stalled shipment whose delay was raised
    shipment = shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-04-01T12:00:00-07:00"),
        status_changed_at=at("2026-04-02T12:00:00-07:00"),
    )
    first = at("2026-04-07T12:00:00-07:00")
    assert delays_scan(now=first).counts == counts(no_scan_in_transit=1)

    # when: the scan runs again, an hour and a day later
    again = [delays_scan(now=first + timedelta(hours=h)).counts for h in (1, 24)]

    # then: nothing more
    assert again == [ZERO, ZERO]
    assert len(delayed(merchant_la)) == 1

    # when: the carrier scans the parcel on 8 April, and it stalls again for five days
    Shipment.unscoped.filter(pk=shipment.pk).update(
        status="out_for_delivery", status_changed_at=at("2026-04-08T08:00:00-07:00")
    )
    assert delays_scan(now=at("2026-04-13T07:59:59-07:00")).counts == ZERO
    result = delays_scan(now=at("2026-04-13T08:00:00-07:00"))

    # then: a second incident, its own event
    assert result.counts == counts(no_scan_in_transit=1)
    assert [e.payload["since"] for e in delayed(merchant_la)] == [
        "2026-04-02T19:00:00+00:00",
        "2026-04-08T15:00:00+00:00",
    ]
    assert DelayIncident.unscoped.filter(shipment=shipment).count() == 2


# --- past the estimated delivery date -----------------------------------------------------


def test_past_the_estimated_delivery_from_the_merchants_next_midnight(merchant_la, shipment_of):
    # given: expected on 10 April; the day after begins at 11 April 00:00 PDT = 07:00 UTC
    shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-04-08T12:00:00-07:00"),
        status_changed_at=at("2026-04-10T06:00:00-07:00"),
        estimated_delivery=date(2026, 4, 10),
    )

    # when / then
    assert delays_scan(now=at("2026-04-11T06:59:59Z")).counts == ZERO
    assert delays_scan(now=at("2026-04-11T07:00:00Z")).counts == counts(past_estimated_delivery=1)
    (event,) = delayed(merchant_la)
    assert (event.payload["since"], event.payload["days"]) == ("2026-04-11T07:00:00+00:00", 0)
    assert event.payload["estimated_delivery"] == "2026-04-10"


def test_past_the_end_of_the_range_shown_when_the_carrier_gave_no_date(merchant_la, shipment_of):
    # given: no carrier date; the shopper was shown 8 to 10 April from the merchant's history
    shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-04-06T12:00:00-07:00"),
        status_changed_at=at("2026-04-10T06:00:00-07:00"),
        estimate_earliest=date(2026, 4, 8),
        estimate_latest=date(2026, 4, 10),
        estimate_basis="history",
    )

    # when / then: late from the merchant's midnight ending 10 April
    assert delays_scan(now=at("2026-04-11T06:59:59Z")).counts == ZERO
    assert delays_scan(now=at("2026-04-11T07:00:00Z")).counts == counts(past_estimated_delivery=1)


def test_a_delivered_shipment_is_never_late(merchant_la, shipment_of):
    # given
    shipment_of(
        merchant_la,
        status="delivered",
        created_at=at("2026-04-08T12:00:00-07:00"),
        status_changed_at=at("2026-04-12T06:00:00-07:00"),
        estimated_delivery=date(2026, 4, 10),
    )

    # when / then
    assert delays_scan(now=at("2026-04-20T12:00:00Z")).counts == ZERO


# --- exception ----------------------------------------------------------------------------


def test_an_exception_is_raised_at_once_with_its_substatus(merchant_la, shipment_of):
    # given
    shipment_of(
        merchant_la,
        status="exception",
        substatus="customs",
        created_at=at("2026-04-01T12:00:00-07:00"),
        status_changed_at=at("2026-04-03T09:15:00-07:00"),
    )

    # when / then
    assert delays_scan(now=at("2026-04-03T09:14:59-07:00")).counts == ZERO
    assert delays_scan(now=at("2026-04-03T09:15:00-07:00")).counts == counts(exception=1)
    (event,) = delayed(merchant_la)
    assert (event.payload["reason"], event.payload["substatus"]) == ("exception", "customs")


# --- not fulfilled within the promise -----------------------------------------------------


def test_an_order_past_its_promise_in_business_days(merchant_la):
    # given: placed on Friday 6 March at 18:00 in Los Angeles (already Saturday in UTC); three
    # business days from Friday end on Wednesday 11 March, so it is late from Thursday 12 March
    # 00:00 PDT = 07:00 UTC
    order = OrderFactory(
        merchant=merchant_la, placed_at=at("2026-03-06T18:00:00-08:00"), number="#2001"
    )
    OrderLineFactory(order=order, sku="LAMP-1")
    OrderLineFactory(
        order=order, sku="", product=ProductFactory(merchant=merchant_la, category="lighting")
    )

    # when / then
    assert delays_scan(now=at("2026-03-12T06:59:59Z")).counts == ZERO
    assert delays_scan(now=at("2026-03-12T07:00:00Z")).counts == counts(fulfillment_late=1)
    assert delays_scan(now=at("2026-03-13T07:00:00Z")).counts == ZERO
    (event,) = Event.unscoped.filter(merchant=merchant_la, type="order.fulfillment_delayed")
    lines = list(order.lines.order_by("position", "id").select_related("product"))
    assert (event.payload["skus"], event.payload["categories"]) == (["LAMP-1"], ["lighting"])
    assert event.payload == {
        **order_event_payload(order, lines),
        "reason": "fulfillment_late",
        "fulfillment_status": "unfulfilled",
        "promised_by": "2026-03-11",
        "since": "2026-03-12T07:00:00+00:00",
        "days": 0,
    }
    assert event.occurred_at == at("2026-03-12T07:00:00Z")


@pytest.mark.parametrize(
    ("placed_local", "promise", "promised_by"),
    [
        ("2026-03-02T09:00:00-08:00", 3, "2026-03-05"),  # Monday + 3 → Thursday
        ("2026-03-05T09:00:00-08:00", 3, "2026-03-10"),  # Thursday + 3 → Tuesday
        ("2026-03-07T09:00:00-08:00", 1, "2026-03-09"),  # Saturday + 1 → Monday
        ("2026-03-08T09:00:00-07:00", 5, "2026-03-13"),  # Sunday + 5 → Friday
        ("2026-03-06T09:00:00-08:00", 10, "2026-03-20"),  # Friday + 10 → Friday two weeks on
    ],
)
def test_business_days_skip_weekends(merchant_la, placed_local, promise, promised_by):
    # given
    delay_settings_update(merchant=merchant_la, values={"fulfillment_promise_days": promise})
    OrderFactory(merchant=merchant_la, placed_at=at(placed_local))

    # when
    delays_scan(now=at("2026-03-31T12:00:00Z"))

    # then
    (event,) = Event.unscoped.filter(merchant=merchant_la, type="order.fulfillment_delayed")
    assert event.payload["promised_by"] == promised_by


def test_fulfilled_and_cancelled_orders_are_never_late(merchant_la):
    # given
    OrderFactory(merchant=merchant_la, fulfillment_status="fulfilled")
    OrderFactory(merchant=merchant_la, cancelled_at=at("2026-03-01T13:00:00Z"))

    # when / then
    assert delays_scan(now=at("2026-03-20T12:00:00Z")).counts == ZERO


# --- expired ------------------------------------------------------------------------------


def test_a_shipment_silent_for_the_expired_threshold_expires_through_the_status_path(
    merchant_la, shipment_of
):
    # given: last scanned on 1 March at 10:00 PST; 30 days later is 31 March 10:00 PDT
    shipment = shipment_of(
        merchant_la,
        status="in_transit",
        created_at=at("2026-02-27T10:00:00-08:00"),
        status_changed_at=at("2026-03-01T10:00:00-08:00"),
    )
    threshold = at("2026-03-31T10:00:00-07:00")

    # when / then: before the threshold, only the in-transit delay (raised once)
    assert delays_scan(now=threshold - SECOND).counts == counts(no_scan_in_transit=1)
    assert delays_scan(now=threshold).counts == counts(expired=1)
    assert delays_scan(now=threshold + timedelta(hours=1)).counts == ZERO

    # then: expired as of the threshold, shipment.expired recorded by the status path
    shipment.refresh_from_db()
    assert (shipment.status, shipment.status_changed_at) == ("expired", threshold)
    (expired,) = Event.unscoped.filter(merchant=merchant_la, type="shipment.expired")
    assert expired.payload["status_at"] == threshold.isoformat()
    assert expired.dedupe_key == f"shipment.expired:{shipment.external_id}:{threshold.isoformat()}"
    assert len(delayed(merchant_la)) == 1


def test_a_shipment_silent_longer_than_the_expired_threshold_is_no_delay(merchant_la, shipment_of):
    # given: an exception nobody has heard of for 40 days (an old import)
    shipment = shipment_of(
        merchant_la,
        status="exception",
        created_at=at("2026-01-01T10:00:00Z"),
        status_changed_at=at("2026-01-02T10:00:00Z"),
    )

    # when
    result = delays_scan(now=at("2026-02-11T10:00:00Z"))

    # then: it expires, and no delay is raised for it
    assert result.counts == counts(expired=1)
    assert delayed(merchant_la) == []
    shipment.refresh_from_db()
    assert shipment.status == "expired"


def test_expiries_per_scan_are_limited_and_the_rest_wait(merchant_la, shipment_of):
    # given
    for _ in range(3):
        shipment_of(
            merchant_la,
            status="in_transit",
            created_at=at("2026-01-01T10:00:00Z"),
            status_changed_at=at("2026-01-02T10:00:00Z"),
        )
    now = at("2026-03-01T10:00:00Z")

    # when / then
    assert delays_scan(now=now, expire_limit=2).counts == counts(expired=2)
    assert delays_scan(now=now, expire_limit=2).counts == counts(expired=1)
    assert Shipment.unscoped.filter(merchant=merchant_la, status="expired").count() == 3


def test_one_merchants_backlog_of_expiries_never_holds_up_anothers(
    merchant_la, merchant_b, shipment_of
):
    # given: Lima (the lower id) has three silent shipments, Bravo one
    silent = {
        "created_at": at("2026-01-01T10:00:00Z"),
        "status_changed_at": at("2026-01-02T10:00:00Z"),
    }
    for _ in range(3):
        shipment_of(merchant_la, status="in_transit", **silent)
    bravo = shipment_of(merchant_b, status="in_transit", **silent)

    # when: a scan may expire two
    assert delays_scan(now=at("2026-03-01T10:00:00Z"), expire_limit=2).counts == counts(expired=2)

    # then: merchants take turns, so Bravo's went with Lima's first
    bravo.refresh_from_db()
    assert bravo.status == "expired"
    assert Shipment.unscoped.filter(merchant=merchant_la, status="expired").count() == 1


def test_a_time_zone_postgresql_does_not_know_counts_as_utc_and_stops_no_one(
    merchant_la, merchant_b, shipment_of
):
    # given: Bravo's zone is a name PostgreSQL cannot read (Python's zone list can differ); both
    # have a shipment in exception
    Merchant.objects.filter(pk=merchant_b.pk).update(timezone="Mars/Olympus_Mons")
    for merchant in (merchant_la, merchant_b):
        shipment_of(
            merchant,
            status="exception",
            created_at=at("2026-04-01T12:00:00Z"),
            status_changed_at=at("2026-04-02T12:00:00Z"),
        )

    # when / then: the scan runs for both
    assert delays_scan(now=at("2026-04-03T12:00:00Z")).counts == counts(exception=2)


# --- tenancy ------------------------------------------------------------------------------


def test_a_merchants_settings_never_apply_to_another_merchants_shipments(
    merchant_la, merchant_b, shipment_of
):
    # given: Bravo waits one day for a scan in transit; Lima keeps the default five
    delay_settings_update(merchant=merchant_b, values={"transit_scan_days": 1})
    last_scan = at("2026-04-01T12:00:00Z")
    for merchant in (merchant_la, merchant_b):
        shipment_of(
            merchant,
            status="in_transit",
            created_at=last_scan - timedelta(days=1),
            status_changed_at=last_scan,
        )

    # when: three days without a scan
    result = delays_scan(now=last_scan + timedelta(days=3))

    # then: Bravo's shipment is late, Lima's is not
    assert result.counts == counts(no_scan_in_transit=1)
    assert delayed(merchant_la) == []
    assert len(delayed(merchant_b)) == 1
    assert DelaySettings.unscoped.filter(merchant=merchant_la).exists() is False


def test_an_inactive_merchant_is_skipped(merchant_la, shipment_of):
    # given
    shipment_of(merchant_la, status="exception", created_at=at("2026-04-01T12:00:00Z"))
    merchant_la.is_active = False
    merchant_la.save(update_fields=["is_active"])

    # when / then
    assert delays_scan(now=at("2026-04-02T12:00:00Z")).counts == ZERO
    assert DelayIncident.unscoped.count() == 0


# --- cost ---------------------------------------------------------------------------------


def test_the_statements_per_scan_do_not_grow_with_the_shipments(
    merchant_la, merchant_b, shipment_of
):
    def statements(count: int, now: datetime) -> int:
        for merchant in (merchant_la, merchant_b):
            for _ in range(count):
                shipment_of(
                    merchant,
                    status="in_transit",
                    created_at=now - timedelta(days=10),
                    status_changed_at=now - timedelta(days=7),
                )
        with CaptureQueriesContext(connection) as queries:
            result = delays_scan(now=now)
        assert result.counts == counts(no_scan_in_transit=2 * count)
        return len(queries)

    # when: two late shipments per merchant, then thirty (a later scan)
    few = statements(2, at("2026-04-10T12:00:00Z"))
    many = statements(30, at("2026-04-12T12:00:00Z"))

    # then: the same statements: per rule one insert, and for the rule that found incidents
    # its shipments, its merchants and one event insert per merchant (plus savepoints)
    assert few == many


def test_the_scan_stays_within_its_statement_budget(
    merchant_la, shipment_of, django_assert_max_num_queries
):
    # given
    now = at("2026-04-10T12:00:00Z")
    for _ in range(50):
        shipment_of(
            merchant_la,
            status="in_transit",
            created_at=now - timedelta(days=10),
            status_changed_at=now - timedelta(days=7),
        )

    # when / then: six rule statements, three to record the one rule's events, and around each
    # rule the savepoint and its release that stand for its transaction inside the test's; then
    # the nine resolution statements (tracking/resolution.py) in one more such transaction; and
    # once a scan the merchants' zones PostgreSQL knows (its zone names at most hourly)
    with django_assert_max_num_queries(6 + 3 + 2 * 6 + 9 + 2 + 2):
        assert delays_scan(now=now).counts == counts(no_scan_in_transit=50)


# --- the task -----------------------------------------------------------------------------


def test_the_scan_is_scheduled_hourly_by_beat_on_the_default_queue(merchant_la, shipment_of):
    # then
    entry = settings.CELERY_BEAT_SCHEDULE["tracking-delays"]
    assert (entry["task"], entry["schedule"], entry["options"]["queue"]) == (
        "tracking.tasks.delays_scan",
        timedelta(hours=1),
        "default",
    )
    assert "tracking.tasks.delays_scan" in app.tasks

    # and the task scans at the current time
    shipment_of(merchant_la, status="exception", created_at=timezone.now() - timedelta(hours=1))
    assert delays_scan_task.apply().get() == counts(exception=1)


def test_the_shipments_of_a_cancelled_order_are_never_late(merchant_la, shipment_of):
    # given
    shipment = shipment_of(merchant_la, status="exception", created_at=at("2026-04-01T12:00:00Z"))
    shipment.order.cancelled_at = at("2026-04-01T13:00:00Z")
    shipment.order.save(update_fields=["cancelled_at"])

    # when / then
    assert delays_scan(now=at("2026-04-02T12:00:00Z")).counts == ZERO


def test_on_another_database_the_scan_does_nothing_and_touches_no_row(
    merchant_la, shipment_of, monkeypatch, django_assert_num_queries
):
    # given: a shipment that is late by any rule, and the embedded mode's database
    shipment_of(
        merchant_la,
        status="exception",
        created_at=at("2026-04-01T12:00:00-07:00"),
        status_changed_at=at("2026-04-02T12:00:00-07:00"),
    )
    monkeypatch.setattr(connection, "vendor", "sqlite")

    # when / then: no statement at all, nothing raised
    with django_assert_num_queries(0):
        result = delays_scan(now=at("2026-04-20T12:00:00Z"))
    assert result.counts == {}
    monkeypatch.undo()
    assert DelayIncident.unscoped.count() == 0


def test_incidents_older_than_13_months_go_in_the_retention_run(merchant_la, shipment_of):
    from postpurchase.retention.registry import logs
    from postpurchase.retention.services import log_retain

    # given: two incidents, found just before and exactly at the cutoff (396 days ago)
    now = at("2027-05-01T12:00:00Z")
    cutoff = now - timedelta(days=396)
    shipment = shipment_of(merchant_la, status="exception", created_at=at("2026-03-01T12:00:00Z"))
    for found in (cutoff - timedelta(seconds=1), cutoff):
        DelayIncident.unscoped.create(
            merchant=merchant_la, order=shipment.order, shipment=shipment, reason="exception",
            since=found, delayed_at=found, detected_at=found,
        )  # fmt: skip

    # when
    done = log_retain(
        logs.get("delay_incidents"), now=now, batch_size=100, budget=timedelta(minutes=1)
    )

    # then
    assert done.deleted == 1
    assert list(DelayIncident.unscoped.values_list("detected_at", flat=True)) == [cutoff]


# --- the scan's prefilter ---------------------------------------------------------------------

# Offsets at both ends (+14:00, -11:00), a zone whose offset jumped by a whole day (Apia left out
# 30 December 2011) and one whose clocks move by half an hour.
EDGE_ZONES = ("Pacific/Kiritimati", "Pacific/Pago_Pago", "Pacific/Apia", "Australia/Lord_Howe")
ACROSS_THE_JUMP = at("2012-01-04T00:00:00+00:00")


def test_the_prefilter_leaves_out_no_delay_in_any_zone(db, shipment_of):
    # given: in each zone, parcels last scanned every five hours from 2 to 9 days before the
    # scan and from 27 to 33 (across Apia's jump), and parcels due from 3 days ago to 3 days on
    for zone in EDGE_ZONES:
        merchant = MerchantFactory(slug=zone.split("/")[1].lower(), timezone=zone)
        for hours in (*range(48, 9 * 24, 5), *range(27 * 24, 33 * 24, 5)):
            last = ACROSS_THE_JUMP - timedelta(hours=hours)
            shipment_of(merchant, status="in_transit", created_at=last, status_changed_at=last)
        for days in range(-3, 4):
            due = ACROSS_THE_JUMP.date() + timedelta(days=days)
            shipment_of(
                merchant,
                status="in_transit",
                created_at=ACROSS_THE_JUMP,
                status_changed_at=ACROSS_THE_JUMP,
                estimated_delivery=due,
            )

    # when: each rule's statement with its prefilter, and the same without
    def found(rule, expiring):
        params = {"statuses": list(rule.statuses), "reason": rule.reason.value, "limit": 10_000}
        with transaction.atomic():
            sql = delays._shipment_statement(rule, expiring=expiring)
            rows = delays._insert(sql, {**params, "now": ACROSS_THE_JUMP})
            transaction.set_rollback(True)
        return sorted((row.shipment_id, row.since, row.delayed_at) for row in rows)

    rules = [(rule, False) for rule in delays.SHIPMENT_RULES] + [(delays.EXPIRED_RULE, True)]
    compared = {
        rule.reason.value: (found(rule, expiring), found(replace(rule, prefilter="TRUE"), expiring))
        for rule, expiring in rules
    }

    # then: the same incidents, and the rules that have data found some
    for reason, (filtered, every) in compared.items():
        assert filtered == every, reason
    found_counts = {reason: len(rows) for reason, (rows, _) in compared.items()}
    assert found_counts["no_scan_in_transit"] > 0
    assert found_counts["past_estimated_delivery"] > 0
    assert found_counts["expired"] > 0
