"""The journey scheduler on PostgreSQL: throughput when many enrollments fall due at once, the
cost of a tick when none is due, and event-to-first-message latency through real workers.

    .venv/bin/python bench/journeys.py                     # all three
    .venv/bin/python bench/journeys.py --only a            # one of a, b, c

Creates a fresh database (``--database``, dropped first), migrates it, and makes a merchant with
an email template and a live journey (``order.placed`` → one-day delay → send). Then:
  (a) due:     ``--due`` enrollments (default 100,000) whose delay is over, written with COPY;
               ``journeys_tick`` in ``--processes`` forked processes at once (a Celery worker's
               prefork pool; default the CPU count), each advancing batches under SKIP LOCKED
               until none is due: each enrollment's send step writes its outbox row (rendered,
               decided, with its timeline entry) and completes. Reports enrollments/s. The
               hand-off tasks go to a Redis queue nobody consumes (emptied at the end): the
               channels are measured by bench/messages.py.
  (b) idle:    ``--waiting`` enrollments (default 1,000,000) waiting, none due; the time of one
               tick (its claiming query finding nothing), median and worst of 50.
  (c) latency: a real Celery worker (the events and journeys queues) and ``--events``
               events recorded at ``--rate`` per second, each entering a journey whose first
               step is a send; for each, the time from the event's commit to its enrollment's
               entry, which writes the first outbox row in the same transaction (the entry's
               clock reading: the commit follows within that transaction). p50/p95/max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

from bench.common import celery_worker, fresh_database  # noqa: E402 - after the path is set


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="pp_bench_journeys")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", choices=["a", "b", "c"])
    return parser.parse_args()


def prepare(args, url: str):
    os.environ.update(
        DATABASE_URL=url,
        REDIS_URL=args.redis,
        CELERY_BROKER_URL=args.redis,
        SITE_URL="https://app.example",
    )
    import django

    django.setup()
    from django.core.management import call_command

    from journeys.services import journey_publish, journey_save
    from notifications.services import message_template_save
    from postpurchase.tenancy.services import merchant_create

    call_command("migrate", verbosity=0)
    merchant = merchant_create(
        slug="bench-journeys", name="Bench", timezone="UTC", currency="USD", country="US"
    )
    message_template_save(
        merchant=merchant,
        payload={
            "key": "hello",
            "name": "Hello",
            "channel": "email",
            "category": "transactional",
            "variants": [
                {
                    "locale": "en",
                    "subject": "Thanks, {{ customer.first_name }}",
                    "html_body": "<p>Hi {{ customer.first_name }}, thanks for your order.</p>",
                    "text_body": "Hi {{ customer.first_name }}, thanks for your order.",
                }
            ],
        },
    )
    journey = journey_save(
        merchant=merchant,
        key="thanks",
        name="Thanks",
        definition={
            "trigger": {"event": "order.placed"},
            "entry": {"per": "order"},
            "start": "wait",
            "steps": [
                {"id": "wait", "type": "delay", "days": 1, "next": "send"},
                {"id": "send", "type": "send", "template": "hello"},
            ],
        },
    )
    version = journey_publish(journey=journey)
    ping = journey_save(
        merchant=merchant,
        key="ping",
        name="Ping",
        definition={
            "trigger": {"event": "bench.ping"},
            "entry": {"per": "order"},
            "start": "send",
            "steps": [{"id": "send", "type": "send", "template": "hello"}],
        },
    )
    journey_publish(journey=ping)
    return merchant, journey, version


def make_enrollments(merchant, journey, version, count: int, *, due: bool, first: int) -> None:
    """``count`` customers, each with one enrollment (due now, or in a year), written with COPY
    a chunk at a time."""
    from django.db import connection, transaction
    from django.utils import timezone

    from journeys.models import Enrollment
    from orders.models import Customer
    from postpurchase.pgbulk import insert_new

    now = timezone.now()
    when = now - timedelta(minutes=1) if due else now + timedelta(days=365)
    for start in range(0, count, 50_000):
        size = min(50_000, count - start)
        with transaction.atomic():
            customers = [
                Customer(
                    merchant=merchant,
                    external_id=f"c{first + start + i}",
                    email=f"shopper{first + start + i}@example.com",
                    first_name=f"Shopper{first + start + i}",
                    timezone="UTC",
                    orders_count=1,
                )
                for i in range(size)
            ]
            insert_new(Customer, customers)
            insert_new(
                Enrollment,
                (
                    Enrollment(
                        merchant=merchant,
                        journey=journey,
                        version=version,
                        customer=customer,
                        key=f"order:{customer.pk}",
                        current_step="send" if due else "wait",
                        next_run_at=when,
                        entered_at=now,
                    )
                    for customer in customers
                ),
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def tick_in_processes(processes: int) -> float:
    from django.db import connections

    from journeys.services import journeys_tick

    connections.close_all()
    go = os.pipe()
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:
            os.read(go[0], 1)
            try:
                journeys_tick(budget=timedelta(hours=1))
                connections.close_all()
            finally:
                os._exit(0)
        children.append(pid)
    started = time.perf_counter()
    os.write(go[1], b"g" * processes)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise SystemExit(f"a worker process failed ({status})")
    return time.perf_counter() - started


def bench_due(args, merchant, journey, version) -> None:
    import redis

    from journeys.models import Enrollment
    from notifications.models import Message

    make_enrollments(merchant, journey, version, args.due, due=True, first=0)
    seconds = tick_in_processes(args.processes)
    done = Enrollment.unscoped.filter(merchant=merchant, state="completed").count()
    written = Message.unscoped.filter(merchant=merchant).count()
    redis.Redis.from_url(args.redis).flushdb()
    print(
        f"(a) {args.due:,} due, {args.processes} processes: {seconds:.1f} s, "
        f"{done:,} completed, {written:,} outbox rows: {done / seconds:,.0f} enrollments/s"
    )


def bench_idle(args, merchant, journey, version) -> None:
    from django.db import connection
    from django.utils import timezone

    from journeys.services import journeys_tick

    made = 0
    while made < args.waiting:
        chunk = min(200_000, args.waiting - made)
        make_enrollments(merchant, journey, version, chunk, due=False, first=10_000_000 + made)
        made += chunk
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    times = []
    for _ in range(50):
        started = time.perf_counter()
        journeys_tick(now=timezone.now())
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(
        f"(b) {made:,} waiting, none due: one tick {statistics.median(times):.2f} ms median, "
        f"{times[-1]:.2f} ms worst of 50"
    )


def bench_latency(args, merchant) -> None:
    import redis
    from django.db import transaction

    from journeys.models import Enrollment
    from notifications.models import Message
    from orders.models import Customer
    from postpurchase.events.services import event_record
    from postpurchase.pgbulk import insert_new

    redis.Redis.from_url(args.redis).flushdb()
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]}
    # the hand-off (the messages queue) is bench/messages.py's
    worker = celery_worker("events,events_bulk,journeys", args.processes, env=env)
    try:
        # the clock starts once the worker has taken a first event through
        warm = Customer(merchant=merchant, email="warm@example.com", first_name="Warm")
        insert_new(Customer, [warm])
        with transaction.atomic():
            event_record(merchant=merchant, type="bench.ping", customer=warm, payload={})
        for _ in range(600):
            if Enrollment.unscoped.filter(customer=warm).exists():
                break
            threading.Event().wait(0.1)
        customers = [
            Customer(merchant=merchant, email=f"ping{i}@example.com", first_name=f"Ping{i}")
            for i in range(args.events)
        ]
        insert_new(Customer, customers)
        committed: dict[str, float] = {}
        interval = 1 / args.rate
        start = time.perf_counter()
        for i, customer in enumerate(customers):
            target = start + i * interval
            time.sleep(max(0.0, target - time.perf_counter()))
            with transaction.atomic():
                event_record(
                    merchant=merchant,
                    type="bench.ping",
                    customer=customer,
                    payload={"order_id": 90_000_000 + i},
                )
            committed[f"order:{90_000_000 + i}"] = time.time()
        latencies = []
        entered = Enrollment.unscoped.filter(merchant=merchant, key__in=list(committed))
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and entered.count() < len(customers):
            threading.Event().wait(0.2)
        with_message = set(
            Message.unscoped.filter(merchant=merchant).values_list("customer_id", flat=True)
        )
        for key, created, customer_id in entered.values_list("key", "entered_at", "customer_id"):
            if customer_id in with_message:
                latencies.append((created.timestamp() - committed[key]) * 1000)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        redis.Redis.from_url(args.redis).flushdb()
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
    print(
        f"(c) {len(latencies)} events at {args.rate:g}/s: event to first message "
        f"p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, max {latencies[-1]:.0f} ms"
    )


def main() -> None:
    args = parse_args()
    url = fresh_database(args.pg, args.database)
    merchant, journey, version = prepare(args, url)
    if args.only in (None, "a"):
        bench_due(args, merchant, journey, version)
    if args.only in (None, "c"):
        bench_latency(args, merchant)
    if args.only in (None, "b"):
        bench_idle(args, merchant, journey, version)


if __name__ == "__main__":
    main()
