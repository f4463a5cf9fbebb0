"""How long a transactional send waits while an import's dispatch tasks fill the workers: one
worker on every queue, against the same worker beside a worker of its own for ``messages``.

    .venv/bin/python bench/layout.py                       # both layouts, Redis
    .venv/bin/python bench/layout.py --layouts one --events 5000

Creates a fresh database (``--database``, dropped first) with one merchant and its default
templates (bench/worker.py's). For each layout:
  one: one worker on every queue (the bulk lanes too), 2 processes: what scripts/run started
       before (and docker-compose.yml's worker, but for integrations);
  two: the same worker without ``messages`` and ``messages_bulk``, 2 processes, beside a worker
       of one process on those two: what they start now.
The import: ``--events`` events of a custom type recorded 100 at a time, as a bulk import records
them, so each 100 are one ``event_dispatch_many`` task on the bulk lane (the two registered
consumers find nothing to do: a second or so of work a task). Once the workers have begun on
it, ``--probes`` order confirmations are sent one every ``--interval`` seconds
(``message_send``: rendered, written, handed to ``messages_deliver`` on commit; anymail's test
backend); for each, the time from its row's creation to ``sent``. Also the import's dispatch
rate while the probes ran.
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

from bench.common import celery_worker, fresh_database  # noqa: E402 - after the path is set
from bench.worker import prepare, purge  # noqa: E402

ALL = "default,events,events_bulk,journeys,messages,messages_bulk,integrations"
LAYOUTS = {
    "one": [(ALL, 2)],
    "two": [("default,events,events_bulk,journeys,integrations", 2), ("messages,messages_bulk", 1)],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="pp_bench_layout")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--layouts", nargs="+", choices=sorted(LAYOUTS), default=["one", "two"])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--conn-max-age", default="60")
    parser.add_argument("--log", default=str(ROOT / "var" / "bench-layout.log"))
    return parser.parse_args()


def import_record(merchant, count: int, run: str) -> None:
    """``count`` events, 100 a transaction: one dispatch task each 100, enqueued on commit."""
    from django.db import transaction

    from postpurchase.events.services import EventSpec, event_record_many

    for start in range(0, count, 100):
        with transaction.atomic():
            event_record_many(
                merchant=merchant,
                events=[
                    EventSpec(type="bench.noop", payload={"n": i}, dedupe_key=f"{run}:{i}")
                    for i in range(start, min(count, start + 100))
                ],
            )


def dispatched(merchant, run: str) -> int:
    from postpurchase.events.models import Event

    return Event.unscoped.filter(
        merchant=merchant, dedupe_key__startswith=f"{run}:", dispatched_at__isnull=False
    ).count()


def probe_send(merchant, template, n: int, run: str) -> int:
    from notifications.context import merchant_context
    from notifications.outbox import message_send
    from orders.models import Customer
    from postpurchase.pgbulk import insert_new

    customer = Customer(merchant=merchant, email=f"{run}-p{n}@example.com", first_name="Probe")
    insert_new(Customer, [customer])
    context = {
        **merchant_context(merchant),
        "customer": {"first_name": "Probe", "email": customer.email},
        "order": {"number": f"#P{n}", "total": "84.00", "currency": "USD", "lines": []},
    }
    message = message_send(
        merchant=merchant,
        template=template,
        customer=customer,
        context=context,
        idempotency_key=f"{run}:probe:{n}",
    )
    return message.pk


def run_layout(args, merchant, layout: str) -> None:
    from notifications.models import Message, MessageTemplate

    template = MessageTemplate.unscoped.get(merchant=merchant, key="order_confirmation")
    run = f"{layout}-{int(time.time())}"
    for queue in ALL.split(","):
        purge(queue)
    import_record(merchant, args.events, run)
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "ab") as log:
        workers = [
            celery_worker(
                queues,
                processes,
                extra=("--prefetch-multiplier=1", f"--hostname={run}-{index}@%h"),
                env=os.environ.copy(),
                stdout=log,
                stderr=log,
            )
            for index, (queues, processes) in enumerate(LAYOUTS[layout])
        ]
    pause = threading.Event()
    try:
        while dispatched(merchant, run) == 0:
            pause.wait(0.05)
        first, started = dispatched(merchant, run), time.monotonic()
        ids = []
        for n in range(args.probes):
            ids.append(probe_send(merchant, template, n, run))
            pause.wait(args.interval)
        probes = Message.unscoped.filter(pk__in=ids)
        deadline = time.monotonic() + 600
        while probes.filter(sent_at__isnull=False).count() < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"{layout}: the probes were not all sent in 600 s")
            pause.wait(0.05)
        rate = (dispatched(merchant, run) - first) / (time.monotonic() - started)
        left = args.events - dispatched(merchant, run)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    waits = sorted(
        (sent - created).total_seconds() * 1000
        for created, sent in probes.values_list("created_at", "sent_at")
    )
    p95 = waits[min(len(waits) - 1, int(0.95 * len(waits)))]
    print(
        f"{layout}: {len(waits)} sends during the import: created to sent p50 "
        f"{statistics.median(waits):,.0f} ms, p95 {p95:,.0f} ms, max {waits[-1]:,.0f} ms; the "
        f"import dispatched {rate:,.0f} events/s meanwhile ({left:,} of {args.events:,} left "
        f"when the last send was out; load {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def main() -> None:
    args = parse_args()
    url = fresh_database(args.pg, args.database)
    merchant = prepare(args, url)
    for layout in args.layouts:
        run_layout(args, merchant, layout)


if __name__ == "__main__":
    main()
