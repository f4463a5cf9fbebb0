"""Retention (docs/retention.md): a run at a chosen ``now`` keeps every row newer than each log's
cutoff and removes every older one, except what is in flight, whatever its age; on PostgreSQL the
partitioned logs lose their expired months whole, and an expired month that still holds a row in
flight is kept, with its other rows deleted."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from journeys.models import Enrollment, EnrollmentState, Journey, JourneyStepLog, JourneyVersion
from notifications.models import Message, MessageEvent, MessageStatus
from postpurchase.events.models import ConsumerRunStatus, Event, EventConsumerRun
from postpurchase.retention.partitions import partition_create, partitions, partitions_ensure
from postpurchase.retention.registry import logs
from postpurchase.retention.services import log_retain, logs_retain
from postpurchase.retention.tasks import logs_retain_task
from tests.factories import CustomerFactory
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.purge import webhook_deliveries_purge

NOW = datetime(2027, 6, 15, 12, 0, tzinfo=UTC)
# Exact cutoffs (now - 396 days) for events and messages; whole months for the partitioned logs:
# consumer runs (30 days) keep May 2027 on, step logs (396 days) keep May 2026 on.
EXACT_CUTOFF = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)
RUNS_CUTOFF = datetime(2027, 5, 1, tzinfo=UTC)
STEPS_CUTOFF = datetime(2026, 5, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
_keys = itertools.count()


def at(year, month, day=1, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(autouse=True)
def retention_settings(settings):
    settings.EVENTS_RETENTION_DAYS = 396
    settings.EVENT_CONSUMER_RUNS_RETENTION_DAYS = 30
    settings.MESSAGES_RETENTION_DAYS = 396
    settings.JOURNEY_STEP_LOGS_RETENTION_DAYS = 396
    settings.WEBHOOK_DELIVERIES_RETENTION_DAYS = 30
    settings.LOGS_PARTITIONS_AHEAD_MONTHS = 2


def event(merchant, recorded_at, *, in_flight=False) -> Event:
    return Event.unscoped.create(
        merchant=merchant,
        type="order.placed",
        occurred_at=recorded_at,
        recorded_at=recorded_at,
        dispatched_at=None if in_flight else recorded_at,
        next_dispatch_at=NOW + timedelta(minutes=5) if in_flight else None,
    )


def run(of: Event, *, consumer="journeys", status=ConsumerRunStatus.DONE) -> EventConsumerRun:
    return EventConsumerRun.objects.create(
        event=of, consumer=consumer, status=status, event_recorded_at=of.recorded_at
    )


def message(merchant, created_at, status=MessageStatus.DELIVERED) -> Message:
    made = Message.unscoped.create(
        merchant=merchant,
        idempotency_key=f"test:{next(_keys)}",
        channel="email",
        category="transactional",
        status=status,
        created_at=created_at,
    )
    MessageEvent.unscoped.create(
        merchant=merchant, message=made, status=MessageStatus.QUEUED, occurred_at=created_at
    )
    return made


@pytest.fixture
def enrollments(merchant_a):
    journey = Journey.unscoped.create(merchant=merchant_a, key="follow-up", name="Follow-up")
    version = JourneyVersion.unscoped.create(
        merchant=merchant_a, journey=journey, number=1, definition={}
    )

    def make(state):
        return Enrollment.unscoped.create(
            merchant=merchant_a,
            journey=journey,
            version=version,
            customer=CustomerFactory(merchant=merchant_a),
            key=f"order:{next(_keys)}",
            state=state,
        )

    return make


def step(enrollment, occurred_at, message=None) -> JourneyStepLog:
    return JourneyStepLog.unscoped.create(
        merchant_id=enrollment.merchant_id,
        enrollment=enrollment,
        step_type="send",
        outcome="sent",
        occurred_at=occurred_at,
        message=message,
    )


def as_committed() -> None:
    """Check the deferred foreign keys of the rows the test made, as their commit would have:
    PostgreSQL refuses to drop a table with checks still pending in the transaction, which old
    rows never have, and the test's rows are in its one transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def months_of(table: str) -> set[str]:
    return {p.name.rsplit("_", 1)[1] for p in partitions(table)}


def test_events_older_than_13_months_go_unless_in_flight(merchant_a):
    # given
    old = event(merchant_a, EXACT_CUTOFF - SECOND)
    old_run = run(old)
    at_cutoff = event(merchant_a, EXACT_CUTOFF)
    undispatched = event(merchant_a, at(2025, 1, 1), in_flight=True)
    retrying = run(undispatched, status=ConsumerRunStatus.FAILED)

    # when
    done = log_retain(logs.get("events"), now=NOW, batch_size=100, budget=timedelta(minutes=1))

    # then
    assert done.deleted == 1
    assert set(Event.unscoped.values_list("pk", flat=True)) == {at_cutoff.pk, undispatched.pk}
    assert not EventConsumerRun.objects.filter(pk=old_run.pk).exists()
    assert EventConsumerRun.objects.get(event=undispatched).pk == retrying.pk


def test_consumer_runs_go_by_whole_months_and_never_while_their_event_is_in_flight(merchant_a):
    # given: the months the task would have made in time; June 2026 has none (the default one)
    for month in (at(2027, 2), at(2027, 3), at(2027, 4), at(2027, 5)):
        assert partition_create("events_eventconsumerrun", month)
    event(merchant_a, at(2027, 2, 10), in_flight=True)  # no run yet, but its runs will be in Feb
    april = event(merchant_a, RUNS_CUTOFF - SECOND)
    april_runs = [run(april), run(april, consumer="webhooks", status=ConsumerRunStatus.GAVE_UP)]
    may = event(merchant_a, RUNS_CUTOFF)
    may_run = run(may)
    march_in_flight = event(merchant_a, at(2027, 3, 3), in_flight=True)
    march_held = [
        run(march_in_flight),
        run(march_in_flight, consumer="webhooks", status=ConsumerRunStatus.FAILED),
    ]
    march_settled = run(event(merchant_a, at(2027, 3, 4)))
    last_june = run(event(merchant_a, at(2026, 6, 10)))  # in the default partition
    as_committed()

    # when
    done = log_retain(
        logs.get("event_consumer_runs"), now=NOW, batch_size=100, budget=timedelta(minutes=1)
    )

    # then: April dropped whole; March kept for its in-flight event's runs, less its settled
    # run; February kept for an in-flight event that has no run yet; the default partition's
    # expired run deleted; May on kept; June to August made.
    assert "events_eventconsumerrun_p202704" in done.partitions_dropped
    assert done.partitions_kept == [
        "events_eventconsumerrun_p202702",
        "events_eventconsumerrun_p202703",
    ]
    assert done.deleted == 2
    assert set(EventConsumerRun.objects.values_list("pk", flat=True)) == {
        may_run.pk,
        *(r.pk for r in march_held),
    }
    assert not EventConsumerRun.objects.filter(pk__in=[r.pk for r in april_runs]).exists()
    assert {march_settled.pk, last_june.pk}.isdisjoint(
        EventConsumerRun.objects.values_list("pk", flat=True)
    )
    assert {
        "default",
        "p202702",
        "p202703",
        "p202705",
        "p202706",
        "p202707",
        "p202708",
    } <= months_of("events_eventconsumerrun")
    assert "p202704" not in months_of("events_eventconsumerrun")
    # the markers' insert still finds its conflict target, and the key is still once per consumer
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_eventconsumerrun (event_id, consumer, status, attempts, "
            "last_error, updated_at, event_recorded_at) VALUES (%s, 'journeys', 'failed', 0, "
            "'', %s, %s) ON CONFLICT (event_id, consumer, event_recorded_at) DO NOTHING",
            [may.pk, NOW, may.recorded_at],
        )
        assert cursor.rowcount == 0


def test_messages_older_than_13_months_go_with_their_timeline_unless_in_flight(
    merchant_a, enrollments
):
    # given
    old = message(merchant_a, EXACT_CUTOFF - SECOND)
    at_cutoff = message(merchant_a, EXACT_CUTOFF)
    in_flight = [
        message(merchant_a, at(2025, 1, 1), status)
        for status in (MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING)
    ]
    read_by_running = message(merchant_a, at(2025, 2, 1))  # a waiting enrollment branches on it
    step(enrollments(EnrollmentState.WAITING), at(2025, 2, 1), message=read_by_running)
    finished_step = step(enrollments(EnrollmentState.COMPLETED), STEPS_CUTOFF, message=old)

    # when
    done = log_retain(logs.get("messages"), now=NOW, batch_size=100, budget=timedelta(minutes=1))

    # then
    assert done.deleted == 1
    kept = {at_cutoff.pk, read_by_running.pk, *(m.pk for m in in_flight)}
    assert set(Message.unscoped.values_list("pk", flat=True)) == kept
    assert set(MessageEvent.unscoped.values_list("message_id", flat=True)) == kept
    finished_step.refresh_from_db()
    assert finished_step.message_id is None


def test_step_logs_go_by_whole_months_and_never_while_their_enrollment_is_open(
    merchant_a, enrollments
):
    # given
    for month in (at(2026, 3), at(2026, 4), at(2026, 5)):
        assert partition_create("journeys_journeysteplog", month)
    finished, waiting = enrollments(EnrollmentState.COMPLETED), enrollments(EnrollmentState.WAITING)
    april = step(finished, STEPS_CUTOFF - SECOND)
    may = step(finished, STEPS_CUTOFF)
    march_open = step(waiting, at(2026, 3, 10))
    march_finished = step(finished, at(2026, 3, 11))
    ancient = step(finished, at(2020, 1, 1))  # the default partition
    as_committed()

    # when
    done = log_retain(
        logs.get("journey_step_logs"), now=NOW, batch_size=100, budget=timedelta(minutes=1)
    )

    # then
    assert "journeys_journeysteplog_p202604" in done.partitions_dropped
    assert done.partitions_kept == ["journeys_journeysteplog_p202603"]
    assert done.deleted == 2
    assert set(JourneyStepLog.unscoped.values_list("pk", flat=True)) == {may.pk, march_open.pk}
    assert {april.pk, march_finished.pk, ancient.pk}.isdisjoint(
        JourneyStepLog.unscoped.values_list("pk", flat=True)
    )


def test_a_run_over_every_log_keeps_what_is_in_flight_and_newer(merchant_a, enrollments):
    # given: one expired row and one in flight in each log, and one just inside each cutoff
    old_event, new_event = event(merchant_a, EXACT_CUTOFF - SECOND), event(merchant_a, NOW)
    old_run = run(old_event)
    undispatched = event(merchant_a, at(2024, 1, 1), in_flight=True)
    new_run, held_run = run(new_event), run(undispatched)
    old_message = message(merchant_a, EXACT_CUTOFF - SECOND)
    queued = message(merchant_a, at(2024, 1, 1), MessageStatus.QUEUED)
    running = enrollments(EnrollmentState.ACTIVE)
    held_step, new_step = step(running, at(2024, 1, 1)), step(running, NOW)
    as_committed()

    # when
    done = logs_retain(now=NOW, batch_size=100, budget=timedelta(minutes=1))

    # then
    assert {name: d.deleted for name, d in done.items()} == {
        "events": 1,
        "event_consumer_runs": 0,
        "journey_step_logs": 0,
        "messages": 1,
        "delay_incidents": 0,
    }
    assert set(Event.unscoped.values_list("pk", flat=True)) == {new_event.pk, undispatched.pk}
    assert set(EventConsumerRun.objects.values_list("pk", flat=True)) == {new_run.pk, held_run.pk}
    assert not EventConsumerRun.objects.filter(pk=old_run.pk).exists()  # with its event
    assert set(Message.unscoped.values_list("pk", flat=True)) == {queued.pk}
    assert not Message.unscoped.filter(pk=old_message.pk).exists()
    assert set(JourneyStepLog.unscoped.values_list("pk", flat=True)) == {held_step.pk, new_step.pk}


def test_a_pending_webhook_delivery_is_never_purged(merchant_a):
    # given
    endpoint = WebhookEndpoint.unscoped.create(
        merchant=merchant_a, url="https://hooks.example/in", event_types=["*"], secret="s"
    )

    def delivery(status, created_at):
        made = WebhookDelivery.unscoped.create(
            merchant=merchant_a,
            endpoint=endpoint,
            event_type="order.placed",
            message_id=f"msg_{next(_keys)}",
            body="{}",
            status=status,
            created_at=created_at,
        )
        WebhookAttempt.unscoped.create(
            merchant=merchant_a, delivery=made, number=1, attempted_at=created_at
        )
        return made

    pending = delivery(DeliveryStatus.PENDING, at(2024, 1, 1))
    finished = delivery(DeliveryStatus.SUCCEEDED, NOW - timedelta(days=30) - SECOND)
    recent = delivery(DeliveryStatus.SUCCEEDED, NOW - timedelta(days=30))

    # when
    purged = webhook_deliveries_purge(now=NOW)

    # then
    assert purged == 1
    assert set(WebhookDelivery.unscoped.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert not WebhookAttempt.unscoped.filter(delivery_id=finished.pk).exists()


def test_a_retention_of_zero_days_keeps_everything(merchant_a, settings):
    # given
    settings.EVENTS_RETENTION_DAYS = 0
    ancient = event(merchant_a, at(2001, 1, 1))

    # when
    done = log_retain(logs.get("events"), now=NOW, batch_size=100, budget=timedelta(minutes=1))

    # then
    assert done.deleted == 0
    assert Event.unscoped.filter(pk=ancient.pk).exists()


def test_the_batches_stop_when_the_time_budget_is_spent(merchant_a):
    # given: five expired events, a clock that moves a minute per look
    for _ in range(5):
        event(merchant_a, at(2020, 1, 1))
    ticks = itertools.count(step=60)

    def clock():
        return float(next(ticks))

    # when: a budget of 90 s allows the first batch and the second, not a third
    done = log_retain(
        logs.get("events"), now=NOW, batch_size=2, budget=timedelta(seconds=90), clock=clock
    )

    # then
    assert done.deleted == 4
    assert Event.unscoped.count() == 1


def test_a_month_whose_rows_sit_in_the_default_partition_is_not_made(merchant_a, caplog):
    # given: a run dated in September 2031, before its month's partition exists
    stray = run(event(merchant_a, at(2031, 9, 2)))
    assert "p203109" not in months_of("events_eventconsumerrun")

    # when: a run in July would make September
    created = partitions_ensure("events_eventconsumerrun", now=at(2031, 7, 1), ahead=2)

    # then: July and August made, September left to the default partition with its row
    assert created == ["events_eventconsumerrun_p203107", "events_eventconsumerrun_p203108"]
    assert "p203109" not in months_of("events_eventconsumerrun")
    assert EventConsumerRun.objects.filter(pk=stray.pk).exists()
    assert "events_eventconsumerrun_p203109 not created" in caplog.text


def test_the_run_is_scheduled_hourly_on_the_default_queue_and_its_task_runs(db, settings):
    # given
    entry = settings.CELERY_BEAT_SCHEDULE["logs-retain"]

    # when
    counts = logs_retain_task.apply().get()

    # then
    assert entry["task"] == logs_retain_task.name == "postpurchase.retention.tasks.logs_retain"
    assert entry["schedule"] == timedelta(hours=1)
    assert entry["options"]["queue"] == "default"
    assert counts == {
        "events": 0,
        "event_consumer_runs": 0,
        "journey_step_logs": 0,
        "messages": 0,
        "delay_incidents": 0,
    }
