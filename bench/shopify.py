"""The per-order door as Shopify uses it: order webhooks received, then processed by the worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench_shopify \
        .venv/bin/python bench/shopify.py --orders 1000

Creates (and migrates) the database if needed and connects a fresh merchant's Shopify store.
Then it builds ``--orders`` ``orders/create`` bodies in the shape of Shopify's REST Order (one
to four line items from a catalogue of 60 products, a customer with consent and an address,
a third as many customers as orders, so most come back) and measures:
  1. receive:  ``shopify_delivery_receive`` for each body, signed as Shopify signs it (what the
               webhook view does, without HTTP), deliveries per second;
  2. process:  what the worker does with them: ``inbound_delivery_process`` for each delivery in
               the order they were received, as the ``integrations`` queue's tasks would run them
               one after the other, orders per second. Every delivery is checked processed
               and every order stored;
  3. again:    the same bodies under new webhook ids and a later ``updated_at`` (Shopify's
               ``orders/updated`` after an edit that changes nothing we keep), received and
               processed, orders per second.
The merchant is deleted afterwards. Celery uses kombu's in-memory broker, so each enqueue's
cost in Python is counted but no broker round trip is.

With ``--worker`` the processing is done by a real Celery worker instead: the deliveries are
received with Redis as the broker (``--broker``, a Redis database of the bench's own, flushed
before and after), one task each, as the webhook view enqueues them; then a worker on the
``integrations`` queue (``--concurrency`` processes, prefetch 1, as ``docker-compose.yml`` runs it)
is started and works the backlog off. "process" is from the first delivery it touched to the
last one settled (polled every 20 ms), so the worker's start-up is not counted; each task's
overhead in Celery and the broker round trips are.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pp_bench_shopify")

from bench.common import celery_worker, ensure_database  # noqa: E402 - after the path is set

SECRET = "shpss_bench_0123456789abcdef0123456789abcdef"  # noqa: S105 - a benchmark's own store
PRODUCTS = 60


def _money(amount: str) -> dict:
    money = {"amount": amount, "currency_code": "USD"}
    return {"shop_money": money, "presentment_money": money}


def order_body(n: int, rng: random.Random, customers: int, updated: str) -> dict:
    """Order ``n`` as Shopify's REST Admin API sends it (the fields our mapping reads, and the
    usual others beside them)."""
    customer_id = 7_000_000_000 + rng.randrange(customers)
    address = {
        "first_name": "Ada",
        "last_name": f"Buyer{customer_id % 10_000}",
        "address1": f"{n % 900 + 1} Main Street",
        "city": "Springfield",
        "province_code": "IL",
        "country_code": "US",
        "zip": f"{62700 + customer_id % 90}",
    }
    lines, subtotal = [], 0
    for i, product in enumerate(rng.sample(range(PRODUCTS), rng.randint(1, 4))):
        quantity = rng.randint(1, 3)
        price = 12 + product
        subtotal += price * quantity
        lines.append(
            {
                "id": 9_000_000_000 + n * 10 + i,
                "product_id": 8_000_000_000 + product,
                "variant_id": 8_500_000_000 + product,
                "title": f"Product {product}",
                "variant_title": "Default",
                "sku": f"SKU-{product:03d}",
                "vendor": "Bench",
                "quantity": quantity,
                "price": f"{price}.00",
                "price_set": _money(f"{price}.00"),
                "total_discount": "0.00",
                "discount_allocations": [],
                "tax_lines": [],
                "requires_shipping": True,
                "fulfillment_status": None,
            }
        )
    placed = f"2026-11-{1 + n % 28:02d}T{8 + n % 12:02d}:{n % 60:02d}:00-05:00"
    return {
        "id": 6_000_000_000 + n,
        "admin_graphql_api_id": f"gid://shopify/Order/{6_000_000_000 + n}",
        "name": f"#{1000 + n}",
        "order_number": 1000 + n,
        "email": f"buyer{customer_id}@example.com",
        "created_at": placed,
        "processed_at": placed,
        "updated_at": updated or placed,
        "currency": "USD",
        "subtotal_price": f"{subtotal}.00",
        "total_discounts": "0.00",
        "total_shipping_price_set": _money("5.00"),
        "total_tax": "0.00",
        "total_price": f"{subtotal + 5}.00",
        "financial_status": "paid",
        "fulfillment_status": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "source_name": "web",
        "customer": {
            "id": customer_id,
            "email": f"buyer{customer_id}@example.com",
            "phone": None,
            "first_name": "Ada",
            "last_name": address["last_name"],
            "tags": "",
            "email_marketing_consent": {
                "state": "subscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": "2026-10-01T10:00:00-05:00",
            },
            "default_address": address,
        },
        "shipping_address": address,
        "billing_address": address,
        "line_items": lines,
        "shipping_lines": [{"id": 1, "title": "Standard", "price": "5.00"}],
        "fulfillments": [],
        "refunds": [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--worker", action="store_true", help="process with a real Celery worker")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    os.environ["CELERY_BROKER_URL"] = args.broker if args.worker else "memory://"
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils.crypto import get_random_string

    from connectors import services
    from connectors.models import InboundDelivery
    from connectors.services import shopify_delivery_receive, shopify_secret_set

    if hasattr(services, "inbound_delivery_process"):  # the code before issue 12 (a pair)
        inbound_delivery_process = services.inbound_delivery_process
    else:
        from connectors.processing import inbound_delivery_process
    from orders.models import Order
    from postpurchase.tenancy.services import merchant_create

    if args.worker:
        import redis

    call_command("migrate", verbosity=0)
    slug = f"bench-{get_random_string(8).lower()}"
    merchant = merchant_create(
        slug=slug, name="Bench", timezone="America/New_York", currency="USD", country="US"
    )
    shopify_secret_set(merchant=merchant, secret=SECRET, shop_domain=f"{slug}.myshopify.com")
    customers = max(args.orders // 3, 1)

    def bodies(updated: str) -> list[bytes]:
        rng = random.Random(args.seed)
        return [
            json.dumps(order_body(n, rng, customers, updated)).encode() for n in range(args.orders)
        ]

    def receive(raw: list[bytes], topic: str, prefix: str) -> tuple[float, list[int]]:
        started = time.perf_counter()
        ids = []
        for n, body in enumerate(raw):
            digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
            headers = {
                "X-Shopify-Topic": topic,
                "X-Shopify-Webhook-Id": f"{prefix}-{n}",
                "X-Shopify-Shop-Domain": f"{slug}.myshopify.com",
                "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            }
            delivery, _ = shopify_delivery_receive(merchant_slug=slug, body=body, headers=headers)
            ids.append(delivery.pk)
        return time.perf_counter() - started, ids

    def process(ids: list[int]) -> float:
        if args.worker:
            seconds = work_off(ids)
        else:
            started = time.perf_counter()
            for delivery_id in ids:
                inbound_delivery_process(merchant=merchant, delivery_id=delivery_id)
            seconds = time.perf_counter() - started
        statuses = set(InboundDelivery.unscoped.filter(pk__in=ids).values_list("status", flat=True))
        assert statuses == {"processed"}, statuses
        return seconds

    def work_off(ids: list[int]) -> float:
        """Start a worker on the backlog; the seconds from its first touch to the last settle."""
        waiting = InboundDelivery.unscoped.filter(pk__in=ids)
        worker = celery_worker(
            "integrations",
            args.concurrency,
            extra=("--prefetch-multiplier=1", f"--hostname=bench-{slug}@%h"),
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,  # its banner
        )
        try:
            started = None
            while True:
                touched = waiting.exclude(status="received", attempts=0).exists()
                if started is None and touched:
                    started = time.perf_counter()
                if started is not None and not waiting.exclude(status="processed").exists():
                    return time.perf_counter() - started
                if worker.poll() is not None:
                    raise SystemExit(f"The worker stopped (exit {worker.returncode})")
                time.sleep(0.02)
        finally:
            worker.terminate()
            worker.wait(timeout=60)

    if args.worker:
        broker = redis.Redis.from_url(args.broker)
        broker.flushdb()
    try:
        received, ids = receive(bodies(""), "orders/create", "create")
        processed = process(ids)
        stored = Order.unscoped.filter(merchant=merchant).count()
        assert stored == args.orders, stored
        received_again, ids = receive(bodies("2026-11-30T12:00:00-05:00"), "orders/updated", "up")
        processed_again = process(ids)
    finally:
        merchant.delete()
        if args.worker:
            broker.flushdb()

    n = args.orders
    how = f"a Celery worker, {args.concurrency} process(es)" if args.worker else "in process"
    print(
        f"PostgreSQL {connection.pg_version // 10000}, {n} Shopify orders, {customers} customers, "
        f"processed {how}"
    )
    print(f"receive  : {received:7.2f} s  {n / received:7.1f} deliveries/s")
    print(f"process  : {processed:7.2f} s  {n / processed:7.1f} orders/s  (orders/create)")
    print(f"receive  : {received_again:7.2f} s  {n / received_again:7.1f} deliveries/s")
    print(
        f"process  : {processed_again:7.2f} s  {n / processed_again:7.1f} orders/s  "
        "(orders/updated)"
    )


if __name__ == "__main__":
    main()
