"""The plans of the queries that read the logs, on tables of a realistic size (docs/retention.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_explain \
        .venv/bin/python bench/retention_explain.py --events 600000

Migrates the database, fills one merchant's logs with plain SQL (``--events`` events over the
six months before ``--now``, two consumer runs each, a message for every third event with three
timeline rows, an enrollment for every sixth with four step logs; one event in a hundred and
one message in fifty still in flight), makes the monthly partitions a running install would
have, ANALYZEs, prints ``EXPLAIN`` of each read query and of the retention run's own queries,
and times one retention run at ``--now`` plus a year (everything but what is in flight goes).
The merchant is left in place for a look; drop the database afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pp_explain")
os.environ["CELERY_BROKER_URL"] = "memory://"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from journeys.models import JourneyStepLog  # noqa: E402
from notifications.models import Message, MessageStatus  # noqa: E402
from postpurchase.events.models import Event, EventConsumerRun  # noqa: E402
from postpurchase.retention.partitions import partition_create  # noqa: E402
from postpurchase.retention.registry import logs, retention_cutoff  # noqa: E402
from postpurchase.retention.services import logs_retain  # noqa: E402

MONTHS = 6


def fill(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def load(events: int, now: datetime) -> int:
    """One merchant's logs; returns the merchant's id."""
    start = now - timedelta(days=30 * MONTHS)
    span = (now - start).total_seconds()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tenancy_merchant (slug, name, timezone, currency, country, "
            "default_locale, logo, logo_url, primary_colour, accent_colour, sender_name, "
            "sender_email, support_email, support_url, is_active, created_at, postal_address) "
            "VALUES (%s, 'Explain', 'UTC', 'EUR', 'FR', 'en', '', '', '#000000', '#000000', '', "
            "'', '', '', true, now(), '') RETURNING id",
            [f"explain-{int(time.time())}"],
        )
        [merchant] = cursor.fetchone()
    customers = max(events // 30, 1)
    fill(
        "INSERT INTO orders_customer (merchant_id, external_id, email, phone, first_name, "
        "last_name, timezone, locale, tags, email_marketing_consent, email_consent_source, "
        "sms_marketing_consent, sms_consent_source, orders_count, total_spent, created_at, "
        "updated_at) SELECT %s, 'c' || g, 'c' || g || '@example.com', '', '', '', '', '', '[]', "
        "false, '', false, '', 1, 0, now(), now() FROM generate_series(1, %s) g",
        merchant,
        customers,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM orders_customer WHERE merchant_id = %s", [merchant])
        [first_customer] = cursor.fetchone()
    fill(
        "INSERT INTO events_event (merchant_id, customer_id, type, occurred_at, recorded_at, "
        "payload, source, dispatched_at, next_dispatch_at, dispatch_enqueues, is_history) "
        "SELECT %s, %s + g %% %s, 'order.placed', t, t, jsonb_build_object('order_id', g), "
        "'api', CASE WHEN g %% 10 = 0 AND t > %s THEN NULL ELSE t END, "
        "CASE WHEN g %% 10 = 0 AND t > %s THEN t + interval '10 minutes' END, 0, false "
        "FROM generate_series(1, %s) g "
        "CROSS JOIN LATERAL (SELECT %s::timestamptz + (g * %s / %s) * interval '1 second' AS t) w",
        merchant,
        first_customer,
        customers,
        now - timedelta(days=1),
        now - timedelta(days=1),
        events,
        start,
        span,
        events,
    )
    month = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while month <= now:
        partition_create("events_eventconsumerrun", month)
        partition_create("journeys_journeysteplog", month)
        month = (month + timedelta(days=32)).replace(day=1)
    fill(
        "INSERT INTO events_eventconsumerrun (event_id, consumer, status, attempts, last_error, "
        "updated_at, event_recorded_at, finished_at) "
        "SELECT e.id, c, CASE WHEN e.next_dispatch_at IS NULL THEN 'done' ELSE 'failed' END, "
        "1, '', e.recorded_at, e.recorded_at, e.dispatched_at FROM events_event e "
        "CROSS JOIN (VALUES ('journeys'), ('webhooks')) v(c) WHERE e.merchant_id = %s",
        merchant,
    )
    fill(
        "INSERT INTO notifications_message (merchant_id, customer_id, idempotency_key, channel, "
        'category, "to", locale, subject, preheader, html, text, sms, kind, status, reason, '
        "detail, attempts, claim, provider, provider_message_id, created_at, updated_at, "
        "next_attempt_at) "
        "SELECT e.merchant_id, e.customer_id, 'event:' || e.id, 'email', 'transactional', "
        "'c@example.com', 'en', 'Thanks', '', '<p>Thanks</p>', 'Thanks', '', 'transactional', "
        "CASE WHEN e.next_dispatch_at IS NOT NULL THEN 'queued' ELSE 'delivered' END, '', '', "
        "1, '', 'smtp', '', e.recorded_at, e.recorded_at, "
        "CASE WHEN e.next_dispatch_at IS NOT NULL THEN e.recorded_at END "
        "FROM events_event e WHERE e.merchant_id = %s AND e.id %% 3 = 0",
        merchant,
    )
    fill(
        "INSERT INTO notifications_messageevent (merchant_id, message_id, status, reason, "
        "detail, occurred_at, provider_event_id) "
        "SELECT m.merchant_id, m.id, s, '', '', m.created_at + n * interval '1 minute', '' "
        "FROM notifications_message m "
        "CROSS JOIN (VALUES ('queued', 0), ('sent', 1), ('delivered', 2)) v(s, n) "
        "WHERE m.merchant_id = %s",
        merchant,
    )
    fill(
        "INSERT INTO journeys_journey (merchant_id, key, name, description, status, draft, "
        "created_at, updated_at) VALUES (%s, 'explain', 'Explain', '', 'live', '{}', now(), now())",
        merchant,
    )
    fill(
        "INSERT INTO journeys_journeyversion (merchant_id, journey_id, number, definition, "
        "trigger_type, trigger_event, goal_event, published_at) SELECT %s, id, 1, '{}', 'event', "
        "'order.placed', '', now() FROM journeys_journey WHERE merchant_id = %s",
        merchant,
        merchant,
    )
    fill(
        "INSERT INTO journeys_enrollment (merchant_id, journey_id, version_id, customer_id, key, "
        "state, current_step, wait_event, wait_match, context, assignments, holdout, entered_at, "
        "exit_reason) SELECT e.merchant_id, v.journey_id, v.id, e.customer_id, "
        "'order:' || e.id, CASE WHEN e.id %% 60 = 0 THEN 'waiting' ELSE 'completed' END, '', "
        "'', '{}', '{}', '{}', false, e.recorded_at, '' FROM events_event e "
        "JOIN journeys_journeyversion v ON v.merchant_id = e.merchant_id "
        "WHERE e.merchant_id = %s AND e.id %% 6 = 0",
        merchant,
    )
    fill(
        "INSERT INTO journeys_journeysteplog (merchant_id, enrollment_id, step_id, step_type, "
        "outcome, detail, occurred_at, message_id) SELECT n.merchant_id, n.id, 's' || k, "
        "'send', 'sent', '', n.entered_at + k * interval '1 hour', "
        "CASE WHEN k = 1 THEN m.id END FROM journeys_enrollment n "
        "JOIN notifications_message m ON m.merchant_id = n.merchant_id "
        "AND m.idempotency_key = 'event:' || substr(n.key, 7) "
        "CROSS JOIN generate_series(1, 4) k WHERE n.merchant_id = %s",
        merchant,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return merchant


def explain(title: str, queryset) -> None:
    print(f"### {title}\n")
    print("```")
    with transaction.atomic():  # a locking read is planned inside one, as it runs
        print(queryset.query)
        print(
            queryset.explain(analyze=True, buffers=False, timing=False, costs=False, summary=False)
        )
    print("```\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--now", default="2026-12-01T00:00:00+00:00")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    merchant = load(args.events, now)
    print(f"loaded in {time.monotonic() - started:.0f} s")
    with connection.cursor() as cursor:
        for table in (
            "events_event",
            "events_eventconsumerrun",
            "notifications_message",
            "notifications_messageevent",
            "journeys_enrollment",
            "journeys_journeysteplog",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608
            print(f"{table}: {cursor.fetchone()[0]} rows")
    print()
    event = Event.unscoped.filter(merchant_id=merchant).order_by("-id")[1000]
    message = Message.unscoped.filter(merchant_id=merchant).order_by("-id")[1000]
    enrollment = JourneyStepLog.unscoped.filter(merchant_id=merchant).order_by("-id")[40].enrollment

    explain(
        "A customer's timeline (orders.selectors.customer_timeline)",
        Event.unscoped.filter(merchant_id=merchant, customer_id=event.customer_id).order_by(
            "-occurred_at", "-id"
        )[:100],
    )
    explain(
        "A message's timeline (notifications.selectors.message_events)",
        message.events.order_by("occurred_at", "id"),
    )
    explain(
        "An enrollment's steps (journeys.engine._step_statuses)",
        JourneyStepLog.unscoped.filter(enrollment=enrollment, message__isnull=False)
        .values_list("step_id", "message__status")
        .order_by("occurred_at", "id"),
    )
    explain(
        "An event's markers, as the dispatch locks them (postpurchase.events.services)",
        EventConsumerRun.objects.select_for_update(skip_locked=True)
        .filter(event_id__in=[event.pk, event.pk - 1], consumer="journeys")
        .values_list("pk", "event_id", "status", "attempts", "next_attempt_at"),
    )
    explain(
        "The due-dispatch sweep (postpurchase.events.services.event_sweep)",
        Event.unscoped.filter(next_dispatch_at__lte=now)
        .order_by("next_dispatch_at")
        .values_list("pk", flat=True)[:500],
    )
    explain(
        "The due-message sweep (notifications.delivery.messages_due_sweep)",
        Message.unscoped.filter(
            status__in=[MessageStatus.QUEUED, MessageStatus.DEFERRED], next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500],
    )
    # Each retention lookup as it runs once its log's first month has expired.
    start = now - timedelta(days=30 * MONTHS)
    for name in ("events", "event_consumer_runs", "messages", "journey_step_logs"):
        policy = logs.get(name)
        days = getattr(settings, policy.setting)
        at = start + timedelta(days=days + 31)
        cutoff = retention_cutoff(policy, days=days, now=at)
        rows = policy.model._base_manager.filter(**{f"{policy.dated_by}__lt": cutoff})
        explain(
            f"Retention's batch lookup: {name}, at {at.date()}",
            rows.filter(logs.removable(policy))
            .order_by(policy.dated_by)
            .values_list("pk")[: settings.LOGS_RETENTION_BATCH],
        )
    # Two runs: a month on (consumer runs: every month but the last goes), then once the
    # first month of events, messages and step logs has expired too.
    for at in (now + timedelta(days=31), start + timedelta(days=396 + 31)):
        started = time.monotonic()
        done = logs_retain(now=at)
        print(f"retention run at {at.date()}: {time.monotonic() - started:.1f} s")
        for name, result in done.items():
            print(
                f"  {name}: {result.deleted} rows deleted, dropped {result.partitions_dropped},"
                f" kept {result.partitions_kept}"
            )


if __name__ == "__main__":
    main()
