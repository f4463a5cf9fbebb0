"""A soak: a steady mixed load on the API for minutes on end with the pipeline running, and
what it does to each process's memory, to the errors and to the queues.

    .venv/bin/python bench/soak.py                          # 10 minutes at 200 requests/s
    .venv/bin/python bench/soak.py --minutes 3 --rate 50    # shorter, lighter
    .venv/bin/python bench/soak.py --layout single

The stack is bench/pipeline.py's, started the same way (``--database-url``, ``--redis``, the
benchmark's own and flushed, ``--var-dir``, ``--layout``, ``--web-workers``): the SMTP server
as the mail provider, gunicorn, the Celery workers, beat. One merchant of its own, made as
there, with the order-confirmation journey live. Requests go out open loop at ``--rate`` per
second (each at its scheduled time, from a pool of sender threads), each of a kind drawn by
the weights of ``--mix``:
  orders     ``POST /orders``: a new order, placed now (its confirmation email is awaited);
  updates    ``PATCH /orders/by-external-id/<id>``: an order of the soak's gets a new shipping
             address (``order.updated``);
  shipments  ``POST /shipments``: an order without one ships, with its first carrier scan
             (``in_transit``);
  tracking   ``POST /shipments/<id>/tracking-events``: a shipment's next scan
             (``out_for_delivery``, then ``delivered``);
  events     ``POST /events``: a custom event for a customer of the soak.
A kind with nothing to act on yet (no order without a shipment, say) sends a new order
instead. A request a sender comes to more than ``--max-late`` seconds after its time is
counted as missed, not sent: past what the server serves, the soak reports how much it served
rather than growing a queue of its own. Every ``--sample`` seconds it reads each process's
resident memory (RSS, from /proc, every process of every tree: gunicorn's master and workers,
each Celery worker's main process and its pool, beat, the SMTP server), each Celery queue's
length (Redis ``LLEN``), the requests and errors so far and the emails arrived; a line each
minute. At the end, after a drain of at most ``--drain-cap`` seconds:
  - memory: each process's RSS growth from the first minute after ``--warmup-minutes`` (not
    counted) to the last minute, mean against mean; target: at most 5 %;
  - errors: answers other than 2xx and failed requests by kind, lines at ERROR in the logs,
    orders with no confirmation or more than one;
  - queues: each queue's length, least, most and last, and the mean of the last third of the
    run against the first third after warm-up (bounded, or growing);
  - the CPU each group of processes used, as a share of one core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from queue import Queue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

from bench.common import (  # noqa: E402 - after the path is set
    percentile,
    tree_rss_bytes,
)
from bench.pipeline import (  # noqa: E402
    LAYOUTS,
    CpuMeter,
    Mailbox,
    Shop,
    Stack,
    layout_parse,
    mail_check,
    merchant_delete,
    order_payload,
    prepare,
    queue_depths,
    session_for,
    shop_create,
    warm_up,
)

KINDS = ("orders", "updates", "shipments", "tracking", "events")
NEXT_SCAN = {"in_transit": "out_for_delivery", "out_for_delivery": "delivered"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/pp_bench_pipeline",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/15",
        help="the benchmark's own Redis database: broker and cache, flushed at start and end",
    )
    parser.add_argument(
        "--var-dir",
        default=os.environ.get("VAR_DIR") or str(ROOT / "var" / "bench-soak"),
        help="logs, the SMTP arrivals, beat's schedule and the samples (JSON)",
    )
    parser.add_argument("--layout", default="compose", help="compose, single, or a spec")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--smtp-port", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument(
        "--mix",
        default="orders=30,updates=15,shipments=15,tracking=25,events=15",
        help="weights of the request kinds",
    )
    parser.add_argument("--senders", type=int, default=64, help="sender threads")
    parser.add_argument(
        "--max-late",
        type=float,
        default=5.0,
        help="seconds behind its time after which a request is counted missed, not sent",
    )
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup-minutes", type=float, default=2.0, help="not counted")
    parser.add_argument("--drain-cap", type=float, default=120.0)
    parser.add_argument("--warmup", type=int, default=10, help="orders before the clock starts")
    parser.add_argument("--keep-merchants", action="store_true")
    args = parser.parse_args(argv)
    weights = dict(part.split("=") for part in args.mix.split(","))
    if set(weights) - set(KINDS):
        parser.error(f"--mix: kinds are {', '.join(KINDS)}")
    args.mix = {kind: float(weights.get(kind, 0)) for kind in KINDS}
    args.workers = layout_parse(LAYOUTS.get(args.layout, args.layout), parser)
    args.phases = []  # what bench/pipeline.py's parts read
    if args.warmup_minutes >= args.minutes:
        parser.error("--warmup-minutes must be less than --minutes")
    return args


class Load:
    """Requests of the mixed kinds, open loop at ``rate`` per second: a scheduler hands each
    its send time and a pool of sender threads sends it then. A request whose sender comes to
    it more than ``max_late`` seconds after its time is not sent but counted as missed: the
    server is behind, and the soak measures what it serves, not how long a queue of the
    client's grows. What the later kinds act on (orders, shipments, customers) is what earlier
    requests made."""

    def __init__(self, base: str, shop: Shop, args: argparse.Namespace):
        self.base, self.shop, self.rate, self.max_late = base, shop, args.rate, args.max_late
        self.kinds, self.weights = list(args.mix), list(args.mix.values())
        self.jobs: Queue = Queue()
        self.missed = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.unshipped: deque[int] = deque()  # orders (their n) without a shipment
        self.shipped: deque[tuple[int, str]] = deque()  # (shipment id, its last scan)
        self.ordered: list[int] = []  # every order taken, for updates and custom events
        self.sent = {kind: 0 for kind in KINDS}
        self.failed: dict[str, int] = {}
        self.first_failures: list[str] = []
        self.late: list[float] = []
        self.numbers = itertools.count()
        self.threads = [
            threading.Thread(target=self._send, daemon=True) for _ in range(args.senders)
        ]

    def start(self, seconds: float) -> Load:
        self.scheduler = threading.Thread(target=self._schedule, args=(seconds,), daemon=True)
        for thread in [*self.threads, self.scheduler]:
            thread.start()
        return self

    def _schedule(self, seconds: float) -> None:
        rng = random.Random(7)
        start = time.monotonic() + 0.2
        for n in range(int(seconds * self.rate)):
            if self.stopping.is_set() or time.monotonic() > start + seconds:
                break
            at = start + n / self.rate
            ahead = at - time.monotonic() - 0.05
            if ahead > 0:
                time.sleep(ahead)
            self.jobs.put((at, rng.choices(self.kinds, self.weights)[0]))
        for _ in self.threads:
            self.jobs.put(None)

    def join(self) -> None:
        self.scheduler.join()
        for thread in self.threads:
            thread.join()

    def stop(self) -> None:
        self.stopping.set()
        self.join()

    def _send(self) -> None:
        session = session_for(self.shop)
        while (job := self.jobs.get()) is not None:
            at, kind = job
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif -delay > self.max_late:
                with self.lock:
                    self.missed += 1
                continue
            self.late.append(time.monotonic() - at)
            kind, request = self._request(kind)
            try:
                response = session.request(*request[:2], json=request[2], timeout=60)
                ok = 200 <= response.status_code < 300
                detail = f"{kind} {response.status_code} {response.text[:200]}"
            except Exception as exc:  # counted and shown, the soak goes on
                response, ok, detail = None, False, f"{kind} {exc!r}"
            with self.lock:
                self.sent[kind] += 1
                if not ok:
                    key = f"{kind} {response.status_code if response is not None else 'failed'}"
                    self.failed[key] = self.failed.get(key, 0) + 1
                    if len(self.first_failures) < 5:
                        self.first_failures.append(detail)
            if ok:
                self._done(kind, request, response)

    def _request(self, kind: str) -> tuple[str, tuple]:
        """The request for ``kind``, or a new order when there is nothing to act on yet."""
        now = datetime.now(UTC).isoformat()
        with self.lock:
            if kind == "shipments" and self.unshipped:
                n = self.unshipped.popleft()
                body = {
                    "external_id": f"PLs-{n}",
                    "order_external_id": f"PLs-{n}",
                    "carrier": "UPS",
                    "tracking_number": f"1Z{n:012d}",
                    "checkpoints": [{"status": "in_transit", "occurred_at": now}],
                }
                return kind, ("POST", f"{self.base}/api/v1/shipments", body)
            if kind == "tracking" and self.shipped:
                shipment, last = self.shipped.popleft()
                body = {"status": NEXT_SCAN[last], "occurred_at": now, "location": "Depot"}
                url = f"{self.base}/api/v1/shipments/{shipment}/tracking-events"
                return kind, ("POST", url, body)
            if kind in ("updates", "events") and self.ordered:
                n = random.choice(self.ordered)
                if kind == "updates":
                    body = {"shipping_address": {"name": "Ada", "postal_code": f"{n % 99999:05d}",
                                                 "address1": f"{time.time_ns()} Main St",
                                                 "country_code": "US"}}  # fmt: skip
                    url = f"{self.base}/api/v1/orders/by-external-id/PLs-{n}"
                    return kind, ("PATCH", url, body)
                body = {
                    "type": "product.setup_completed",
                    "id": f"soak-{time.time_ns()}",
                    "customer_external_id": f"PLs-{n // 3}",
                    "occurred_at": now,
                    "properties": {"steps": n % 7},
                }
                return kind, ("POST", f"{self.base}/api/v1/events", body)
        n = next(self.numbers)
        self.shop.taken(f"#PLs{n}", time.monotonic())
        return "orders", (
            "POST",
            f"{self.base}/api/v1/orders",
            order_payload("PLs", n, f"PLs-{n // 3}"),
        )

    def _done(self, kind: str, request: tuple, response) -> None:
        with self.lock:
            if kind == "orders":
                n = int(request[2]["external_id"].split("-")[1])
                self.unshipped.append(n)
                self.ordered.append(n)
            elif kind == "shipments":
                self.shipped.append((response.json()["id"], "in_transit"))
            elif kind == "tracking":
                scan = request[2]["status"]
                if scan in NEXT_SCAN:
                    self.shipped.append((int(request[1].rsplit("/", 2)[1]), scan))


class Sampler:
    """Every ``interval`` seconds: each process's RSS, each queue's length, the requests and
    errors so far and the emails arrived."""

    def __init__(self, stack: Stack, load: Load, mailbox: Mailbox, redis_url: str, interval):
        self.stack, self.load, self.mailbox = stack, load, mailbox
        self.redis_url, self.interval = redis_url, interval
        self.samples: list[dict] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self.started = time.monotonic()
        self.thread.start()
        return self

    def take(self) -> dict:
        rss = {}
        for name, root in self.stack.roots().items():
            for pid, size in tree_rss_bytes(root).items():
                rss[f"{name} [{pid}]"] = size
        with self.load.lock:
            sent, failed = sum(self.load.sent.values()), sum(self.load.failed.values())
        with self.mailbox.lock:
            emails = sum(len(times) for times in self.mailbox.arrivals.values())
        return {
            "t": round(time.monotonic() - self.started, 1),
            "rss": rss,
            "queues": queue_depths(self.redis_url),
            "requests": sent,
            "errors": failed,
            "emails": emails,
        }

    def _run(self) -> None:
        last_line = 0.0
        while not self.stopping.wait(self.interval):
            sample = self.take()
            self.samples.append(sample)
            if sample["t"] - last_line >= 60:
                last_line = sample["t"]
                mb = sum(sample["rss"].values()) / 2**20
                queues = " ".join(f"{q}={n}" for q, n in sample["queues"].items() if n)
                print(f"  t={sample['t']:5.0f} s: {sample['requests']:,} requests "
                      f"({sample['errors']} errors), {sample['emails']:,} emails, queues "
                      f"[{queues or 'empty'}], RSS {mb:,.0f} MB in all", flush=True)  # fmt: skip

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def memory_growth(samples: list[dict], warm: float) -> list[dict]:
    """Each process's mean RSS over the first minute after ``warm`` seconds and over the last
    minute, and the growth between them."""
    counted = [s for s in samples if s["t"] >= warm]
    if not counted:
        return []
    first = [s for s in counted if s["t"] < counted[0]["t"] + 60]
    last = [s for s in counted if s["t"] > counted[-1]["t"] - 60]
    rows = []
    for name in counted[-1]["rss"]:
        early = [s["rss"][name] for s in first if name in s["rss"]]
        late = [s["rss"][name] for s in last if name in s["rss"]]
        if early and late:
            a, b = statistics.fmean(early), statistics.fmean(late)
            rows.append(
                {
                    "process": name,
                    "first_mb": round(a / 2**20, 1),
                    "last_mb": round(b / 2**20, 1),
                    "growth": round(b / a - 1, 4),
                }
            )
    return rows


def queue_summary(samples: list[dict], warm: float) -> dict:
    """Each queue's length after warm-up: least, most, last, the means of the first and last
    thirds, and its trend (least squares) in messages per minute; growing when the trend over
    the counted time adds more than 10 messages and a quarter of the mean length."""
    counted = [s for s in samples if s["t"] >= warm]
    third = max(1, len(counted) // 3)
    summary = {}
    for queue in counted[0]["queues"] if len(counted) > 1 else {}:
        times = [s["t"] / 60 for s in counted]
        lengths = [s["queues"][queue] for s in counted]
        slope = statistics.linear_regression(times, lengths).slope
        mean = statistics.fmean(lengths)
        summary[queue] = {
            "least": min(lengths),
            "most": max(lengths),
            "last": lengths[-1],
            "first_third_mean": round(statistics.fmean(lengths[:third]), 1),
            "last_third_mean": round(statistics.fmean(lengths[-third:]), 1),
            "per_minute": round(slope, 1),
            "growing": slope * (times[-1] - times[0]) > 10 + mean / 4,
        }
    return summary


def main() -> None:
    args = parse_args()
    env, broker, stack, backends = prepare(args)
    from django.db import connection

    shop = load = sampler = None
    try:
        stack.start()
        backends.start()
        mailbox = Mailbox(stack.arrivals)
        shop = shop_create("s")
        warm_up(stack, mailbox, shop, args.warmup)
        layout = " + ".join(f"[{q}] x{n}" for q, n in args.workers)
        print(f"PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.2f}; gunicorn x{args.web_workers}; celery {layout}; beat; "
              f"SMTP {env['EMAIL_URL']}", flush=True)  # fmt: skip
        print(f"soak: {args.minutes:g} minutes at {args.rate:g} requests/s, mix {args.mix}, "
              f"the first {args.warmup_minutes:g} not counted", flush=True)  # fmt: skip
        meter = CpuMeter(stack, backends)
        before = meter.reading()
        load = Load(stack.base, shop, args).start(args.minutes * 60)
        sampler = Sampler(stack, load, mailbox, args.redis, args.sample).start()
        while load.scheduler.is_alive():
            stack.check()
            time.sleep(1)
        load.join()
        seconds = time.monotonic() - sampler.started
        after = meter.reading()
        sampler.stop()
        print(f"  drain: at most {args.drain_cap:.0f} s for the confirmations", flush=True)
        drained = mailbox.wait(shop.numbers(), time.monotonic() + args.drain_cap, "drain", stack)
        report(args, stack, load, sampler, mailbox, shop, before, after, seconds, drained)
    finally:
        if load is not None:
            load.stopping.set()
        if sampler is not None:
            sampler.stopping.set()
        stack.stop()
        if backends.thread.is_alive():
            backends.stop()
        if shop is not None and not args.keep_merchants:
            print("deleting the merchant", flush=True)
            merchant_delete(shop.merchant)
        broker.flushdb()


def report(args, stack, load, sampler, mailbox, shop, before, after, seconds, drained) -> None:
    warm = args.warmup_minutes * 60
    growth = memory_growth(sampler.samples, warm)
    queues = queue_summary(sampler.samples, warm)
    mail = mail_check(shop, mailbox)
    used = CpuMeter.per_order(before, after, 1)  # ms over the whole run
    cores = {name: round(ms / 1000 / seconds, 3) for name, ms in used.items()}
    total = sum(load.sent.values())
    late = sorted(load.late)
    print(f"requests: {total:,} in {seconds:.0f} s ({total / seconds:.1f}/s of the "
          f"{args.rate:g}/s offered), by kind {load.sent}; {load.missed:,} missed (more than "
          f"{args.max_late:g} s behind their time); sends behind their time: p50 "
          f"{percentile(late, 0.5) * 1000 if late else 0:,.0f} ms, max "
          f"{late[-1] * 1000 if late else 0:,.0f} ms")  # fmt: skip
    print(f"errors: {load.failed or 'none'}"
          f"{'; first: ' + repr(load.first_failures) if load.first_failures else ''}")  # fmt: skip
    print(f"logs: {stack.log_errors() or 'no ERROR line or traceback'} (in {args.var_dir})")
    missing = "lost" if drained is not None else f"not arrived within the {args.drain_cap:.0f} s"
    print(f"emails: {mail['orders']:,} orders, {mail['one_email']:,} with one confirmation, "
          f"{mail['none']:,} {missing}, {mail['more_than_one']} sent twice or more; "
          f"{mailbox.strays} without an order number")  # fmt: skip
    print("memory, first minute after warm-up to the last minute (target: growth <= 5 %):")
    rows = sorted(growth, key=lambda r: -r["growth"])
    for row in [r for r in rows if r["growth"] > 0.01] or rows[:3]:
        flag = "  OVER" if row["growth"] > 0.05 else ""
        print(f"  {row['process']:<56} {row['first_mb']:7.1f} -> {row['last_mb']:7.1f} MB "
              f"{row['growth']:+7.2%}{flag}")  # fmt: skip
    if rows:
        first, last = sum(r["first_mb"] for r in rows), sum(r["last_mb"] for r in rows)
        print(f"  all {len(rows)} processes (each in {args.var_dir}/soak-figures.json): "
              f"{first:,.0f} -> {last:,.0f} MB; the most grown {rows[0]['growth']:+.2%}, "
              f"the least {rows[-1]['growth']:+.2%}")  # fmt: skip
    print("queues (LLEN), after warm-up: least / most / last; mean of the first third -> last")
    for queue, q in queues.items():
        trend = "GROWING" if q["growing"] else "bounded"
        print(f"  {queue:<13} {q['least']:,} / {q['most']:,} / {q['last']:,}; "
              f"{q['first_third_mean']:,} -> {q['last_third_mean']:,}, "
              f"{q['per_minute']:+,} a minute ({trend})")  # fmt: skip
    print("CPU, share of one core over the run: "
          + ", ".join(f"{n} {c:.2f}" for n, c in cores.items()))  # fmt: skip
    figures = {
        "requests": load.sent,
        "offered_per_s": args.rate,
        "served_per_s": round(total / seconds, 1),
        "missed": load.missed,
        "errors": load.failed,
        "first_failures": load.first_failures,
        "mail": mail,
        "drained": drained is not None,
        "memory": growth,
        "queues": queues,
        "cpu_cores": cores,
        "samples": sampler.samples,
        "load_after": round(os.getloadavg()[0], 2),
    }
    path = Path(args.var_dir) / "soak-figures.json"
    path.write_text(json.dumps(figures, indent=1, default=str))
    print(f"figures and samples: {path}")


if __name__ == "__main__":
    main()
