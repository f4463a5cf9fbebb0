"""Two delay scans at once on PostgreSQL, each in a thread with its own connection and its own
transactions, as two beat runs on two workers would: each incident still raises one event."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from postpurchase.events.models import Event
from tracking.delays import delays_scan
from tracking.models import DelayIncident

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
WAIT = 10  # seconds; only reached when something is broken


def scan_in_own_connection(start: threading.Barrier) -> dict[str, int]:
    try:
        start.wait()
        return delays_scan(now=NOW).counts
    finally:
        connection.close()


def test_two_scans_at_once_raise_each_incident_once(merchant_la, merchant_b, shipment_of):
    # given: a stalled shipment and one in exception, at two merchants
    for merchant in (merchant_la, merchant_b):
        shipment_of(
            merchant,
            status="in_transit",
            created_at=NOW - timedelta(days=10),
            status_changed_at=NOW - timedelta(days=6),
        )
        shipment_of(
            merchant,
            status="exception",
            substatus="damaged",
            created_at=NOW - timedelta(days=3),
            status_changed_at=NOW - timedelta(days=1),
        )
    start = threading.Barrier(2, timeout=WAIT)

    # when: two scans released together
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(scan_in_own_connection, start) for _ in range(2)]
        outcomes = [future.result(timeout=3 * WAIT) for future in futures]

    # then: between them they raised each incident once, and one event each
    for reason in ("no_scan_in_transit", "exception"):
        assert sum(outcome[reason] for outcome in outcomes) == 2
    events = Event.unscoped.filter(type="shipment.delayed")
    assert sorted(events.values_list("merchant__slug", "payload__reason")) == [
        ("bravo", "exception"),
        ("bravo", "no_scan_in_transit"),
        ("lima", "exception"),
        ("lima", "no_scan_in_transit"),
    ]
    assert DelayIncident.unscoped.count() == 4


def waiting_on_a_lock(pid: int) -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_a_scan_meeting_an_uncommitted_incident_waits_and_then_raises_nothing(
    merchant_la, shipment_of
):
    # given: a stalled shipment, and a first scan that has inserted its incident and event but
    # not committed yet
    shipment_of(
        merchant_la,
        status="in_transit",
        created_at=NOW - timedelta(days=10),
        status_changed_at=NOW - timedelta(days=6),
    )
    scanned, release = threading.Event(), threading.Event()
    second_pid = []

    def first_scan():
        try:
            with transaction.atomic():
                counts = delays_scan(now=NOW).counts
                scanned.set()
                if not release.wait(WAIT):
                    raise TimeoutError("the test never released the first scan")
            return counts
        finally:
            connection.close()

    def second_scan():
        try:
            second_pid.append(connection.cursor().connection.info.backend_pid)
            return delays_scan(now=NOW).counts
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        try:
            first = pool.submit(first_scan)
            assert scanned.wait(WAIT), "the first scan never finished its statements"

            # when: a second scan runs meanwhile; it waits on the first's uncommitted row
            second = pool.submit(second_scan)
            for _ in range(WAIT * 100):
                if second_pid and waiting_on_a_lock(second_pid[0]):
                    break
                threading.Event().wait(0.01)
            else:
                raise AssertionError("the second scan never waited on the first's incident")

            # and the first commits
            release.set()
            first_counts, second_counts = first.result(timeout=WAIT), second.result(timeout=WAIT)
        finally:
            release.set()

    # then: the first raised the incident, the second nothing
    assert first_counts["no_scan_in_transit"] == 1
    assert second_counts["no_scan_in_transit"] == 0
    assert Event.unscoped.filter(type="shipment.delayed").count() == 1
