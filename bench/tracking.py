"""The shopper's tracking page under load on PostgreSQL, beside its bare queries
(docs/benchmarks/tracking.md).

    .venv/bin/python bench/tracking.py --shipments 100000 --rate 400 --seconds 30

Makes a fresh database (``--database``, default ``pp_bench_tracking_page``; dropped first) and
fills it as ``bench/tracking_delays.py`` does (``--shipments`` in-transit shipments over ten
merchants, one order each), then adds what a page shows: two lines per order (of a catalogue of
200 products, so pairs exist), each shipment's lines, ``--scans`` checkpoints per shipment, and
the first merchant's bought-together pairs (``pairings_refresh``). Then:

1. floor: the SQL one page view runs (captured from a real request in-process), replayed
   straight on a connection for ``--floor`` pages of random shipments: what the database alone
   costs a view (the view itself is counted in Redis, flushed in batches: see 2.);
2. load: gunicorn (``--workers``, PRODUCTION and DEBUG off, persistent connections, Redis as the
   cache) serves ``GET /s/<slug>/track/<token>/?parcel=<id>`` for random shipments of every
   merchant at ``--rate`` requests a second, open loop, for ``--seconds``: each request's latency
   counts from when it was due, so a slow server cannot hide its queue. Then the views the load
   counted in Redis are flushed to the database as the beat would, and that flush's cost is
   printed per view.

3. LCP: Debian's Chromium (Playwright) opens ``--lcp-runs`` pages on a throttled phone profile
   (390 by 844 at 3x scale, CPU 4 times slower, 150 ms round trip, 1.6 Mb/s down, 750 kb/s up: the
   "slow 4G" of Chrome's tools) with a cold cache each time, and reads the largest contentful
   paint the browser reports; prints its p75, and every request that left for another host.

The issue's targets: 400 requests/s with p99 at most 60 ms on 2 cores (client included); p75
LCP at most 2.5 s on the throttled phone; no third-party request.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    gunicorn_start,
    open_loop_get,
    percentile,
    pids_named,
    proc_stat,
    tree_cpu_seconds,
)
from bench.tracking_delays import load, setup_django  # noqa: E402

SECRET_KEY = "bench-tracking-page-secret-key-" + "k" * 40


def enlarge(*, scans: int, now: datetime) -> None:
    """Lines, shipment lines, checkpoints and a catalogue on top of the delay bench's rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders_product (merchant_id, external_id, sku, title, category, "
            "image_url, url, created_at, updated_at) "
            "SELECT m.id, 'p' || g, 'SKU' || g, 'Product ' || g, '', '', "
            "'https://shop.example/p/' || g, now(), now() "
            "FROM tenancy_merchant m CROSS JOIN generate_series(1, 200) g"
        )
        cursor.execute(
            "INSERT INTO orders_orderline (merchant_id, order_id, external_id, product_id, title, "
            "sku, quantity, unit_price, discount, position) "
            "SELECT o.merchant_id, o.id, 'l' || k, p.id, p.title, p.sku, 1, 25, 0, k "
            "FROM orders_order o CROSS JOIN generate_series(0, 1) k "
            "JOIN orders_product p ON p.merchant_id = o.merchant_id "
            "AND p.external_id = 'p' || (1 + (o.id * (k + 7) + k * 13) % 200)"
        )
        cursor.execute(
            "INSERT INTO orders_shipmentline (merchant_id, shipment_id, order_line_id, quantity) "
            "SELECT s.merchant_id, s.id, l.id, l.quantity FROM orders_shipment s "
            "JOIN orders_orderline l ON l.order_id = s.order_id"
        )
        cursor.execute(
            "INSERT INTO orders_trackingevent (merchant_id, shipment_id, status, substatus, "
            "raw_status, description, location, occurred_at, raw, created_at) "
            "SELECT s.merchant_id, s.id, 'in_transit', '', 'IT', 'Arrived at facility ' || k, "
            "'Louisville, KY', s.status_changed_at - make_interval(hours => k * 7), '{}', now() "
            "FROM orders_shipment s CROSS JOIN generate_series(0, %s - 1) k",
            [scans],
        )
        # VACUUM too: PostgreSQL's autovacuum would otherwise vacuum the freshly inserted
        # tables (its insert threshold) during the first load run, stalling it for 0.1-0.2 s.
        cursor.execute("VACUUM ANALYZE")
    from postpurchase.tenancy.models import Merchant
    from tracking.pairings import pairings_refresh

    for merchant in Merchant.objects.order_by("pk"):
        pairings_refresh(merchant=merchant, now=now)


def sample_paths(count: int) -> list[str]:
    """``count`` page addresses of random shipments of every merchant, signed as messages are."""
    from orders.models import Shipment
    from postpurchase.tenancy.models import Merchant
    from tracking.links import tracking_token

    slugs = dict(Merchant.objects.values_list("pk", "slug"))
    ids = list(Shipment.unscoped.values_list("pk", "merchant_id", "order_id"))
    rng = random.Random(7)
    paths = []
    for shipment_id, merchant_id, order_id in rng.sample(ids, min(count, len(ids))):
        token = tracking_token(merchant_id=merchant_id, order_id=order_id)
        paths.append(f"/s/{slugs[merchant_id]}/track/{token}/?parcel={shipment_id}")
    return paths


def floor(paths: list[str]) -> dict:
    """The page's own SQL, replayed on one connection, per page (ms)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    timings = []
    statements = 0
    for path in paths:
        connection.queries_log.clear()  # the log keeps 9,000 at most: each page starts empty
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, HTTP_HOST="127.0.0.1")
            assert response.status_code == 200, response.status_code
        # A connection's first view prepares its statements (postpurchase.rows); the replay
        # on the same connection runs them as every later view does.
        sql = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("PREPARE")]
        statements = len(sql)
        with connection.cursor() as cursor:
            started = time.perf_counter()
            for statement in sql:
                cursor.execute(statement)
            timings.append((time.perf_counter() - started) * 1000)
    return {
        "pages": len(timings),
        "statements_per_page": statements,
        "mean_ms": statistics.fmean(timings),
        "p50_ms": percentile(timings, 0.50),
        "p99_ms": percentile(timings, 0.99),
    }


def start_gunicorn(args, url: str) -> subprocess.Popen:
    return gunicorn_start(
        url=url,
        redis=args.redis,
        port=args.port,
        workers=args.workers,
        probe="/s/nobody/",
        env={"SECRET_KEY": SECRET_KEY},
    )


def postgres_cpu_seconds() -> float:
    """CPU seconds used so far by PostgreSQL's live processes (this machine's server)."""
    ticks = 0
    for pid in pids_named("postgres"):
        fields = proc_stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def load_with_cpu(server, port: int, paths: list[str], rate: float, seconds: float) -> dict:
    """``open_loop_get`` at ``rate``, and the CPU it cost, per request served (ms): gunicorn's
    processes, PostgreSQL's and this client's."""
    before = (tree_cpu_seconds(server.pid), postgres_cpu_seconds(), time.process_time())
    result = open_loop_get(port=port, paths=paths, rate=rate, seconds=seconds)
    after = (tree_cpu_seconds(server.pid), postgres_cpu_seconds(), time.process_time())
    served = result["requests"]
    for name, start, end in zip(("gunicorn", "postgres", "client"), before, after, strict=True):
        result[f"cpu_ms_{name}"] = round((end - start) * 1000 / served, 2)
    return result


def counts_flush(views: int = 0) -> dict:
    """``tracking.counters.flush`` of what the load counted in Redis (the beat does it every
    ten seconds), and its cost: wall time, and CPU here and in PostgreSQL, per view counted."""
    from tracking.counters import flush

    before = (time.perf_counter(), time.process_time(), postgres_cpu_seconds())
    written = flush()
    after = (time.perf_counter(), time.process_time(), postgres_cpu_seconds())
    wall, cpu, pg = ((end - start) * 1000 for start, end in zip(before, after, strict=True))
    per = max(views, 1)
    return {
        "rows": written,
        "wall_ms": round(wall, 1),
        "cpu_ms_per_view": round(cpu / per, 3),
        "postgres_ms_per_view": round(pg / per, 3),
    }


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LCP_SCRIPT = """() => new Promise((resolve) => {
  new PerformanceObserver((list) => {
    const entries = list.getEntries();
    resolve(entries[entries.length - 1].startTime);
  }).observe({type: "largest-contentful-paint", buffered: true});
})"""


def lcp(args, paths: list[str], runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{args.port}"
    values, foreign = [], set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for path in paths[:runs]:
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True
            )
            page = context.new_page()
            page.on(
                "request",
                lambda request: (
                    foreign.add(request.url) if not request.url.startswith(base) else None
                ),
            )
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send(
                "Network.emulateNetworkConditions",
                {
                    "offline": False,
                    "latency": 150,
                    "downloadThroughput": 1.6 * 1024 * 1024 / 8,
                    "uploadThroughput": 750 * 1024 / 8,
                },
            )
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
            page.goto(base + path, wait_until="load")
            values.append(page.evaluate(LCP_SCRIPT))
            context.close()
        browser.close()
    return {
        "runs": len(values),
        "p50_ms": percentile(values, 0.50),
        "p75_ms": percentile(values, 0.75),
        "max_ms": max(values),
        "third_party_requests": sorted(foreign),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="pp_bench_tracking_page")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=6)
    parser.add_argument("--now", default="2026-04-15T12:00:00+00:00")
    parser.add_argument("--floor", type=int, default=300, help="pages replayed for the floor")
    parser.add_argument("--paths", type=int, default=5000, help="distinct pages requested")
    parser.add_argument("--rate", type=float, default=400)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--lcp-runs", type=int, default=20)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database a run before filled (no reload)"
    )
    parser.add_argument(
        "--baseline", type=float, default=0, help="then /healthz at this rate (0: not run)"
    )
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)

    os.environ["SECRET_KEY"] = SECRET_KEY
    os.environ["REDIS_URL"] = args.redis
    setup_django(args.pg, args.database, fresh=not args.reuse)
    url = os.environ["DATABASE_URL"]
    if not args.reuse:
        started = time.perf_counter()
        load(merchants=10, shipments=args.shipments, unfulfilled=0, now=now)
        enlarge(scans=args.scans, now=now)
        print(f"loaded {args.shipments} shipments in {time.perf_counter() - started:.1f} s")
    paths = sample_paths(args.paths)
    print("floor (the page's SQL alone):", floor(paths[: args.floor]))

    server = start_gunicorn(args, url)
    try:
        open_loop_get(port=args.port, paths=paths, rate=50, seconds=3)  # warm every worker
        counts_flush()  # what earlier runs counted
        result = load_with_cpu(server, args.port, paths, args.rate, args.seconds)
        print(f"load at {args.rate:g}/s for {args.seconds:g} s:", result)
        time.sleep(1.5)  # each worker's views of the last second reach Redis (its batch thread)
        print("the views' flush to the database:", counts_flush(views=result["requests"]))
        if args.baseline:
            # The same load on /healthz (one SELECT 1): what any request costs on this stack.
            bare = load_with_cpu(server, args.port, ["/healthz"], args.baseline, args.seconds)
            print(f"/healthz at {args.baseline:g}/s for {args.seconds:g} s:", bare)
        if args.lcp_runs:
            print("LCP on a throttled phone:", lcp(args, paths[::-1], args.lcp_runs))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
