"""The spine end to end: orders POSTed to the API until their confirmation email arrives at a
real SMTP server, with the processes production runs, on PostgreSQL and Redis.

    .venv/bin/python bench/pipeline.py                      # (a), (b), (c), docker-compose's layout
    .venv/bin/python bench/pipeline.py --layout single      # one worker on every queue
    .venv/bin/python bench/pipeline.py --smoke              # every phase, small: under a minute
    .venv/bin/python bench/pipeline.py --phases b --rate 20 --latency-seconds 10

Migrates the database (``--database-url``: created if missing, kept between runs), flushes the
Redis database (``--redis``: the benchmark's own, flushed at the start and at the end) and
starts, each in a session of its own so that it is stopped with all it started:
  - the mail provider: a real SMTP server (``bench/smtp_sink.py``, aiosmtpd, a process of its
    own), the platform's ``EMAIL_URL=smtp://127.0.0.1:<port>``; it logs when each message
    arrived (the system's monotonic clock, which this script reads too) and the order number
    its subject names ("Order #PLa17 confirmed");
  - gunicorn with ``--web-workers`` sync workers (4), as bench/api.py runs it: PRODUCTION and
    DEBUG off, persistent database connections (``DB_CONN_MAX_AGE=60``, docker-compose.yml's),
    Redis as cache and broker, the API's rate limit raised so it counts but never refuses;
  - the Celery workers of ``--layout``: ``compose`` (the default) is docker-compose.yml's, a
    worker on default,events,events_bulk,journeys with 4 processes, one on messages and
    messages_bulk with 2 and one on integrations with 8, prefetch 1 (on a checkout older than
    the bulk lanes, their queues simply stay empty); ``single`` is one worker on every queue at
    Celery's default concurrency (the CPU count), as the issue's first measurement ran; or a
    layout of one's own,
    ``QUEUES:PROCESSES[+QUEUES:PROCESSES...]``, e.g.
    ``events,events_bulk,journeys:2+messages,messages_bulk:2+default,integrations:1``;
  - Celery beat (the sweeps and the journeys' tick), as production runs it.
Each phase has merchants of its own, made through the services: a write API key, a catalogue
of 40 products, the order-confirmation journey installed and published as ``./scripts/run``
does it (``manage.py journey_blueprint_publish --blueprint order_confirmation``). Each is
warmed up by ``--warmup`` orders whose emails are awaited before the clock starts. The orders
are new (placed now), 1-3 lines of the catalogue, each customer buying about three of them.
After a phase its merchants are deactivated (whatever of theirs is still queued is cancelled),
the Celery queues are emptied, and ANALYZE and CHECKPOINT run, so no phase pays for another.
  (a) throughput: ``POST /orders/bulk`` (``--batch`` orders a request, ``--clients`` clients
      one request after another) for ``--seconds`` (or until ``--orders``); the figure is the
      orders per second whose confirmation arrived at the SMTP server, from the first POST
      until the last arrival (or the ``--drain-cap``), beside what the API took, the backlog
      (orders without an email) when the posting stopped and how long the drain took after it;
  (b) latency: ``POST /orders`` at ``--rate`` per second for ``--latency-seconds``, open loop
      (each order sent at its scheduled time whether or not earlier ones were answered), from
      the scheduled POST to the arrival at the SMTP server: p50, p95, p99, max, and how many
      never arrived;
  (c) fairness: merchant A imports ``--import-orders`` orders in bulk while merchant B posts
      single orders at ``--fair-rate`` per second, from A's first POST until A's last
      confirmation arrived (or the cap); B's POST to arrival p50, p95 and max;
  (d) for each phase, the CPU per order of each group of processes (gunicorn, each Celery
      worker, beat, the PostgreSQL backends of this database, the SMTP server, this script,
      and the whole Redis server, shared with whoever else uses it), from /proc before and
      after; and the floors the other benchmarks give each stage, with (a) beside them.
Every phase checks that each order taken got exactly one confirmation (messages per order
number at the SMTP server) and prints what was lost, late or sent twice. The merchants are
deleted at the end (``--keep-merchants`` keeps them), also after Ctrl-C.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Queue

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

from bench.common import (  # noqa: E402 - after the path is set
    DatabaseBackendsCpu,
    celery_beat,
    celery_worker,
    ensure_database,
    group_stop,
    percentile,
    pids_named,
    proc_stat,
    tree_cpu_seconds,
)

QUEUES = (
    *("default", "events", "events_bulk", "journeys"),
    *("messages", "messages_bulk", "integrations"),
)
LAYOUTS = {
    "compose": "default,events,events_bulk,journeys:4+messages,messages_bulk:2+integrations:8",
    "single": f"{','.join(QUEUES)}:{os.cpu_count() or 1}",
}
PRODUCTS = 40

# What the other benchmarks measured for each stage alone on this kind of machine (2 cores),
# as docs/benchmarks/ records them: the floors the pipeline is read against.
FLOORS = (
    ("API, bulk ingest", "bench/api.py (a)", 1154, 1301, "orders/s", "issue 12's end"),
    ("dispatch, no-op consumer", "bench/ingest.py, dispatch", 8475, 8475, "events/s", "batched"),
    ("dispatch, journeys", "bench/ingest.py, journeys", 1153, 1153, "events/s", "batched"),
    ("journey entry to outbox", "bench/journeys.py (a)", 3173, 3259, "enrollments/s", "due"),
    ("outbox and hand-off", "bench/messages.py (a)", 1532, 1640, "messages/s", "2 processes"),
)


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
        default=os.environ.get("VAR_DIR") or str(ROOT / "var" / "bench-pipeline"),
        help="logs, the SMTP arrivals, beat's schedule and the figures (JSON)",
    )
    parser.add_argument("--phases", default="a,b,c", help="which of a, b, c to run (d: always)")
    parser.add_argument("--layout", default="compose", help="compose, single, or a spec")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8790, help="gunicorn's port")
    parser.add_argument("--smtp-port", type=int, default=0, help="0: a free port")
    parser.add_argument("--seconds", type=float, default=60.0, help="(a): posting time")
    parser.add_argument("--orders", type=int, default=0, help="(a): stop after these (0: no cap)")
    parser.add_argument("--batch", type=int, default=100, help="orders per bulk request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent bulk clients")
    parser.add_argument("--rate", type=float, default=50.0, help="(b): single orders per second")
    parser.add_argument("--latency-seconds", type=float, default=30.0, help="(b): posting time")
    parser.add_argument("--import-orders", type=int, default=10_000, help="(c): A's import")
    parser.add_argument("--fair-rate", type=float, default=2.0, help="(c): B's orders per second")
    parser.add_argument(
        "--drain-cap",
        type=float,
        default=300.0,
        help="seconds to wait for the backlog after posting stops, in each phase",
    )
    parser.add_argument("--warmup", type=int, default=10, help="orders per merchant, untimed")
    parser.add_argument("--keep-merchants", action="store_true")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="small sizes, to check that it all works in about a minute",
    )
    if parser.parse_known_args(argv)[0].smoke:  # its sizes, unless given
        parser.set_defaults(
            orders=200, latency_seconds=3.0, rate=10.0, import_orders=200, drain_cap=60.0, warmup=2
        )
    args = parser.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if set(args.phases) - {"a", "b", "c", "d"}:
        parser.error("--phases takes a, b and c")
    args.workers = layout_parse(LAYOUTS.get(args.layout, args.layout), parser)
    return args


def layout_parse(spec: str, parser: argparse.ArgumentParser) -> list[tuple[str, int]]:
    """``QUEUES:PROCESSES[+...]`` as (queues, processes) per worker; every queue taken once."""
    workers, seen = [], []
    for part in spec.split("+"):
        queues, _, processes = part.partition(":")
        names = [q.strip() for q in queues.split(",") if q.strip()]
        if not names or set(names) - set(QUEUES) or not processes.isdigit():
            parser.error(f"--layout: {part!r} is not QUEUES:PROCESSES with queues of {QUEUES}")
        workers.append((",".join(names), int(processes)))
        seen += names
    if sorted(seen) != sorted(QUEUES):
        parser.error(f"--layout: each of {', '.join(QUEUES)} on exactly one worker")
    return workers


# --- The processes under test -------------------------------------------------------------------


class Stack:
    """The SMTP server, gunicorn, the Celery workers and beat, each in a session of its own
    (one signal stops it and everything it started), with their logs in ``--var-dir``."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str]):
        self.args, self.env = args, env
        self.var = Path(args.var_dir)
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.arrivals = self.var / "smtp-arrivals.tsv"

    def _log(self, name: str):
        self.logs[name] = self.var / f"{name.replace(' ', '-')}.log"
        return open(self.logs[name], "wb")  # the child keeps its own descriptor

    def start(self) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        self.arrivals.write_text("")
        with self._log("smtp") as log:
            smtp = subprocess.Popen(  # noqa: S603 - this interpreter and our own script
                [
                    sys.executable,
                    str(ROOT / "bench" / "smtp_sink.py"),
                    f"--port={self.args.smtp_port}",
                    f"--log={self.arrivals}",
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                text=True,
            )
        self.processes["smtp server"] = smtp
        ready = smtp.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise SystemExit(f"The SMTP server did not start: see {self.logs['smtp']}")
        self.env["EMAIL_URL"] = f"smtp://127.0.0.1:{ready[1]}"
        common = {"env": self.env, "start_new_session": True, "stdout": subprocess.DEVNULL}
        with self._log("gunicorn") as log:
            self.processes["gunicorn"] = subprocess.Popen(  # noqa: S603 - our own venv's binary
                [
                    str(ROOT / ".venv/bin/gunicorn"),
                    "postpurchase.wsgi",
                    f"--workers={self.args.web_workers}",
                    f"--bind=127.0.0.1:{self.args.port}",
                    "--log-level=warning",
                ],
                cwd=ROOT,
                stderr=log,
                **common,
            )
        for index, (queues, processes) in enumerate(self.args.workers):
            name = f"celery {queues}"
            with self._log(f"celery-{index}") as log:
                self.processes[name] = celery_worker(
                    queues,
                    processes,
                    extra=("--prefetch-multiplier=1", f"--hostname=pipeline{index}@%h"),
                    stderr=log,
                    **common,
                )
        with self._log("beat") as log:
            self.processes["beat"] = celery_beat(
                str(self.var / "celerybeat-schedule"), stderr=log, **common
            )
        self._wait_for_web()

    def _wait_for_web(self) -> None:
        import requests

        for _ in range(300):
            self.check()
            try:
                if requests.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer /healthz: see {self.logs['gunicorn']}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.args.port}"

    def roots(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def check(self) -> None:
        """Stop the benchmark if a process under test has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = self.logs.get(name.split(" ")[0], "")
                raise SystemExit(f"{name} exited ({process.returncode}); see {log}")

    def log_errors(self) -> dict[str, int]:
        """Lines at ERROR or CRITICAL, and tracebacks, in each process's log."""
        found = {}
        for path in self.logs.values():
            text = path.read_text(errors="replace") if path.exists() else ""
            count = sum(
                1
                for line in text.splitlines()
                if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
            )
            if count:
                found[str(path)] = count
        return found

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            group_stop(process)


def redis_queues_empty(redis_url: str) -> None:
    """Empty the Celery queues (each queue's list, and its priority lists if any)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for queue in QUEUES:
        client.delete(queue, *client.keys(f"{queue}\x06\x16*"))


def queue_depths(redis_url: str) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(redis_url)
    return {queue: client.llen(queue) for queue in QUEUES}


# --- The mail provider's side -------------------------------------------------------------------


class Mailbox:
    """What the SMTP server received, read from its log as it grows: each order number's
    arrival times (more than one: sent twice), and the messages naming no order."""

    def __init__(self, path: Path):
        self.path = path
        self.arrivals: dict[str, list[float]] = {}
        self.order: list[str] = []  # the numbers in the order their messages arrived
        self.strays = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._tail, daemon=True).start()

    def _tail(self) -> None:
        with open(self.path) as log:
            pending = ""
            while True:
                chunk = log.read()
                if not chunk:
                    time.sleep(0.01)
                    continue
                pending += chunk
                *lines, pending = pending.split("\n")
                with self.lock:
                    for line in lines:
                        arrived, number, _ = line.split("\t", 2)
                        if number == "?":
                            self.strays += 1
                        else:
                            self.arrivals.setdefault(number, []).append(float(arrived))
                            self.order.append(number)

    def first(self, number: str) -> float | None:
        with self.lock:
            times = self.arrivals.get(number)
            return min(times) if times else None

    def copies(self, number: str) -> int:
        with self.lock:
            return len(self.arrivals.get(number, ()))

    def wait(self, numbers, deadline: float, what: str, stack: Stack) -> float | None:
        """Wait until each of ``numbers`` has arrived or ``deadline`` (monotonic) has passed,
        printing progress every 30 s; returns when the last one arrived, or ``None``."""
        pending = set(numbers)
        total, reported = len(pending), time.monotonic()
        with self.lock:
            pending -= self.arrivals.keys()
            seen = len(self.order)
        while True:
            with self.lock:  # only what arrived since the last look: cheap for any backlog
                pending.difference_update(self.order[seen:])
                seen = len(self.order)
            if not pending:
                return max((self.first(n) or 0.0) for n in numbers) if total else time.monotonic()
            now = time.monotonic()
            if now >= deadline:
                return None
            if now - reported >= 30:
                print(f"    {what}: {total - len(pending):,} of {total:,} arrived", flush=True)
                reported = now
            stack.check()
            time.sleep(0.05)


# --- Merchants and their orders -----------------------------------------------------------------


@dataclass
class Shop:
    """A merchant of the benchmark's, with its API key, and the orders it posted: each order
    number with the time its POST started (its scheduled time, in open loop)."""

    label: str
    merchant: object
    key: str
    posted: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def taken(self, number: str, at: float) -> None:
        with self.lock:
            self.posted[number] = at

    def numbers(self) -> list[str]:
        with self.lock:
            return list(self.posted)


def shop_create(label: str) -> Shop:
    """A fresh merchant, with a write key, the catalogue and the order confirmation live."""
    from django.core.management import call_command
    from django.utils.crypto import get_random_string

    from orders.services import product_upsert
    from postpurchase.tenancy.services import api_key_create, merchant_create

    slug = f"pl-{label.lower()}-{get_random_string(6).lower()}"
    merchant = merchant_create(
        slug=slug,
        name=f"Pipeline {label}",
        timezone="UTC",
        currency="USD",
        country="US",
        sender_name=f"Pipeline {label}",
        sender_email=f"orders@{slug}.example",
        support_email=f"help@{slug}.example",
        postal_address="1 Market St, San Francisco, CA 94105",
    )
    key = api_key_create(merchant=merchant, name="bench/pipeline.py").plaintext
    for i in range(PRODUCTS):
        product_upsert(
            merchant=merchant,
            payload={
                "external_id": f"sku-{i:03d}",
                "title": f"Product {i}",
                "sku": f"SKU-{i:03d}",
                "category": ("footwear", "apparel", "outdoor", "home")[i % 4],
                "price": f"{12 + i}.00",
            },
        )
    call_command(
        "journey_blueprint_publish",
        merchant=slug,
        blueprint="order_confirmation",
        stdout=io.StringIO(),
    )
    return Shop(label, merchant, key)


def order_payload(prefix: str, n: int, customer: str) -> dict:
    """Order ``n`` of a phase (number ``#<prefix><n>``), placed now, 1-3 catalogue lines."""
    rng = random.Random(f"{prefix}{n}")
    lines, subtotal = [], 0
    for i, product in enumerate(rng.sample(range(PRODUCTS), rng.randint(1, 3))):
        quantity = rng.randint(1, 2)
        subtotal += (12 + product) * quantity
        lines.append(
            {
                "external_id": f"l{i}",
                "product_external_id": f"sku-{product:03d}",
                "quantity": quantity,
                "unit_price": f"{12 + product}.00",
            }
        )
    return {
        "external_id": f"{prefix}-{n}",
        "number": f"#{prefix}{n}",
        "placed_at": datetime.now(UTC).isoformat(),
        "currency": "USD",
        "subtotal": f"{subtotal}.00",
        "shipping": "4.99",
        "tax": "0.00",
        "discount": "0.00",
        "total": f"{subtotal + 4}.99",
        "customer": {
            "external_id": customer,
            "email": f"{customer.lower()}@example.com",
            "first_name": "Ada",
            "last_name": customer,
            "accepts_email_marketing": True,
            "consent_source": "checkout",
        },
        "lines": lines,
    }


def session_for(shop: Shop):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {shop.key}"
    return session


def post_bulk(
    base: str, shop: Shop, prefix: str, args, *, seconds: float = 0, orders: int = 0
) -> dict:
    """``POST /orders/bulk`` from ``--clients`` threads, ``--batch`` orders a request, each
    client sending its next request when the last is answered, until ``seconds`` have passed
    or ``orders`` have been sent. Each client has customers of its own (about three orders
    each), as an integrator splits a parallel import."""
    counter, lock = itertools.count(), threading.Lock()
    failures: list[str] = []
    stop_at = time.monotonic() + seconds if seconds else float("inf")

    def client(k: int) -> None:
        session, mine = session_for(shop), itertools.count()
        while time.monotonic() < stop_at:
            with lock:
                numbers = [next(counter) for _ in range(args.batch)]
                if orders:
                    numbers = [n for n in numbers if n < orders]
            if not numbers:
                return
            payloads = [
                order_payload(prefix, n, f"{prefix}-k{k}-{next(mine) // 3}") for n in numbers
            ]
            started = time.monotonic()
            try:
                response = session.post(
                    f"{base}/api/v1/orders/bulk", json={"orders": payloads}, timeout=300
                )
            except Exception as exc:  # counted and shown, the run goes on
                failures.append(repr(exc))
                continue
            if response.status_code != 200:
                failures.append(f"{response.status_code} {response.text[:200]}")
                continue
            for result in response.json()["results"]:
                if result["status"] == "created":
                    shop.taken(payloads[result["index"]]["number"], started)
                else:
                    failures.append(f"{result['status']}: {result.get('error')}")

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(args.clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.monotonic() - started, "failures": failures}


class OpenLoop:
    """Single ``POST /orders`` at ``rate`` per second, open loop: a scheduler hands each order
    its send time and a pool of sender threads sends it then, whether or not earlier ones were
    answered. Each counts from its scheduled time (a late sender cannot hide a queue)."""

    def __init__(self, base: str, shop: Shop, prefix: str, rate: float, senders: int = 32):
        self.base, self.shop, self.prefix, self.rate = base, shop, prefix, rate
        self.jobs: Queue = Queue()
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.late: list[float] = []
        self.sent = 0
        self.threads = [
            threading.Thread(target=self._send, daemon=True) for _ in range(max(1, senders))
        ]

    def start(self, seconds: float = 0.0) -> OpenLoop:
        """Start sending: for ``seconds``, or until ``stop`` when 0."""
        self.seconds = seconds
        self.scheduler = threading.Thread(target=self._schedule, args=(seconds,), daemon=True)
        for thread in [*self.threads, self.scheduler]:
            thread.start()
        return self

    def _schedule(self, seconds: float) -> None:
        start = time.monotonic() + 0.2
        for n in itertools.count():
            at = start + n / self.rate
            if self.stopping.is_set() or (seconds and n >= seconds * self.rate):
                break
            ahead = at - time.monotonic() - 0.05
            if ahead > 0:
                time.sleep(ahead)
            self.jobs.put((at, n))
        for _ in self.threads:
            self.jobs.put(None)

    def _send(self) -> None:
        session = session_for(self.shop)
        while (job := self.jobs.get()) is not None:
            at, n = job
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            payload = order_payload(self.prefix, n, f"{self.prefix}-{n // 3}")
            self.late.append(time.monotonic() - at)
            self.shop.taken(payload["number"], at)
            try:
                response = session.post(f"{self.base}/api/v1/orders", json=payload, timeout=60)
                error = "" if response.status_code == 201 else response.text[:200]
                error = error and f"{response.status_code} {error}"
            except Exception as exc:  # counted and shown, the run goes on
                error = repr(exc)
            if error:
                self.errors.append(error)
                with self.shop.lock:
                    self.shop.posted.pop(payload["number"], None)
            self.sent += 1

    def stop(self) -> dict:
        """Stop scheduling (at once if ``start`` was given no time, else when it is over) and
        wait until the orders already scheduled have been answered."""
        if not self.seconds:
            self.stopping.set()
        self.scheduler.join()
        for thread in self.threads:
            thread.join()
        return {
            "sent": self.sent,
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
            "latest_send_ms": round(max(self.late, default=0.0) * 1000, 1),
        }


def warm_up(stack: Stack, mailbox: Mailbox, shop: Shop, count: int) -> None:
    """``count`` orders for ``shop``, one after another, and their emails awaited: every web and
    worker process has imported, connected and read the merchant before the clock starts."""
    if count <= 0:
        return
    warm = Shop(shop.label, shop.merchant, shop.key)
    loop = OpenLoop(stack.base, warm, f"PLw{shop.label}", rate=20.0, senders=4).start(count / 20.0)
    result = loop.stop()
    if result["errors"]:
        raise SystemExit(f"Warm-up orders refused: {result['first_error']}")
    if mailbox.wait(warm.numbers(), time.monotonic() + 300, "warm-up", stack) is None:
        raise SystemExit(f"No warm-up email within 300 s: see the logs in {stack.var}")


def shop_retire(shop: Shop, redis_url: str) -> None:
    """The phase is over: its merchant stops (what it still had queued is cancelled), and the
    queues are emptied, so what it left undone costs the next phase nothing."""
    from postpurchase.tenancy.services import merchant_deactivate

    merchant_deactivate(merchant=shop.merchant)
    redis_queues_empty(redis_url)


def merchant_delete(merchant) -> None:
    """Delete a merchant of the benchmark's and all it has. Its enrollments and messages go
    first: they hold their journey's and template's versions, which a merchant's deletion
    would otherwise meet as protected."""
    from django.db import transaction

    from journeys.models import Enrollment
    from notifications.models import Message

    with transaction.atomic():
        Enrollment.unscoped.filter(merchant=merchant).delete()
        Message.unscoped.filter(merchant=merchant).delete()
        merchant.delete()


def settle() -> None:
    """Between phases: statistics for the planner and a checkpoint (as bench/api.py does)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("CHECKPOINT")


def backlog_state(shop: Shop, redis_url: str) -> dict:
    """Where the shop's orders stand: events not yet dispatched, messages by status, and the
    Celery queues' lengths."""
    from django.db.models import Count

    from notifications.models import Message
    from postpurchase.events.models import Event

    events = Event.unscoped.filter(merchant=shop.merchant)
    messages = dict(
        Message.unscoped.filter(merchant=shop.merchant)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "events": events.count(),
        "events_undispatched": events.filter(dispatched_at__isnull=True).count(),
        "messages": messages,
        "queues": queue_depths(redis_url),
    }


# --- Figures ------------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used so far by each group of processes: the stack's process trees, the
    PostgreSQL backends of the benchmark's database, this script (its own process only) and
    the whole Redis server (shared with anyone else using it)."""

    def __init__(self, stack: Stack, backends: DatabaseBackendsCpu):
        self.stack, self.backends = stack, backends

    def reading(self) -> dict:
        ticks = os.sysconf("SC_CLK_TCK")
        own = proc_stat(os.getpid())
        groups = {name: tree_cpu_seconds(pid) for name, pid in self.stack.roots().items()}
        groups["this script"] = (int(own[11]) + int(own[12])) / ticks
        redis_ticks = 0
        for pid in pids_named("redis-server"):
            fields = proc_stat(pid)
            redis_ticks += int(fields[11]) + int(fields[12]) if fields else 0
        groups["redis server (shared)"] = redis_ticks / ticks
        return {"groups": groups, "backends": self.backends.reading()}

    @staticmethod
    def per_order(before: dict, after: dict, orders: int) -> dict[str, float]:
        """Milliseconds of CPU per order by group between two readings."""
        used = {
            name: after["groups"][name] - before["groups"].get(name, 0.0)
            for name in after["groups"]
        }
        used["postgres backends"] = DatabaseBackendsCpu.seconds_between(
            before["backends"], after["backends"]
        )
        per = {name: round(s * 1000 / max(orders, 1), 2) for name, s in used.items()}
        per["total"] = round(sum(per.values()), 2)
        return per


def mail_check(shop: Shop, mailbox: Mailbox) -> dict:
    """Each order taken, by its number of confirmations at the SMTP server."""
    numbers = shop.numbers()
    copies = [mailbox.copies(n) for n in numbers]
    twice = [n for n, c in zip(numbers, copies, strict=True) if c > 1]
    return {
        "orders": len(numbers),
        "one_email": sum(1 for c in copies if c == 1),
        "none": sum(1 for c in copies if c == 0),
        "more_than_one": len(twice),
        "sent_twice_first": twice[:5],
    }


def latency_figures(shop: Shop, mailbox: Mailbox) -> dict:
    """POST (scheduled) to arrival, in ms, of the orders whose email arrived."""
    with shop.lock:
        posted = dict(shop.posted)
    ms = []
    for number, at in posted.items():
        arrived = mailbox.first(number)
        if arrived is not None:
            ms.append((arrived - at) * 1000)
    if not ms:
        return {"arrived": 0, "orders": len(posted)}
    return {
        "orders": len(posted),
        "arrived": len(ms),
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def print_mail_check(check: dict, drained: bool) -> None:
    missing = "lost" if drained else "not arrived within the cap"
    print(
        f"  emails: {check['orders']:,} orders taken, {check['one_email']:,} with one "
        f"confirmation, {check['none']:,} {missing}, {check['more_than_one']:,} sent twice "
        f"or more{' ' + str(check['sent_twice_first']) if check['sent_twice_first'] else ''}"
    )


def print_cpu(per: dict[str, float], orders: int, what: str) -> None:
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in per.items() if name != "total")
    print(f"  CPU per order (ms, over {orders:,} {what}): {parts}; total {per['total']:.1f}")


# --- The phases ---------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    stack: Stack
    mailbox: Mailbox
    meter: CpuMeter
    shops: list[Shop] = field(default_factory=list)

    def shop(self, label: str) -> Shop:
        shop = shop_create(label)
        self.shops.append(shop)
        warm_up(self.stack, self.mailbox, shop, self.args.warmup)
        return shop

    def finish(self, shops: list[Shop]) -> None:
        for shop in shops:
            shop_retire(shop, self.args.redis)
        settle()


def phase_throughput(bench: Bench) -> dict:
    args, mailbox, stack = bench.args, bench.mailbox, bench.stack
    shop = bench.shop("a")
    settle()
    print(f"(a) throughput: bulk POSTs of {args.batch} from {args.clients} clients "
          f"for {args.seconds:.0f} s{f' or {args.orders:,} orders' if args.orders else ''}",
          flush=True)  # fmt: skip
    before = bench.meter.reading()
    started = time.monotonic()
    posting = post_bulk(stack.base, shop, "PLa", args, seconds=args.seconds, orders=args.orders)
    stopped = time.monotonic()
    numbers = shop.numbers()
    in_window = sum(1 for n in numbers if (mailbox.first(n) or stopped + 1) <= stopped)
    at_stop = backlog_state(shop, args.redis)
    last = mailbox.wait(numbers, stopped + args.drain_cap, "(a) drain", stack)
    ended = last if last is not None else time.monotonic()
    after = bench.meter.reading()
    arrivals = sorted(t for t in (mailbox.first(n) for n in numbers) if t is not None)
    taken = len(numbers)

    def share_after(share: float) -> float | None:
        index = int(share * taken) - 1
        return round(arrivals[index] - started, 1) if taken and index < len(arrivals) else None

    figures = {
        "orders_taken": taken,
        "post_seconds": round(stopped - started, 2),
        "api_orders_per_s": round(taken / (stopped - started), 1),
        "post_failures": len(posting["failures"]),
        "first_failure": posting["failures"][0] if posting["failures"] else None,
        "arrived_while_posting": in_window,
        "arrived_while_posting_per_s": round(in_window / (stopped - started), 1),
        "backlog_at_stop": taken - in_window,
        "state_at_stop": at_stop,
        "drained": last is not None,
        "drain_seconds": round(ended - stopped, 1),
        "arrived": len(arrivals),
        "end_to_end_orders_per_s": round(len(arrivals) / (ended - started), 1),
        "drain_orders_per_s": round((len(arrivals) - in_window) / max(ended - stopped, 1e-9), 1),
        "seconds_to_10_50_100_percent": [share_after(0.1), share_after(0.5), share_after(1.0)],
        "state_at_end": backlog_state(shop, args.redis),
        "mail": mail_check(shop, mailbox),
        "cpu_ms_per_order": CpuMeter.per_order(before, after, taken),
    }
    f, end = figures, figures["state_at_end"]
    print(f"  API took {taken:,} orders in {f['post_seconds']} s: {f['api_orders_per_s']:,} "
          f"orders/s ({f['post_failures']} failed requests or items)")  # fmt: skip
    print(f"  backlog when posting stopped: {f['backlog_at_stop']:,} orders without an email "
          f"({in_window:,} arrived meanwhile, {f['arrived_while_posting_per_s']}/s); events "
          f"undispatched "
          f"{at_stop['events_undispatched']:,}, messages {at_stop['messages']}, "
          f"queues {at_stop['queues']}")  # fmt: skip
    drain = "drained" if f["drained"] else f"NOT drained (cap {args.drain_cap:.0f} s)"
    shares = " / ".join("-" if s is None else f"{s} s" for s in f["seconds_to_10_50_100_percent"])
    print(f"  {drain} {f['drain_seconds']} s after posting stopped, at "
          f"{f['drain_orders_per_s']} orders/s; 10 / 50 / 100 % of the emails had arrived "
          f"{shares} after the first POST")  # fmt: skip
    if not f["drained"]:
        print(f"  at the cap: events undispatched {end['events_undispatched']:,}, messages "
              f"{end['messages']}, queues {end['queues']}")  # fmt: skip
    print(f"  END TO END: {f['end_to_end_orders_per_s']} orders/s whose confirmation arrived "
          f"({len(arrivals):,} in {ended - started:.1f} s)")  # fmt: skip
    print_mail_check(f["mail"], f["drained"])
    print_cpu(f["cpu_ms_per_order"], taken, "orders taken, until the last email or the cap")
    bench.finish([shop])
    return figures


def phase_latency(bench: Bench) -> dict:
    args, mailbox, stack = bench.args, bench.mailbox, bench.stack
    shop = bench.shop("b")
    settle()
    print(f"(b) latency: single POSTs at {args.rate:g}/s open loop for "
          f"{args.latency_seconds:.0f} s", flush=True)  # fmt: skip
    before = bench.meter.reading()
    loop = OpenLoop(stack.base, shop, "PLb", args.rate).start(args.latency_seconds)
    posting = loop.stop()
    stopped = time.monotonic()
    last = mailbox.wait(shop.numbers(), stopped + args.drain_cap, "(b) drain", stack)
    after = bench.meter.reading()
    figures = {
        "posting": posting,
        "drained": last is not None,
        "latency": latency_figures(shop, mailbox),
        "state_at_end": backlog_state(shop, args.redis),
        "mail": mail_check(shop, mailbox),
        "cpu_ms_per_order": CpuMeter.per_order(before, after, len(shop.numbers())),
    }
    lat = figures["latency"]
    print(f"  {posting['sent']:,} sent, {posting['errors']} refused, the latest send "
          f"{posting['latest_send_ms']} ms behind its schedule")  # fmt: skip
    if lat["arrived"]:
        print(f"  POST to arrival: p50 {lat['p50_ms']:,} ms, p95 {lat['p95_ms']:,} ms, "
              f"p99 {lat['p99_ms']:,} ms, max {lat['max_ms']:,} ms "
              f"({lat['arrived']:,} of {lat['orders']:,} arrived)")  # fmt: skip
    print_mail_check(figures["mail"], figures["drained"])
    print_cpu(figures["cpu_ms_per_order"], len(shop.numbers()), "orders")
    bench.finish([shop])
    return figures


def phase_fairness(bench: Bench) -> dict:
    args, mailbox, stack = bench.args, bench.mailbox, bench.stack
    importer, small = bench.shop("cA"), bench.shop("cB")
    settle()
    print(f"(c) fairness: A imports {args.import_orders:,} orders in bulk while B posts single "
          f"orders at {args.fair_rate:g}/s", flush=True)  # fmt: skip
    before = bench.meter.reading()
    started = time.monotonic()
    loop = OpenLoop(stack.base, small, "PLcB", args.fair_rate, senders=8).start()
    posting = post_bulk(stack.base, importer, "PLcA", args, orders=args.import_orders)
    imported = time.monotonic()
    last_a = mailbox.wait(importer.numbers(), imported + args.drain_cap, "(c) A's drain", stack)
    a_done = time.monotonic()
    b_posting = loop.stop()
    last_b = mailbox.wait(small.numbers(), time.monotonic() + args.drain_cap, "(c) B", stack)
    after = bench.meter.reading()
    orders = len(importer.numbers()) + len(small.numbers())
    figures = {
        "a_orders": len(importer.numbers()),
        "a_post_seconds": round(imported - started, 1),
        "a_post_failures": len(posting["failures"]),
        "a_drained": last_a is not None,
        "a_seconds_to_last_email": round((last_a or a_done) - started, 1),
        "b_posting": b_posting,
        "b_drained": last_b is not None,
        "b_latency": latency_figures(small, mailbox),
        "mail_a": mail_check(importer, mailbox),
        "mail_b": mail_check(small, mailbox),
        "cpu_ms_per_order": CpuMeter.per_order(before, after, orders),
    }
    f, lat = figures, figures["b_latency"]
    a_end = "its last email" if f["a_drained"] else f"the cap, NOT drained ({args.drain_cap:.0f} s)"
    print(f"  A: {f['a_orders']:,} orders posted in {f['a_post_seconds']} s; "
          f"{a_end} {f['a_seconds_to_last_email']} s after its first POST")  # fmt: skip
    print(f"  B meanwhile: {b_posting['sent']:,} orders, {b_posting['errors']} refused")
    if lat["arrived"]:
        print(f"  B's POST to arrival during A's import: p50 {lat['p50_ms']:,} ms, "
              f"p95 {lat['p95_ms']:,} ms, max {lat['max_ms']:,} ms "
              f"({lat['arrived']} of {lat['orders']} arrived)")  # fmt: skip
    print_mail_check(f["mail_a"], f["a_drained"])
    print_mail_check(f["mail_b"], f["b_drained"])
    print_cpu(f["cpu_ms_per_order"], orders, "orders of A and B")
    bench.finish([importer, small])
    return figures


def print_floors(figures: dict) -> None:
    """(d): what each stage does alone, by the other benchmarks, beside (a)."""
    rate = figures.get("a", {}).get("end_to_end_orders_per_s")
    events = figures.get("a", {}).get("state_at_end", {}).get("events")
    taken = figures.get("a", {}).get("orders_taken")
    per_order = events / taken if events and taken else None
    print("(d) each stage alone, as docs/benchmarks/ records it (not re-run here):")
    for stage, source, low, high, unit, note in FLOORS:
        line = f"  {stage:<24} {source:<27} {low:,}-{high:,} {unit} ({note})"
        if rate:
            line += f"; (a) end to end / its low end = {rate / low:.3f}"
        print(line)
    if per_order:
        print(f"  (a) recorded {per_order:.2f} events per order (the dispatch floor per order is "
              f"its events/s divided by that)")  # fmt: skip


# --- Main ---------------------------------------------------------------------------------------


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The environment of every process, this one included."""
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis,
        "CELERY_BROKER_URL": args.redis,
        "VAR_DIR": args.var_dir,
        "PRODUCTION": "false",
        "ALLOW_INSECURE_EMBEDDED": "true",  # a local benchmark: gunicorn refuses otherwise
        "DEBUG": "false",
        "DB_CONN_MAX_AGE": "60",
        "API_RATE_LIMIT": "100000/s",
        "LOG_LEVEL": "WARNING",
        "PLATFORM_EMAIL_DAILY_QUOTA": "0",  # no daily limit: the phases send more than 2,000
        "SITE_URL": f"http://127.0.0.1:{args.port}",
    }
    for name in ("CELERY_RESULT_BACKEND", "CACHE_URL", "EMAIL_BACKEND", "EMAIL_URL"):
        env.pop(name, None)
    return env


def prepare(args: argparse.Namespace):
    """What both benchmarks of the stack start from (this one and bench/soak.py): this process's
    environment set as the stack's (SIGTERM runs the caller's clean-up), the database created if
    missing and migrated, the broker's Redis database emptied, the stack not yet started.
    Returns ``(env, broker, stack, backends)``."""
    env = environment(args)
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_database(args.database_url)
    import django

    django.setup()
    import redis
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    broker = redis.Redis.from_url(args.redis)
    broker.flushdb()
    return env, broker, Stack(args, env), DatabaseBackendsCpu(args.database_url)


def main() -> None:
    args = parse_args()
    env, broker, stack, backends = prepare(args)
    from django.db import connection

    bench = None
    figures: dict = {}
    try:
        stack.start()
        backends.start()
        bench = Bench(args, stack, Mailbox(stack.arrivals), CpuMeter(stack, backends))
        layout = " + ".join(f"[{q}] x{n}" for q, n in args.workers)
        print(f"PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.2f}; gunicorn x{args.web_workers}; celery {layout}; beat; "
              f"SMTP {env['EMAIL_URL']}", flush=True)  # fmt: skip
        for phase, run in (("a", phase_throughput), ("b", phase_latency), ("c", phase_fairness)):
            if phase in args.phases:
                figures[phase] = run(bench)
                figures[phase]["load_after"] = round(os.getloadavg()[0], 2)
        print_floors(figures)
        errors = stack.log_errors()
        print(f"logs: {errors or 'no ERROR line or traceback'} (in {args.var_dir})")
        print(f"stray emails (no order number): {bench.mailbox.strays}")
        report = Path(args.var_dir) / "pipeline-figures.json"
        report.write_text(json.dumps(figures, indent=2, default=str))
        print(f"figures: {report}")
    finally:
        stack.stop()
        backends_stop(backends)
        if bench is not None and not args.keep_merchants:
            began = time.monotonic()
            for shop in bench.shops:
                merchant_delete(shop.merchant)
            print(f"deleted the {len(bench.shops)} merchants in {time.monotonic() - began:.0f} s")
        broker.flushdb()


def backends_stop(backends: DatabaseBackendsCpu) -> None:
    if backends.thread.is_alive():
        backends.stop()


if __name__ == "__main__":
    main()
