"""The delay scan over 100,000 in-transit shipments on PostgreSQL (docs/benchmarks/tracking.md).

    .venv/bin/python bench/tracking_delays.py --shipments 100000

Makes a fresh database (``--database``, default ``pp_bench_tracking``; dropped first if it
exists) on ``--pg``, migrates it, and fills it with plain SQL: ``--merchants`` active merchants
in five time zones (one has its own delay settings), one order per shipment, every shipment
``in_transit`` with its last scan spread over the five days before ``--now`` except one in a
hundred silent for five to eight days (no scan in transit), one in a hundred expected yesterday
(past the estimated delivery), and ``--unfulfilled`` orders without a shipment placed over the
week before (some past the promise). Then ANALYZE, and times:

1. the first scan at ``--now``: every incident found, inserted and its event recorded;
2. the same scan again: nothing new (what each hourly scan costs once incidents are raised);
3. a scan an hour later: the incidents that began in that hour;
4. after two in five of the shipments with an open incident were scanned again or delivered, a
   scan an hour after that: what it resolves (and raises).

The issue's target is 1 s for the scan over 100,000 in-transit shipments. The database is left
for a look; drop it afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database  # noqa: E402

ZONES = ("America/Los_Angeles", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC")


def setup_django(pg: str, name: str, *, fresh: bool = True) -> None:
    """Django on the database ``name`` (dropped and made anew unless not ``fresh``)."""
    os.environ["DATABASE_URL"] = fresh_database(pg, name) if fresh else f"{pg}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
    os.environ["CELERY_BROKER_URL"] = "memory://"  # dispatch tasks go nowhere
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(*, merchants: int, shipments: int, unfulfilled: int, now: datetime) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for index in range(merchants):
            cursor.execute(
                "INSERT INTO tenancy_merchant (slug, name, timezone, currency, country, "
                "default_locale, logo, logo_url, primary_colour, accent_colour, sender_name, "
                "sender_email, support_email, support_url, is_active, created_at, "
                "postal_address) VALUES (%s, %s, %s, 'USD', 'US', 'en', '', '', '#000000', "
                "'#000000', '', '', '', '', true, now(), '')",
                [f"bench-{index}", f"Bench {index}", ZONES[index % len(ZONES)]],
            )
        cursor.execute("SELECT array_agg(id ORDER BY id) FROM tenancy_merchant")
        [ids] = cursor.fetchone()
        cursor.execute(
            "INSERT INTO tracking_delaysettings (merchant_id, first_scan_days, "
            "transit_scan_days, fulfillment_promise_days, expired_days, created_at, updated_at) "
            "VALUES (%s, 2, 4, 2, 30, now(), now())",
            [ids[0]],
        )
        # One order per shipment, then the unfulfilled orders; merchant by id modulo.
        cursor.execute(
            "INSERT INTO orders_order (merchant_id, external_id, number, placed_at, currency, "
            "subtotal, discount, shipping, tax, total, financial_status, fulfillment_status, "
            "cancel_reason, source, shipping_address, created_at, updated_at) "
            "SELECT (%(ids)s::bigint[])[1 + g %% %(m)s], 'o' || g, '#' || g, "
            "%(now)s - make_interval(mins => 7200 + g %% 1440), 'USD', 50, 0, 0, 0, 50, 'paid', "
            "CASE WHEN g > %(n)s THEN 'unfulfilled' ELSE 'fulfilled' END, '', 'bench', '{}', "
            "%(now)s, %(now)s FROM generate_series(1, %(n)s + %(u)s) g",
            {"ids": ids, "m": merchants, "n": shipments, "u": unfulfilled, "now": now},
        )
        cursor.execute(
            "UPDATE orders_order SET placed_at = %(now)s - make_interval(mins => "
            "(substr(external_id, 2)::int * 37) %% 10080) WHERE fulfillment_status = "
            "'unfulfilled'",
            {"now": now},
        )
        cursor.execute(
            "INSERT INTO orders_shipment (merchant_id, order_id, external_id, carrier, "
            "tracking_number, tracking_url, status, substatus, status_changed_at, "
            "estimated_delivery, shipped_at, created_at, updated_at) "
            "SELECT o.merchant_id, o.id, 'f' || g, 'UPS', '1Z' || g, '', 'in_transit', '', "
            "CASE WHEN g %% 100 = 0 THEN %(now)s - make_interval(mins => 7200 + g %% 4320) "
            "ELSE %(now)s - make_interval(mins => g %% 7200) END, "
            "CASE WHEN g %% 100 = 1 THEN (%(now)s - interval '1 day')::date "
            "ELSE (%(now)s + interval '3 days')::date END, "
            "o.placed_at, o.placed_at, o.placed_at "
            "FROM generate_series(1, %(n)s) g "
            "JOIN orders_order o ON o.external_id = 'o' || g",
            {"n": shipments, "now": now},
        )
        cursor.execute("ANALYZE")


def timed(label: str, now: datetime) -> float:
    from tracking.delays import delays_scan

    started = time.perf_counter()
    result = delays_scan(now=now)
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.3f} s  {result.counts}  resolved {result.resolved}")
    return elapsed


def parcels_move(at: datetime) -> None:
    """Of the shipments with an open incident, one in five is scanned again at ``at`` and one in
    five delivered: what the next scan resolves (tracking/resolution.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_shipment sh SET status = CASE WHEN sh.id %% 2 = 0 THEN 'delivered' "
            "ELSE 'out_for_delivery' END, status_changed_at = %(at)s, "
            "delivered_at = CASE WHEN sh.id %% 2 = 0 THEN %(at)s END "
            "WHERE sh.id %% 5 < 2 AND sh.id IN (SELECT shipment_id FROM tracking_delayincident "
            "WHERE resolved_at IS NULL AND shipment_id IS NOT NULL)",
            {"at": at},
        )
        print(f"moved or delivered {cursor.rowcount} shipments with an open incident")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="pp_bench_tracking")
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--merchants", type=int, default=10)
    parser.add_argument("--unfulfilled", type=int, default=2_000)
    parser.add_argument("--now", default="2026-04-15T12:00:00+00:00")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)

    setup_django(args.pg, args.database)
    started = time.perf_counter()
    load(merchants=args.merchants, shipments=args.shipments, unfulfilled=args.unfulfilled, now=now)
    print(f"loaded {args.shipments} shipments in {time.perf_counter() - started:.1f} s")
    timed("first scan (every incident new)", now)
    timed("same scan again (nothing new)", now)
    timed("an hour later", now + timedelta(hours=1))
    parcels_move(now + timedelta(hours=1, minutes=30))
    timed("two hours later, after those parcels moved", now + timedelta(hours=2))
    # The first deliveries in this data: PostgreSQL's statistics still say none, until an
    # ANALYZE (autovacuum's, once a tenth of the table changed) tells the planner otherwise.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timed("three hours later, statistics fresh", now + timedelta(hours=3))


if __name__ == "__main__":
    main()
