"""Integrator API throughput and latency under gunicorn on PostgreSQL, beside the insert floor.

    .venv/bin/python bench/api.py                    # HTTP: gunicorn, bulk + single + floor
    .venv/bin/python bench/api.py --service-only     # the services in-process, no HTTP

Creates a fresh database (``--database``, dropped first), migrates it, creates a merchant, a
write API key and the demo catalogue through the services, loads another store's history
(``--history`` orders: a production database is never empty, and on empty tables PostgreSQL
plans its cached foreign-key checks as sequential scans), starts gunicorn (PRODUCTION and DEBUG
off, persistent connections, Redis as cache and broker; the events queue is left unconsumed and
emptied at the end), then measures:
  (a) bulk:   POST /api/v1/orders/bulk, 100 orders a request, from a few concurrent clients,
              with the CPU each group of processes used per 100 orders (gunicorn, postgres,
              redis, this client)
  (b) single: POST /api/v1/orders at a fixed rate, open loop (latency from the scheduled send)
  (c) floor:  the rows (a) wrote (customers with their figures, orders, lines, events) inserted
              straight into PostgreSQL with psycopg2 COPY in one transaction
and prints (a)/(c). The orders come from the demo generator; each carries its customer, as a
store's order feed does; products are in the catalogue already.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import zlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from queue import Queue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

from bench.common import fresh_database, gunicorn_start  # noqa: E402 - after the path is set


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="pp_bench_api")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--bulk-orders", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--history",
        type=int,
        default=3000,
        help="orders another merchant holds before the clock starts (0: empty tables)",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent bulk clients")
    parser.add_argument(
        "--no-shard",
        dest="shard",
        action="store_false",
        help="clients share one stream of orders (else each customer's orders go to one client)",
    )
    parser.add_argument("--rate", type=float, default=100.0, help="single POSTs per second")
    parser.add_argument("--seconds", type=float, default=25.0, help="length of the single run")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--service-only", action="store_true")
    return parser.parse_args()


def prepare(args: argparse.Namespace, url: str):
    """Migrate, then a merchant, a write key, the catalogue and the order payloads."""
    os.environ.update(DATABASE_URL=url, REDIS_URL=args.redis, CELERY_BROKER_URL=args.redis)
    import django

    django.setup()
    from django.core.management import call_command

    from orders import demo
    from orders.services import product_upsert
    from postpurchase.tenancy.services import api_key_create, merchant_create

    call_command("migrate", verbosity=0)
    singles = int(args.rate * args.seconds) + 50
    total = args.bulk_orders + singles
    plan = demo.demo_plan(anchor=date(2026, 11, 1), customers=max(total // 3, 1), orders=total)
    merchant = merchant_create(
        slug="bench-api", name="Bench", timezone="America/New_York", currency="USD", country="US"
    )
    key = api_key_create(merchant=merchant, name="bench").plaintext
    floor = merchant_create(
        slug="bench-floor", name="Floor", timezone="America/New_York", currency="USD", country="US"
    )
    history = merchant_create(
        slug="bench-history", name="History", timezone="UTC", currency="USD", country="US"
    )
    for payload in plan.products:
        for owner in (merchant, floor, history):
            product_upsert(merchant=owner, payload=payload)
    people = {payload["external_id"]: payload for _, payload in plan.customers}
    orders = []
    for order, _ in plan.orders:
        order = dict(order)
        order["customer"] = people[order.pop("customer_external_id")]
        orders.append(order)
    load_history(history, orders[: args.history])
    return merchant, key, orders[: args.bulk_orders], orders[args.bulk_orders :]


def load_history(merchant, orders: list[dict]) -> None:
    """Another store's orders, in the database before the clock starts: a production database
    is never empty. On empty tables PostgreSQL plans the foreign-key checks each connection
    caches as sequential scans, which stay until the next ANALYZE of the table (autovacuum's,
    within a minute in production) and cost a cold benchmark about half of its database time."""
    from orders.services.orders import order_bulk_ingest

    for start in range(0, len(orders), 500):
        order_bulk_ingest(merchant=merchant, payloads=orders[start : start + 500])


def start_gunicorn(args: argparse.Namespace, url: str) -> subprocess.Popen:
    return gunicorn_start(
        url=url,
        redis=args.redis,
        port=args.port,
        workers=args.workers,
        probe="/api/v1/orders",
        env={"API_RATE_LIMIT": "100000/s"},
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def client_batches(args, orders: list[dict]) -> list[list[list[dict]]]:
    """Each client's batches. With ``--shard`` every customer's orders go to one client, as an
    integrator would split a parallel import; otherwise the clients share one stream."""
    if not args.shard:
        shared = [orders[i : i + args.batch] for i in range(0, len(orders), args.batch)]
        return [shared[k :: args.clients] for k in range(args.clients)]
    shards: list[list[dict]] = [[] for _ in range(args.clients)]
    for order in orders:
        shards[zlib.crc32(order["customer"]["external_id"].encode()) % args.clients].append(order)
    return [[s[i : i + args.batch] for i in range(0, len(s), args.batch)] for s in shards]


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far by each group of processes on this machine:
    gunicorn, postgres, redis, this script, and the rest (from /proc; Linux only)."""
    ticks = os.sysconf("SC_CLK_TCK")
    groups: dict[str, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            cmdline = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue  # it ended meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        if int(entry.name) == os.getpid():
            group = "client"
        elif b"gunicorn" in cmdline:
            group = "gunicorn"
        elif comm.startswith("postgres") or cmdline.startswith(b"postgres"):
            group = "postgres"
        elif comm.startswith("redis"):
            group = "redis"
        else:
            group = "other"
        groups[group] = groups.get(group, 0.0) + used
    return groups


def cpu_used(before: dict[str, float], after: dict[str, float], orders: int) -> dict:
    """CPU milliseconds per 100 orders, by group, between two ``cpu_seconds`` readings
    (processes that started or ended between them count from zero or not at all)."""
    per = {
        group: round((after.get(group, 0.0) - before.get(group, 0.0)) * 1000 * 100 / orders, 1)
        for group in sorted(set(before) | set(after))
    }
    per["total"] = round(sum(per.values()), 1)
    return per


def bulk_over_http(args, key: str, orders: list[dict]) -> dict:
    """(a): every order posted once, in batches of ``--batch``, by ``--clients`` threads."""
    import requests

    url = f"http://127.0.0.1:{args.port}/api/v1/orders/bulk"
    counts: dict[str, int] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def client(batches: list[list[dict]]) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        for batch in batches:
            response = session.post(url, json={"orders": batch}, timeout=120)
            with lock:
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                    continue
                for status, count in response.json()["counts"].items():
                    counts[status] = counts.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(b,)) for b in client_batches(args, orders)]
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "orders_per_s": len(orders) / seconds,
        "counts": counts,
        "failures": failures,
        "cpu_ms_per_100_orders": cpu_used(cpu_before, cpu_seconds(), len(orders)),
    }


def single_over_http(args, key: str, orders: list[dict]) -> dict:
    """(b): open loop at ``--rate``; each request's latency counts from its scheduled time, so a
    slow server cannot hide its queue (no coordinated omission)."""
    import requests

    url = f"http://127.0.0.1:{args.port}/api/v1/orders"
    count = int(args.rate * args.seconds)
    jobs: Queue = Queue()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def sender() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        while (job := jobs.get()) is not None:
            scheduled, payload = job
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                response = session.post(url, json=payload, timeout=30)
                ok = response.status_code in (200, 201)
                detail = f"{response.status_code} {response.text[:200]}"
            except requests.RequestException as exc:
                ok, detail = False, repr(exc)
            with lock:
                latencies.append(time.perf_counter() - scheduled)
                if not ok:
                    errors.append(detail)

    senders = [threading.Thread(target=sender) for _ in range(32)]
    for thread in senders:
        thread.start()
    start = time.perf_counter() + 0.5
    for n in range(count):
        jobs.put((start + n / args.rate, orders[n]))
    for _ in senders:
        jobs.put(None)
    for thread in senders:
        thread.join()
    return latency_summary(latencies, errors, time.perf_counter() - start)


def latency_summary(latencies: list[float], errors: list[str], seconds: float) -> dict:
    ms = [value * 1000 for value in latencies]
    return {
        "requests": len(ms),
        "seconds": seconds,
        "p50_ms": percentile(ms, 0.50),
        "p95_ms": percentile(ms, 0.95),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms),
        "mean_ms": statistics.fmean(ms),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def warm_up(args, key: str, orders: list[dict]) -> None:
    """Every worker imports and connects before the clock starts (the orders are not reused)."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    for payload in orders:
        session.post(f"http://127.0.0.1:{args.port}/api/v1/orders", json=payload, timeout=30)


def service_only(args, merchant, orders: list[dict], singles: list[dict]) -> dict:
    """(a) and (b) without HTTP: the services in this process, one caller."""
    from orders.services.orders import order_bulk_ingest, order_ingest

    started = time.perf_counter()
    for start in range(0, len(orders), args.batch):
        order_bulk_ingest(merchant=merchant, payloads=orders[start : start + args.batch])
    seconds = time.perf_counter() - started
    latencies = []
    for payload in singles[:2000]:
        began = time.perf_counter()
        order_ingest(merchant=merchant, payload=payload)
        latencies.append(time.perf_counter() - began)
    return {
        "bulk": {"seconds": seconds, "orders_per_s": len(orders) / seconds},
        "single": latency_summary(latencies, [], sum(latencies)),
    }


# --- (c) the floor -----------------------------------------------------------------------------

CUSTOMER_COLUMNS = (
    "id, merchant_id, external_id, email, phone, first_name, last_name, timezone, locale, "
    "birthday, tags, email_marketing_consent, email_consent_updated_at, email_consent_source, "
    "sms_marketing_consent, sms_consent_updated_at, sms_consent_source, orders_count, "
    "first_order_at, last_order_at, total_spent, created_at, updated_at"
)
ORDER_COLUMNS = (
    "id, merchant_id, external_id, number, customer_id, placed_at, currency, subtotal, "
    "discount, shipping, tax, total, financial_status, fulfillment_status, cancelled_at, "
    "cancel_reason, source, source_updated_at, created_at, updated_at, shipping_address"
)
LINE_COLUMNS = (
    "merchant_id, order_id, external_id, product_id, title, sku, quantity, unit_price, "
    "discount, position"
)
EVENT_COLUMNS = (
    "merchant_id, customer_id, type, occurred_at, recorded_at, payload, dedupe_key, source, "
    "next_dispatch_at"
)


def _copy_text(rows: list[tuple]) -> str:
    def field(value) -> str:
        if value is None:
            return "\\N"
        text = value if isinstance(value, str) else str(value)
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    return "".join("\t".join(field(v) for v in row) + "\n" for row in rows)


def _ids(cursor, table: str, count: int) -> list[int]:
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )
    return sorted(row[0] for row in cursor.fetchall())


def _figures(orders: list[dict], currency: str) -> dict[str, tuple]:
    """Each customer's derived figures as the engine computes them (orders not cancelled: count,
    first and last placed, total spent in the shop's currency), by customer external id."""
    figures: dict[str, tuple] = {}
    for o in orders:
        external_id = o["customer"]["external_id"]
        count, first, last, spent = figures.get(external_id, (0, None, None, Decimal(0)))
        if not o.get("cancelled_at"):
            placed = datetime.fromisoformat(o["placed_at"])
            count += 1
            first = placed if first is None else min(first, placed)
            last = placed if last is None else max(last, placed)
            if o["currency"] == currency:
                spent += Decimal(o["total"])
        figures[external_id] = (count, first, last, spent)
    return figures


def _floor_customers(merchant_id: int, orders: list[dict], ids: list[int], now: str, currency):
    people = {order["customer"]["external_id"]: order["customer"] for order in orders}
    figures = _figures(orders, currency)
    rows, by_external_id = [], {}
    for pk, (external_id, c) in zip(ids, people.items(), strict=True):
        by_external_id[external_id] = pk
        email_at = c.get("consent_updated_at") if c.get("accepts_email_marketing") else None
        sms_at = c.get("consent_updated_at") if c.get("accepts_sms_marketing") else None
        count, first, last, spent = figures[external_id]
        rows.append(
            (pk, merchant_id, external_id, c.get("email", "").lower(), c.get("phone", ""),
             c.get("first_name", ""), c.get("last_name", ""), c.get("timezone", ""),
             c.get("locale", ""), c.get("birthday"), json.dumps(c.get("tags", [])),
             bool(c.get("accepts_email_marketing")), email_at, c.get("consent_source", ""),
             bool(c.get("accepts_sms_marketing")), sms_at, c.get("consent_source", ""), count,
             first, last, spent, now, now)
        )  # fmt: skip
    return rows, by_external_id


def _floor_orders(merchant_id, orders, ids, customers, products, now):
    order_rows, line_rows, event_rows = [], [], []
    for pk, o in zip(ids, orders, strict=True):
        customer_id = customers[o["customer"]["external_id"]]
        order_rows.append(
            (pk, merchant_id, o["external_id"], o["number"], customer_id, o["placed_at"],
             o["currency"], o["subtotal"], o.get("discount", "0"), o.get("shipping", "0"),
             o.get("tax", "0"), o["total"], o.get("financial_status", "paid"),
             o.get("fulfillment_status", "unfulfilled"), o.get("cancelled_at"),
             o.get("cancel_reason", ""), o.get("source", "api"), o.get("updated_at"), now, now,
             json.dumps(o.get("shipping_address") or {}))
        )  # fmt: skip
        for position, line in enumerate(o["lines"]):
            line_rows.append(
                (merchant_id, pk, line["external_id"], products[line["product_external_id"]],
                 line["title"], line.get("sku", ""), line["quantity"], line["unit_price"],
                 line.get("discount", "0"), position)
            )  # fmt: skip
        payload = json.dumps({"order_id": pk, "external_id": o["external_id"], "total": o["total"],
                              "line_count": len(o["lines"]), "first_order": False})  # fmt: skip
        kinds = [("order.placed", o["placed_at"])]
        if o.get("fulfillment_status") == "fulfilled":
            kinds.append(("order.fulfilled", o.get("updated_at") or now))
        if o.get("cancelled_at"):
            kinds.append(("order.cancelled", o["cancelled_at"]))
        for kind, occurred_at in kinds:
            event_rows.append(
                (merchant_id, customer_id, kind, occurred_at, now, payload,
                 f"{kind}:{o['external_id']}", "api", now)
            )  # fmt: skip
    return order_rows, line_rows, event_rows


def floor_insert(url: str, orders: list[dict], currency: str) -> dict:
    """(c): the same rows, straight into PostgreSQL, one transaction, for a merchant of its own
    (its catalogue loaded first, untimed). The customers' derived figures are computed here and
    copied with their rows: the floor does no read-modify-write at all."""
    import psycopg2

    connection = psycopg2.connect(url)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_merchant WHERE slug = 'bench-floor'")
        merchant_id = cursor.fetchone()[0]
        cursor.execute(
            "SELECT external_id, id FROM orders_product WHERE merchant_id = %s", [merchant_id]
        )
        products = dict(cursor.fetchall())
    started = time.perf_counter()
    now = "2026-11-22T00:00:00+00:00"
    with connection, connection.cursor() as cursor:
        people = len({order["customer"]["external_id"] for order in orders})
        customer_rows, customers = _floor_customers(
            merchant_id, orders, _ids(cursor, "orders_customer", people), now, currency
        )
        order_rows, line_rows, event_rows = _floor_orders(
            merchant_id, orders, _ids(cursor, "orders_order", len(orders)), customers, products, now
        )
        for table, columns, rows in (
            ("orders_customer", CUSTOMER_COLUMNS, customer_rows),
            ("orders_order", ORDER_COLUMNS, order_rows),
            ("orders_orderline", LINE_COLUMNS, line_rows),
            ("events_event", EVENT_COLUMNS, event_rows),
        ):
            cursor.copy_expert(
                f"COPY {table} ({columns}) FROM STDIN", io.StringIO(_copy_text(rows))
            )
    seconds = time.perf_counter() - started
    connection.close()
    rows = len(customer_rows) + len(order_rows) + len(line_rows) + len(event_rows)
    return {
        "seconds": seconds,
        "orders_per_s": len(orders) / seconds,
        "rows": rows,
        "rows_per_s": rows / seconds,
        "customers": len(customer_rows),
        "lines": len(line_rows),
        "events": len(event_rows),
    }


def rows_written(merchant) -> dict:
    """What (a) wrote, to compare with the floor's rows."""
    from orders.models import Customer, Order, OrderLine
    from postpurchase.events.models import Event

    return {
        name: model.unscoped.filter(merchant=merchant).count()
        for name, model in (
            ("customers", Customer),
            ("orders", Order),
            ("lines", OrderLine),
            ("events", Event),
        )
    }


def drain_queue(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).delete("celery")


def settle() -> None:
    """Between phases: statistics for the planner (a production database has them from
    autovacuum) and a checkpoint, so one phase does not pay for the previous one's writes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("CHECKPOINT")


def main() -> None:
    args = parse_args()
    url = fresh_database(args.pg, args.database)
    merchant, key, orders, singles = prepare(args, url)
    from django.db import connection

    machine = f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    print(f"PostgreSQL {connection.pg_version // 10000}, {machine}, {len(orders)} bulk orders")
    if args.service_only:
        figures = service_only(args, merchant, orders, singles)
    else:
        server = start_gunicorn(args, url)
        try:
            warm_up(args, key, singles[-20:])
            settle()
            warmed = rows_written(merchant)
            figures = {"bulk": bulk_over_http(args, key, orders)}
            after = rows_written(merchant)
            figures["bulk"]["rows"] = {k: after[k] - warmed[k] for k in after}
            settle()
            figures["single"] = single_over_http(args, key, singles)
        finally:
            server.terminate()
            server.wait(timeout=30)
    connection.close()
    figures["floor"] = floor_insert(url, orders, currency=merchant.currency)
    figures["ratio"] = figures["bulk"]["orders_per_s"] / figures["floor"]["orders_per_s"]
    figures["load_after"] = os.getloadavg()[0]
    drain_queue(args.redis)
    print(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
