"""A real Celery worker draining many small tasks: throughput by prefetch multiplier and
concurrency (prefork processes), on Redis or RabbitMQ.

    .venv/bin/python bench/worker.py                                  # the grid below, Redis
    .venv/bin/python bench/worker.py --kinds events --prefetch 1 16 --concurrency 2
    .venv/bin/python bench/worker.py --broker amqp://guest:guest@127.0.0.1:5672/bench

Creates a fresh database (``--database``, dropped first) with one merchant and its default
templates. Then, for each kind, each ``--concurrency`` and each ``--prefetch`` (``--repeat``
times):
  events:   ``--tasks`` events of a custom type that no journey and no webhook endpoint wants,
            each handed to its own ``event_dispatch`` task: the two registered consumers
            (journeys, outbound webhooks) run and find nothing to do; their markers are written
            and the event settled. What an import's dispatch costs a worker, less the journeys.
  messages: ``--tasks`` order confirmations written to the outbox beforehand (rendered, decided,
            claimed in batches of 100, as ``message_send_batch`` does), each then handed to its
            own ``messages_deliver`` task of one message: claim taken, checks, the send through
            anymail's test backend (in memory), the outcome recorded.
  noop:     ``--tasks`` tasks that only note when they ran (bench/worker_tasks.py): what is left
            is Celery's and the broker's own cost a task, where prefetching could matter most.
Every task is published before the worker starts; the worker (``celery worker`` as production
runs it: prefork, ``--prefetch-multiplier``, ``--concurrency``, on that one queue) drains them.
Throughput is counted between the first and the last task's outcome as recorded
(``Event.dispatched_at``, ``Message.sent_at``, the noop's note), so the worker's start does not
count; the worker's CPU (its main process and pool, from /proc) over the same window gives the
CPU per task. ``--kinds`` defaults to events and messages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

from bench.common import (  # noqa: E402 - after the path is set
    celery_worker,
    fresh_database,
    tree_cpu_seconds,
)

QUEUES = {"events": "events", "messages": "messages", "noop": "default"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="pp_bench_worker")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11")
    kinds = sorted(QUEUES)
    parser.add_argument("--kinds", nargs="+", choices=kinds, default=["events", "messages"])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--prefetch", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--conn-max-age", default="60", help="DB_CONN_MAX_AGE (60 as docker-compose.yml sets it)"
    )
    parser.add_argument("--log", default=str(ROOT / "var" / "bench-worker.log"))
    parser.add_argument("--redis", help="for the noop kind's notes; default: --broker")
    return parser.parse_args()


def prepare(args, url: str):
    os.environ.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL=args.broker,
        CELERY_RESULT_BACKEND="",
        DB_CONN_MAX_AGE=args.conn_max_age,
        EMAIL_BACKEND="anymail.backends.test.EmailBackend",
        PLATFORM_EMAIL_DAILY_QUOTA="0",
        SITE_URL="https://app.example",
    )
    os.environ["REDIS_URL"] = getattr(args, "redis", None) or args.broker
    import django

    django.setup()
    from django.core.management import call_command

    from notifications.defaults import message_templates_install_defaults
    from postpurchase.tenancy.services import merchant_create

    call_command("migrate", verbosity=0)
    merchant = merchant_create(
        slug="bench-worker", name="Bench", timezone="UTC", currency="USD", country="US"
    )
    merchant.sender_email, merchant.support_email = "hello@bench.example", "help@bench.example"
    merchant.postal_address = "1 Market St, San Francisco, CA 94105"
    merchant.save()
    message_templates_install_defaults(merchant=merchant)
    return merchant


def purge(queue: str) -> None:
    from postpurchase.celery import app

    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)


def events_publish(merchant, count: int, run: str) -> None:
    """``count`` events recorded, then each handed to its own dispatch task."""
    from django.db import connection, transaction

    from postpurchase.events.services import EventSpec, event_record_many
    from postpurchase.events.tasks import event_dispatch_task

    with transaction.atomic():
        ids = event_record_many(
            merchant=merchant,
            events=[
                EventSpec(type="bench.noop", payload={"n": i}, dedupe_key=f"{run}:{i}")
                for i in range(count)
            ],
        )
    purge("events_bulk")  # the batch task event_record_many enqueued: a task per event instead
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    for event_id in ids:
        event_dispatch_task.delay(event_id=event_id, merchant_id=merchant.pk)


def events_done(merchant, run: str):
    from postpurchase.events.models import Event

    return Event.unscoped.filter(
        merchant=merchant, dedupe_key__startswith=f"{run}:", dispatched_at__isnull=False
    )


def messages_publish(merchant, count: int, run: str) -> None:
    """``count`` confirmations written to the outbox, then each handed to its own task."""
    from django.db import connection

    from notifications.context import merchant_context
    from notifications.models import Message, MessageTemplate
    from notifications.outbox import SendRequest, message_send_batch
    from notifications.tasks import messages_deliver_task
    from orders.models import Customer
    from postpurchase.pgbulk import insert_new

    template = MessageTemplate.unscoped.get(merchant=merchant, key="order_confirmation")
    customers = [
        Customer(merchant=merchant, email=f"{run}-{i}@example.com", first_name=f"Shopper{i}")
        for i in range(count)
    ]
    insert_new(Customer, customers)
    base = merchant_context(merchant)
    requests = [
        SendRequest(
            template,
            customer,
            {
                **base,
                "customer": {"first_name": customer.first_name, "email": customer.email},
                "order": {"number": f"#{i}", "total": "84.00", "currency": "USD", "lines": []},
            },
            f"{run}:{i}",
        )
        for i, customer in enumerate(customers)
    ]
    for start in range(0, count, 100):
        message_send_batch(merchant=merchant, requests=requests[start : start + 100])
    purge("messages_bulk")  # the outbox's tasks of 100 (the bulk lane): a task per message instead
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    queued = Message.unscoped.filter(
        merchant=merchant, idempotency_key__startswith=f"{run}:", status="queued"
    ).values_list("pk", "claim")
    for message_id, claim in queued:
        messages_deliver_task.delay(message_ids=[message_id], claim=claim, merchant_id=merchant.pk)


def messages_done(merchant, run: str):
    from notifications.models import Message

    return Message.unscoped.filter(
        merchant=merchant, idempotency_key__startswith=f"{run}:", sent_at__isnull=False
    )


def noop_publish(merchant, count: int, run: str) -> None:
    """``count`` tasks that do nothing but note when they ran (bench/worker_tasks.py)."""
    from postpurchase.celery import app

    for _ in range(count):
        app.send_task("bench.worker_tasks.noop", kwargs={"run": run}, queue="default")


def noop_times(run: str) -> list[float]:
    import redis
    from django.conf import settings

    notes = redis.Redis.from_url(settings.REDIS_URL).lrange(f"bench:{run}", 0, -1)
    return [float(t) for t in notes]


def counted(kind: str, merchant, run: str) -> int:
    if kind == "noop":
        return len(noop_times(run))
    return KINDS[kind][1](merchant, run).count()


def span_seconds(kind: str, merchant, run: str) -> float:
    """Seconds from the first task's outcome to the last's."""
    from django.db.models import Max, Min

    if kind == "noop":
        times = noop_times(run)
        return max(times) - min(times)
    _, done, field = KINDS[kind]
    span = done(merchant, run).aggregate(first=Min(field), last=Max(field))
    return (span["last"] - span["first"]).total_seconds()


KINDS = {
    "events": (events_publish, events_done, "dispatched_at"),
    "messages": (messages_publish, messages_done, "sent_at"),
    "noop": (noop_publish, None, None),
}


def drain(args, merchant, kind: str, concurrency: int, prefetch: int, run: str) -> dict:
    publish = KINDS[kind][0]
    purge(QUEUES[kind])
    publish(merchant, args.tasks, run)
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "ab") as log:
        worker = celery_worker(
            QUEUES[kind],
            concurrency,
            extra=(
                f"--prefetch-multiplier={prefetch}",
                f"--hostname=bench-{run}@%h",
                "--include=bench.worker_tasks",
            ),
            env=os.environ.copy(),
            stdout=log,
            stderr=log,
        )
    pause = threading.Event()
    try:
        while counted(kind, merchant, run) == 0:
            pause.wait(0.02)
        cpu_first = tree_cpu_seconds(worker.pid)
        deadline = time.monotonic() + 600
        while counted(kind, merchant, run) < args.tasks:
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind}: the worker did not finish in 600 s")
            pause.wait(0.05)
        cpu_last = tree_cpu_seconds(worker.pid)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    seconds = span_seconds(kind, merchant, run)
    return {
        "per_second": (args.tasks - 1) / seconds,
        "seconds": seconds,
        "cpu_ms_per_task": (cpu_last - cpu_first) * 1000 / (args.tasks - 1),
    }


def main() -> None:
    args = parse_args()
    url = fresh_database(args.pg, args.database)
    merchant = prepare(args, url)
    print(f"broker {args.broker}, {args.tasks} tasks a run, {os.cpu_count()} CPUs")
    grid = [(c, p) for c in args.concurrency for p in args.prefetch]
    results: dict[tuple, list[dict]] = {}
    for kind in args.kinds:
        drain(args, merchant, kind, 2, 1, f"{kind}-warm")  # a first run warms caches and plans
    # Rounds of the whole grid rather than one setting's runs back to back: the load other
    # processes put on the machine drifts, and each round meets about the same load.
    for n in range(args.repeat):
        for kind in args.kinds:
            for concurrency, prefetch in grid:
                load = os.getloadavg()[0]
                run = drain(args, merchant, kind, concurrency, prefetch, f"{kind}-{concurrency}-"
                            f"{prefetch}-{n}")  # fmt: skip
                results.setdefault((kind, concurrency, prefetch), []).append(run)
                print(
                    f"round {n + 1}: {kind} concurrency {concurrency} prefetch {prefetch}: "
                    f"{run['per_second']:,.0f} tasks/s, {run['cpu_ms_per_task']:.1f} ms worker "
                    f"CPU a task (load {load:.1f})",
                    flush=True,
                )
    print("kind      concurrency  prefetch  tasks/s: median (runs)          worker CPU/task")
    for (kind, concurrency, prefetch), runs in results.items():
        rates = [r["per_second"] for r in runs]
        each = " / ".join(f"{rate:,.0f}" for rate in rates)
        cpu = statistics.median(r["cpu_ms_per_task"] for r in runs)
        print(
            f"{kind:<9} {concurrency:>11}  {prefetch:>8}  "
            f"{statistics.median(rates):>7,.0f} ({each})".ljust(62)
            + f"{cpu:.1f} ms"
        )


if __name__ == "__main__":
    main()
