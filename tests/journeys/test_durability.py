"""Durability with real Celery workers on the real Redis broker: 1,000 enrollments due, the
journeys worker killed with SIGKILL in the middle of its work and Redis flushed, then restarted.
Every due message is written exactly once and its provider called exactly once.

Two worker processes, as production can run them: one for the ``journeys`` queue (the one that
is killed) and one for ``messages`` (the hand-off to a local stand-in for Postmark's API,
which counts its calls). A message handed over when its worker dies mid-send can go twice
(email and SMS APIs take no idempotency key); that is the messages worker, not killed here.
"""

from __future__ import annotations

import json
import signal
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from journeys.models import Enrollment, EnrollmentState
from journeys.services import journey_publish, journey_save
from journeys.tasks import journeys_tick_task
from notifications import delivery
from notifications.models import ChannelSettings, Message
from postpurchase.events.models import Event, EventConsumerRun
from postpurchase.events.services import EventSpec, event_record_many, event_sweep
from tests import worker_process
from tests.factories import CustomerFactory, MerchantFactory, event_payload
from tests.journeys.engine_helpers import hello
from tests.notifications.test_delivery import FakeEsp
from tests.worker_process import celery_worker, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

DUE = 1000
DEADLINE = 120  # seconds; reached only when something is broken


def start_worker(queue: str, env: dict[str, str], log: Path):
    return celery_worker(queue, env, log, "-P", "solo", name="durability")


def wait_for(check, what: str) -> None:
    worker_process.wait_for(check, what, DEADLINE)


def test_a_killed_journeys_worker_and_a_flushed_broker_lose_and_double_nothing(tmp_path):
    # given: 1,000 enrollments whose delay is over, and a merchant sending through "Postmark"
    esp = FakeEsp()
    merchant = MerchantFactory(timezone="UTC", sender_email="hello@demo.example")
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "pm", "api_url": esp.url}),
    )
    hello(merchant)
    journey = journey_save(
        merchant=merchant,
        key="j",
        name="J",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "hello"}],
        },
    )
    version = journey_publish(journey=journey)
    past = timezone.now() - timedelta(minutes=1)
    customers = [CustomerFactory(merchant=merchant) for _ in range(DUE)]
    Enrollment.unscoped.bulk_create(
        Enrollment(
            merchant=merchant,
            journey=journey,
            version=version,
            customer=customer,
            key="customer",
            current_step="s",
            next_run_at=past,
            entered_at=past,
        )
        for customer in customers
    )
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    env = worker_env(tmp_path, JOURNEYS_TICK_BATCH="100", WEBHOOKS_ALLOW_LOOPBACK="true")
    log = tmp_path / "workers.log"
    messages_worker = start_worker("messages,messages_bulk", env, log)
    journeys_worker = start_worker("journeys", env, log)
    try:
        # when: the tick runs; once its first batch has committed, the journeys worker is killed
        # (mid-way through the next) and the broker forgets everything
        journeys_tick_task.delay()
        wait_for(lambda: Message.unscoped.filter(merchant=merchant).exists(), "a first batch")
        journeys_worker.send_signal(signal.SIGKILL)
        journeys_worker.wait(timeout=DEADLINE)
        broker.flushdb()
        written_before_restart = Message.unscoped.filter(merchant=merchant).count()

        # and it is restarted: the next tick finds what is still due; the sweep re-finds
        # hand-offs whose task the flush lost (their lease over: the sweep's clock moved on)
        journeys_worker = start_worker("journeys", env, log)
        journeys_tick_task.delay()
        wait_for(
            lambda: (
                not Enrollment.unscoped.filter(
                    merchant=merchant, state=EnrollmentState.ACTIVE
                ).exists()
            ),
            "every enrollment advanced",
        )
        delivery.messages_due_sweep(now=timezone.now() + delivery.LEASE + timedelta(seconds=1))
        wait_for(
            lambda: Message.unscoped.filter(merchant=merchant, status="sent").count() == DUE,
            "every message sent",
        )
    finally:
        for worker in (journeys_worker, messages_worker):
            worker.kill()
            worker.wait(timeout=DEADLINE)
        esp.server.shutdown()
        broker.flushdb()

    # then: the kill came before the end; still one message per enrollment, one call each
    assert 0 < written_before_restart < DUE, log.read_text()[-3000:]
    keys = list(
        Message.unscoped.filter(merchant=merchant).values_list("idempotency_key", flat=True)
    )
    assert len(keys) == len(set(keys)) == DUE
    assert len(esp.requests) == DUE
    assert len({request["Metadata"]["message_id"] for request in esp.requests}) == DUE
    assert Enrollment.unscoped.filter(merchant=merchant, state="completed").count() == DUE


IMPORTED = 400
CALL = 40  # orders a bulk call: ten dispatch tasks of 40 events, in the bulk lane


def test_a_killed_events_worker_and_a_flushed_broker_enter_and_send_each_order_once(tmp_path):
    # given: a merchant sending through "Postmark" with a journey that confirms each order, and
    # an import of 400 orders recorded in ten calls, their dispatch tasks queued
    esp = FakeEsp()
    merchant = MerchantFactory(timezone="UTC", sender_email="hello@demo.example")
    ChannelSettings.unscoped.create(
        merchant=merchant,
        email_provider="postmark",
        email_credentials=json.dumps({"server_token": "pm", "api_url": esp.url}),
    )
    hello(merchant)
    journey = journey_save(
        merchant=merchant,
        key="j",
        name="J",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "hello"}],
        },
    )
    journey_publish(journey=journey)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    customers = [CustomerFactory(merchant=merchant) for _ in range(IMPORTED)]
    specs = [
        EventSpec(
            type="order.placed",
            customer_id=customer.pk,
            payload=event_payload("order.placed", merchant=merchant, customer=customer),
        )
        for customer in customers
    ]
    for start in range(0, IMPORTED, CALL):
        with transaction.atomic():
            event_record_many(merchant=merchant, events=specs[start : start + CALL])
    env = worker_env(tmp_path, JOURNEYS_TICK_BATCH="100", WEBHOOKS_ALLOW_LOOPBACK="true")
    log = tmp_path / "workers.log"
    messages_worker = start_worker("messages,messages_bulk", env, log)
    events_worker = start_worker("events,events_bulk", env, log)
    try:
        # when: once a first batch has committed, the events worker is killed (mid-way through
        # the next) and the broker forgets everything
        wait_for(lambda: Message.unscoped.filter(merchant=merchant).exists(), "a first batch")
        events_worker.send_signal(signal.SIGKILL)
        events_worker.wait(timeout=DEADLINE)
        broker.flushdb()
        entered_before_restart = Enrollment.unscoped.filter(merchant=merchant).count()

        # and it is restarted: the sweep finds the events whose task was lost (their lease over)
        events_worker = start_worker("events,events_bulk", env, log)
        event_sweep(
            now=timezone.now() + timedelta(seconds=settings.EVENT_DISPATCH_LEASE_SECONDS + 1)
        )
        wait_for(
            lambda: (
                not Event.unscoped.filter(merchant=merchant, dispatched_at__isnull=True).exists()
            ),
            "every event dispatched",
        )
        delivery.messages_due_sweep(now=timezone.now() + delivery.LEASE + timedelta(seconds=1))
        wait_for(
            lambda: Message.unscoped.filter(merchant=merchant, status="sent").count() == IMPORTED,
            "every message sent",
        )
    finally:
        for worker in (events_worker, messages_worker):
            worker.kill()
            worker.wait(timeout=DEADLINE)
        esp.server.shutdown()
        broker.flushdb()

    # then: the kill came before the end; one enrollment and one message per order, one call each
    assert 0 < entered_before_restart < IMPORTED, log.read_text()[-3000:]
    entered = Enrollment.unscoped.filter(merchant=merchant).values_list("customer_id", flat=True)
    assert sorted(entered) == sorted(c.pk for c in customers)
    keys = list(
        Message.unscoped.filter(merchant=merchant).values_list("idempotency_key", flat=True)
    )
    assert len(keys) == len(set(keys)) == IMPORTED
    assert len(esp.requests) == IMPORTED
    assert len({request["Metadata"]["message_id"] for request in esp.requests}) == IMPORTED
    assert set(
        EventConsumerRun.objects.filter(event__merchant=merchant).values_list("status", "attempts")
    ) == {("done", 1)}
