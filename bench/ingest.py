"""Ingestion and event-dispatch throughput on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench \
        .venv/bin/python bench/ingest.py --orders 2000

Creates (and migrates) the database if needed, loads a fresh merchant with the demo generator's
realistic payloads (customers, orders with 1-4 lines, shipments with tracking checkpoints), then
measures:
  1. first ingest:   order_ingest + shipment_ingest per order (rows, events), orders per second;
                     "orders alone" is the time inside order_ingest: the per-order door (a
                     Shopify webhook, the API's single POST, the demo loader), a batch of one
  2. re-ingest:      the same payloads again (the idempotent no-change path), orders per second
  3. bulk:           the same orders for a second merchant through order_bulk_ingest, --batch
                     orders a call (the API's POST /orders/bulk without HTTP), orders per second
  4. dispatch:       every recorded event handed to one no-op consumer through events_dispatch,
                     --dispatch-batch events a call (as the dispatch task takes them), events/s
  5. journeys:       the same events again, as if they had all just happened, to the app's own
                     consumers (the journeys engine with the order-confirmation journey live,
                     and the webhooks fan-out): every order.placed enters the journey and its
                     confirmation is rendered and written to the outbox; events per second
With code that has no events_dispatch (an older checkout), steps 4 and 5 hand the events over one
at a time with event_dispatch, as that code did. The merchants are deleted afterwards. Celery
uses kombu's in-memory broker here, so the time to enqueue each task on commit (a dispatch, a
message hand-off) is counted but no broker round trip is.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pp_bench")
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ.setdefault("DEBUG", "false")  # as in production: no query log kept per statement

from bench.common import ensure_database  # noqa: E402 - after the path is set

CONFIRMATION = "order_confirmation"  # the blueprint ./scripts/run publishes for the demo store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=0, help="default: a third of --orders")
    parser.add_argument("--batch", type=int, default=100, help="orders per bulk call")
    parser.add_argument(
        "--dispatch-batch", type=int, default=100, help="events per dispatch call (the task's)"
    )
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from journeys.blueprints import journey_blueprint_install
    from journeys.models import Enrollment, Journey
    from journeys.services import journey_publish
    from notifications.models import Message, MessageTemplate
    from orders import demo
    from orders.services.customers import customer_upsert
    from orders.services.orders import order_bulk_ingest, order_ingest
    from orders.services.products import product_upsert
    from orders.services.shipments import shipment_ingest
    from postpurchase.events import services as events
    from postpurchase.events.models import Event, EventConsumerRun
    from postpurchase.events.registry import ConsumerRegistry, registry
    from postpurchase.tenancy.scoping import merchant_scope
    from postpurchase.tenancy.services import merchant_create

    call_command("migrate", verbosity=0)
    customers = args.customers or max(args.orders // 3, 1)
    plan = demo.demo_plan(anchor=date(2026, 11, 1), customers=customers, orders=args.orders)

    def new_merchant():
        return merchant_create(
            slug=f"bench-{get_random_string(8).lower()}",
            name="Bench",
            timezone="America/New_York",
            currency="USD",
            country="US",
        )

    merchant, twin = new_merchant(), new_merchant()

    def load() -> tuple[float, float, int]:
        started = time.perf_counter()
        in_orders = 0.0
        events = 0
        for payload in plan.products:
            product_upsert(merchant=merchant, payload=payload)
        for joined_at, payload in plan.customers:
            customer_upsert(merchant=merchant, payload=payload, now=joined_at)
        for order, shipments in plan.orders:
            began = time.perf_counter()
            events += len(order_ingest(merchant=merchant, payload=order).events)
            in_orders += time.perf_counter() - began
            for shipment in shipments:
                events += len(shipment_ingest(merchant=merchant, payload=shipment).events)
        return time.perf_counter() - started, in_orders, events

    def load_in_bulk() -> tuple[float, int]:
        for payload in plan.products:
            product_upsert(merchant=twin, payload=payload)
        for joined_at, payload in plan.customers:
            customer_upsert(merchant=twin, payload=payload, now=joined_at)
        orders = [order for order, _ in plan.orders]
        started = time.perf_counter()
        events = 0
        for start in range(0, len(orders), args.batch):
            batch = orders[start : start + args.batch]
            events += sum(len(r.events) for r in order_bulk_ingest(merchant=twin, payloads=batch))
        return time.perf_counter() - started, events

    try:
        first_seconds, first_in_orders, first_events = load()
        again_seconds, again_in_orders, again_events = load()
        bulk_seconds, bulk_events = load_in_bulk()
        consumers = ConsumerRegistry()
        if hasattr(events, "events_dispatch"):
            consumers.subscribe(
                "*", "bench.noop", lambda event: None, batch_handler=lambda events: None
            )
        else:  # an older checkout: no batch handlers
            consumers.subscribe("*", "bench.noop", lambda event: None)

        def dispatch(to) -> tuple[float, int]:
            found = Event.unscoped.filter(merchant=merchant).select_related("merchant")
            pending = list(found.order_by("pk"))
            started = time.perf_counter()
            if hasattr(events, "events_dispatch"):
                for start in range(0, len(pending), args.dispatch_batch):
                    chunk = pending[start : start + args.dispatch_batch]
                    events.events_dispatch(events=chunk, consumers=to)
            else:
                for event in pending:
                    events.event_dispatch(event=event, consumers=to)
            return time.perf_counter() - started, len(pending)

        dispatch_seconds, dispatched = dispatch(consumers)
        # The same events, as if they had just happened and never been handed over, to the
        # app's consumers with the order confirmation live.
        with merchant_scope(merchant):
            journey_publish(journey=journey_blueprint_install(merchant=merchant, key=CONFIRMATION))
        now = timezone.now()
        EventConsumerRun.objects.filter(event__merchant=merchant).delete()
        Event.unscoped.filter(merchant=merchant).update(
            occurred_at=now, dispatched_at=None, next_dispatch_at=now
        )
        journeys_seconds, _ = dispatch(registry)
        written = Message.unscoped.filter(merchant=merchant).count()
    finally:
        # What the journey wrote first: journeys and templates are protected from a cascade.
        Message.unscoped.filter(merchant=merchant).delete()
        Enrollment.unscoped.filter(merchant=merchant).delete()
        Journey.unscoped.filter(merchant=merchant).delete()
        MessageTemplate.unscoped.filter(merchant=merchant).delete()
        merchant.delete()
        twin.delete()

    shipments = sum(len(s) for _, s in plan.orders)
    print(
        f"PostgreSQL {connection.pg_version // 10000}, {args.orders} orders, "
        f"{customers} customers, {shipments} shipments"
    )
    print(
        f"first ingest : {first_seconds:7.2f} s  {args.orders / first_seconds:7.1f} orders/s  "
        f"({first_events} events)"
    )
    print(
        f"  orders alone: {first_in_orders:6.2f} s  {args.orders / first_in_orders:7.1f} orders/s  "
        "(order_ingest, one at a time: the per-order door)"
    )
    print(
        f"re-ingest    : {again_seconds:7.2f} s  {args.orders / again_seconds:7.1f} orders/s  "
        f"({again_events} events)"
    )
    print(
        f"  orders alone: {again_in_orders:6.2f} s  {args.orders / again_in_orders:7.1f} orders/s"
    )
    print(
        f"bulk         : {bulk_seconds:7.2f} s  {args.orders / bulk_seconds:7.1f} orders/s  "
        f"({bulk_events} events; order_bulk_ingest, {args.batch} a call, orders only)"
    )
    how = f"{args.dispatch_batch} a call" if hasattr(events, "events_dispatch") else "one at a time"
    print(
        f"dispatch     : {dispatch_seconds:7.2f} s  {dispatched / dispatch_seconds:7.1f} events/s "
        f"(one no-op consumer, {dispatched} events, {how})"
    )
    print(
        f"journeys     : {journeys_seconds:7.2f} s  {dispatched / journeys_seconds:7.1f} events/s "
        f"(journeys and webhooks, order confirmation live: {written} messages written, {how})"
    )


if __name__ == "__main__":
    main()
