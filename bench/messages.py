"""The outbox's throughput with one worker on PostgreSQL, beside its floor.

    .venv/bin/python bench/messages.py                 # 10,000 messages, batches of 100

Creates a fresh database (``--database``, dropped first), migrates it, creates a merchant with
the default templates and ``--customers`` customers, then, in this one process (one worker):
  (a) outbox:  ``message_send_batch`` for each batch of ``--batch`` order confirmations
               (transactional email: rendered in the sandbox, inside the branded frame, with the
               shopper's signed links), each decided, written with its event, and handed after
               commit to ``messages_deliver`` (Celery in eager mode: the task body runs here,
               as the worker would run it), which claims it, checks it again and sends it
               through anymail's test backend, recording ``sent``
  (b) floor, rendering alone: the outbox's rendering of the same batches (``render_batch``:
      one render-pool job per batch, then the branded frame)
  (c) floor, a bare insert: the same message rows (as (a) wrote them) inserted again with one
      psycopg2 COPY in one transaction
Prints messages/s for each and (a)/(b+c): how close the whole path is to its two unavoidable
parts done alone.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

from bench.common import fresh_database  # noqa: E402 - after the path is set


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="pp_bench_messages")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (a Celery worker's default concurrency is the CPU count)",
    )
    return parser.parse_args()


def prepare(args: argparse.Namespace, url: str):
    os.environ.update(
        DATABASE_URL=url,
        EMAIL_BACKEND="anymail.backends.test.EmailBackend",
        CELERY_TASK_ALWAYS_EAGER="true",
        SITE_URL="https://app.example",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from notifications.defaults import message_templates_install_defaults
    from notifications.models import MessageTemplate
    from orders.models import Customer
    from postpurchase.tenancy.services import merchant_create

    call_command("migrate", verbosity=0)
    merchant = merchant_create(
        slug="bench-messages",
        name="Bench Outfitters",
        timezone="America/New_York",
        currency="USD",
        country="US",
    )
    merchant.sender_email, merchant.support_email = "hello@bench.example", "help@bench.example"
    merchant.postal_address = "1 Market St, San Francisco, CA 94105"
    merchant.save()
    message_templates_install_defaults(merchant=merchant)
    Customer.unscoped.bulk_create(
        Customer(
            merchant=merchant,
            external_id=f"c{i}",
            email=f"shopper{i}@example.com",
            first_name=f"Shopper{i}",
            timezone="America/New_York",
        )
        for i in range(args.customers)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    template = MessageTemplate.unscoped.get(merchant=merchant, key="order_confirmation")
    customers = list(Customer.unscoped.filter(merchant=merchant).order_by("pk"))
    return merchant, template, customers


def requests_for(merchant, template, customers, count: int, offset: int):
    from notifications.context import merchant_context
    from notifications.outbox import SendRequest

    base = merchant_context(merchant)
    requests = []
    for i in range(offset, offset + count):
        customer = customers[i % len(customers)]
        context = {
            **base,
            "customer": {"first_name": customer.first_name, "email": customer.email},
            "order": {
                "number": f"#{1000 + i}",
                "total": "84.00",
                "currency": "USD",
                "lines": [
                    {"title": "Trail runner", "quantity": 1, "unit_price": "64.00"},
                    {"title": "Wool socks", "quantity": 2, "unit_price": "10.00"},
                ],
            },
            "tracking_url": f"https://app.example/s/bench/track/{i}/",
        }
        requests.append(SendRequest(template, customer, context, f"order:{i}:confirmation"))
    return requests


def _send_batches(merchant, batches) -> None:
    from notifications.outbox import message_send_batch

    for requests in batches:
        message_send_batch(merchant=merchant, requests=requests)


def _render_batches(merchant, batches) -> None:
    from notifications.outbox import render_batch

    for requests in batches:
        render_batch(merchant, requests)  # one render-pool job per batch, as the outbox does


def in_processes(work, merchant, batches, processes: int) -> float:
    """Wall time of ``work`` over ``batches`` shared out among ``processes`` forked workers
    (each with its own database connection), as a Celery worker's prefork pool runs tasks."""
    from django.db import connections

    if processes <= 1:
        started = time.perf_counter()
        work(merchant, batches)
        return time.perf_counter() - started
    connections.close_all()
    ready, go = os.pipe(), os.pipe()
    children = []
    for index in range(processes):
        pid = os.fork()
        if pid == 0:
            share = batches[index::processes]
            os.write(ready[1], b"r")
            os.read(go[0], 1)
            try:
                work(merchant, share)
                connections.close_all()
            finally:
                os._exit(0)
        children.append(pid)
    for _ in children:
        os.read(ready[0], 1)
    started = time.perf_counter()
    os.write(go[1], b"g" * processes)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise SystemExit(f"a worker process failed ({status})")
    return time.perf_counter() - started


def run_insert(merchant) -> tuple[float, int]:
    """COPY the rows (a) wrote into the table again, under fresh keys, in one transaction."""
    from django.db import connection

    from notifications.models import Message

    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    rows = list(
        Message.unscoped.filter(merchant=merchant).values_list(*[f.attname for f in fields])
    )
    key = columns.index("idempotency_key")
    buffer = io.StringIO()
    for row in rows:
        values = []
        for i, value in enumerate(row):
            if i == key:
                value = f"floor:{value}"
            if value is None:
                values.append("\\N")
            else:
                text = value.isoformat() if hasattr(value, "isoformat") else str(value)
                values.append(
                    text.replace("\\", "\\\\")
                    .replace("\t", "\\t")
                    .replace("\n", "\\n")
                    .replace("\r", "\\r")
                )
        buffer.write("\t".join(values) + "\n")
    buffer.seek(0)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.connection.autocommit = False
        quoted = ", ".join(f'"{column}"' for column in columns)
        raw.copy_expert(f"COPY notifications_message ({quoted}) FROM STDIN", buffer)
        raw.connection.commit()
    return time.perf_counter() - started, len(rows)


def main() -> None:
    args = parse_args()
    url = fresh_database(args.pg, args.database)
    merchant, template, customers = prepare(args, url)
    from django.core import mail
    from django.db.models import Count

    from notifications.models import Message

    size = args.batch
    warm = requests_for(merchant, template, customers, args.warmup, 10_000_000)
    _send_batches(merchant, [warm[i : i + size] for i in range(0, len(warm), size)])
    Message.unscoped.filter(merchant=merchant).delete()
    mail.outbox = []

    requests = requests_for(merchant, template, customers, args.messages, 0)
    batches = [requests[i : i + size] for i in range(0, len(requests), size)]
    outbox_seconds = in_processes(_send_batches, merchant, batches, args.processes)
    statuses = dict(
        Message.unscoped.filter(merchant=merchant)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    sent = Message.unscoped.filter(merchant=merchant, provider="anymail:test").count()
    render_seconds = in_processes(_render_batches, merchant, batches, args.processes)
    insert_seconds, inserted = run_insert(merchant)

    n = args.messages
    a, b, c = n / outbox_seconds, n / render_seconds, inserted / insert_seconds
    print(
        f"messages: {n}, batch {size}, processes {args.processes}, statuses {statuses}, "
        f"handed to anymail's test backend: {sent}"
    )
    print(f"(a) outbox (render + decide + write + hand-off): {a:,.0f} messages/s")
    print(f"(b) floor, rendering alone:                     {b:,.0f} messages/s")
    print(f"(c) floor, bare COPY of the rows:               {c:,.0f} messages/s")
    floor = 1 / (1 / b + 1 / c)
    print(f"(b+c) floor, both in turn:                      {floor:,.0f} messages/s")
    print(f"(a)/(b+c) = {a / floor:.2f}")


if __name__ == "__main__":
    main()
