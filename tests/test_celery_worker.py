"""Real Celery workers on real brokers: Redis, the suite's broker, and RabbitMQ (``amqp://``,
the other broker production may use; ``TEST_RABBITMQ_URL``, by default the local server's
default virtual host).

- A worker in a thread (celery.contrib.testing) sees events through and keeps its database
  connection across tasks, on either broker. For RabbitMQ the app is configured a second time
  (``postpurchase.celery.configure``) with only the broker changed, and made current for the
  test, so what the code enqueues goes to RabbitMQ too.
- A worker process killed with SIGKILL loses none of the messages it had taken, whether running
  or reserved and not started (late acknowledgement): RabbitMQ puts them back as soon as the
  connection closes; Redis keeps them aside (kombu's ``unacked``) until ``visibility_timeout``,
  and then a worker puts them back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis
from celery import Celery, shared_task
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection, connections, transaction

from orders.models import Customer
from postpurchase.celery import app, configure
from postpurchase.events.models import EventConsumerRun
from postpurchase.events.registry import registry
from postpurchase.events.services import event_record
from postpurchase.events.tasks import event_dispatch_task
from tests import worker_process as worker_processes
from tests.factories import CustomerFactory, MerchantFactory, event_payload
from tests.worker_process import celery_worker, worker_env

ROOT = Path(__file__).resolve().parents[1]
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
DEADLINE = 60  # seconds; reached only when something is broken


def rabbitmq_app() -> Celery:
    other = configure(Celery("postpurchase", set_as_current=False))
    # Celery reads the broker from CELERY_BROKER_URL (the suite's Redis) before broker_url; the
    # read and write URLs come first.
    other.conf.broker_read_url = other.conf.broker_write_url = RABBITMQ_URL
    other.conf.broker_transport_options = {}
    # Without AMQP heartbeats the worker's event loop wakes every second, so a worker in a
    # thread stops at once; with them it sleeps up to 10 s between its timers.
    other.conf.broker_heartbeat = 0
    return other


@pytest.fixture
def rabbitmq():
    """The project's configuration on RabbitMQ; the project's app is current again after."""
    other = rabbitmq_app()
    try:
        yield other
    finally:
        app.set_current()
        app.set_default()
        other.close()


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_app(request):
    """The project's Celery app on the suite's Redis, or the same configuration on RabbitMQ."""
    return app if request.param == "redis" else request.getfixturevalue("rabbitmq")


@pytest.fixture
def worker(transactional_db, broker_app):
    broker_app.control.purge()
    with start_worker(broker_app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
        yield w
    drop_other_connections()


def drop_other_connections() -> None:
    """Close the connection a worker thread kept (DB_CONN_MAX_AGE): it outlives its thread, and
    would keep the test database from being dropped at the end."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@shared_task(name="tests.database_backend")
def database_backend() -> int:
    """The PostgreSQL backend (process id) this task's queries ran on."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def tag_customer(event):
    customer = Customer.objects.get(pk=event.customer_id)
    customer.tags = [*customer.tags, f"seen-{event.type}"]
    customer.save(update_fields=["tags"])


def test_a_worker_dispatches_a_recorded_event_to_its_consumer(worker):
    # given
    merchant = MerchantFactory(slug="worker-shop")
    customer = CustomerFactory(merchant=merchant, tags=[])

    with registry.temporarily("order.placed", "tests.tag_customer", tag_customer):
        # when: the event is committed (its dispatch is enqueued on commit) and we follow one
        # dispatch task through the broker to its result
        with transaction.atomic():
            event, _ = event_record(
                merchant=merchant,
                type="order.placed",
                customer=customer,
                payload=event_payload("order.placed", merchant=merchant, customer=customer),
            )
        outcome = event_dispatch_task.apply_async(
            kwargs={"event_id": event.pk, "merchant_id": merchant.pk}, ignore_result=False
        ).get(timeout=30)

    # then: the consumer ran exactly once, whichever of the two tasks got there first
    assert outcome["tests.tag_customer"] == "done"
    assert Customer.unscoped.get(pk=customer.pk).tags == ["seen-order.placed"]
    run = EventConsumerRun.objects.get(event=event, consumer="tests.tag_customer")
    assert (run.consumer, run.status, run.attempts) == ("tests.tag_customer", "done", 1)


def test_the_queues_are_durable_and_the_messages_persistent():
    # what RabbitMQ needs to keep queued tasks over a restart of the broker: durable queues,
    # each bound by its own name to one durable direct exchange, and persistent messages
    queues = app.amqp.queues.values()
    assert sorted(
        (q.name, q.durable, q.routing_key, q.exchange.name, q.exchange.type, q.exchange.durable)
        for q in queues
    ) == [
        ("default", True, "default", "default", "direct", True),
        ("events", True, "events", "default", "direct", True),
        ("events_bulk", True, "events_bulk", "default", "direct", True),
        ("integrations", True, "integrations", "default", "direct", True),
        ("journeys", True, "journeys", "default", "direct", True),
        ("messages", True, "messages", "default", "direct", True),
        ("messages_bulk", True, "messages_bulk", "default", "direct", True),
    ]
    assert app.conf.task_default_delivery_mode == 2  # AMQP: persistent


def test_a_worker_on_rabbitmq_declares_the_app_queues_durable(transactional_db, rabbitmq):
    # given: a worker on RabbitMQ, consuming (a task has been through it)
    with (
        start_worker(rabbitmq, pool="solo", perform_ping_check=False, shutdown_timeout=10),
        rabbitmq.connection_for_write() as conn,
    ):
        database_backend.apply_async(ignore_result=False).get(timeout=30)
        # when: each queue is declared again, as the app declares it
        channel = conn.default_channel
        declared = []
        for queue in rabbitmq.amqp.queues.values():
            queue(channel).declare()
            declared.append(channel.queue_declare(queue.name, passive=True))
    drop_other_connections()

    # then: RabbitMQ accepted the same declaration (it refuses one that differs from the
    # queue's, e.g. not durable), and each queue has the worker as its consumer
    assert [(ok.queue, ok.consumer_count) for ok in declared] == [
        ("default", 1),
        ("events", 1),
        ("journeys", 1),
        ("messages", 1),
        ("events_bulk", 1),
        ("messages_bulk", 1),
        ("integrations", 1),
    ]


def backends_of_three_tasks() -> list[int]:
    return [database_backend.apply_async(ignore_result=False).get(timeout=30) for _ in range(3)]


def test_a_worker_keeps_its_database_connection_across_tasks_for_db_conn_max_age(
    worker, monkeypatch
):
    # given: connections kept 60 s (DB_CONN_MAX_AGE=60)
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    # when
    backends = backends_of_three_tasks()
    # then: one connection served the three tasks
    assert len(set(backends)) == 1


def test_without_db_conn_max_age_each_task_has_a_connection_of_its_own(worker, monkeypatch):
    # given: the default, 0
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    # when
    backends = backends_of_three_tasks()
    # then
    assert len(set(backends)) == 3


def test_a_kept_connection_the_database_dropped_is_replaced_before_the_next_task(
    worker, monkeypatch
):
    # given: a kept connection, which the database then terminates
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    [before] = [database_backend.apply_async(ignore_result=False).get(timeout=30)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [before])
    # when
    after = backends_of_three_tasks()
    # then: the next task ran on a new connection, kept for the ones after it
    assert before not in after
    assert len(set(after)) == 1


# --- A worker process killed with SIGKILL -------------------------------------------------------


def worker_process(
    broker_url: str, queue: str, tmp_path: Path, *extra: str, env: dict | None = None
) -> subprocess.Popen:
    """``celery worker`` in a session of its own (killed as a whole), on ``queue`` alone, with
    the probe tasks; one prefork process, as production runs them."""
    environment = worker_env(tmp_path, CELERY_BROKER_URL=broker_url, **(env or {}))
    options = ("--include=tests.worker_probes", "--concurrency=1", *extra)
    return celery_worker(queue, environment, tmp_path / "worker.log", *options, name="%h")


def wait_for(check, what: str) -> None:
    """Wait on real processes (not on a clock): poll until ``check()`` or the deadline."""
    worker_processes.wait_for(check, what, DEADLINE)


def ready_count(broker_app: Celery, queue: str) -> int:
    """Messages waiting in ``queue``, not delivered to any worker."""
    with broker_app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue, passive=True).message_count


def redis_unacked(client: redis.Redis, queue: str) -> list[float]:
    """When each message of ``queue`` that kombu's Redis transport holds as delivered and not
    acknowledged was delivered (Redis time, seconds)."""
    tags = [
        tag
        for tag, entry in client.hgetall("unacked").items()
        if json.loads(entry)[2] == queue  # [message, exchange, routing key]
    ]
    return [client.zscore("unacked_index", tag) for tag in tags]


def redis_now(client: redis.Redis) -> float:
    seconds, microseconds = client.time()
    return seconds + microseconds / 1_000_000


def test_a_killed_worker_loses_none_of_the_messages_it_had_taken(broker_app, tmp_path):
    # given: four tasks, and a worker of one process that reserves three messages (prefetch 3):
    # one running, held until released, and two waiting in the worker, none acknowledged
    is_redis = broker_app is app
    broker_url = settings.CELERY_BROKER_URL if is_redis else RABBITMQ_URL
    run = f"held-{uuid.uuid4().hex[:12]}"  # the queue too: this test's alone on a shared broker
    probes = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    for n in range(4):
        broker_app.send_task("tests.worker_probes.hold", kwargs={"run": run, "n": n}, queue=run)
    first = worker_process(broker_url, run, tmp_path, "--prefetch-multiplier=3")
    second = None
    try:
        wait_for(lambda: probes.lrange(f"{run}:started", 0, -1) == ["0"], "the first task")
        wait_for(lambda: ready_count(broker_app, run) == 1, "three messages taken")

        # when: the worker dies at once, with no chance to hand anything back
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=DEADLINE)

        # then: nothing was lost. RabbitMQ has the three back in the queue at once; Redis
        # holds them as delivered until their visibility timeout, then a worker restores them
        if is_redis:
            assert ready_count(broker_app, run) == 1
            broker = redis.Redis.from_url(broker_url, decode_responses=True)
            delivered = redis_unacked(broker, run)
            assert len(delivered) == 3
            # the next worker restores what was delivered over a second ago
            wait_for(lambda: redis_now(broker) - max(delivered) > 1, "a second since then")
            visibility = {"CELERY_VISIBILITY_TIMEOUT": "1"}
        else:
            wait_for(lambda: ready_count(broker_app, run) == 4, "the three back in the queue")
            visibility = {}
        probes.rpush(f"{run}:release", "go")
        second = worker_process(broker_url, run, tmp_path, env=visibility)
        wait_for(lambda: probes.llen(f"{run}:finished") == 4, "every task finished")
        started = Counter(probes.lrange(f"{run}:started", 0, -1))
        finished = sorted(probes.lrange(f"{run}:finished", 0, -1))
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=DEADLINE)
        probes.delete(f"{run}:started", f"{run}:finished", f"{run}:release")
        with broker_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(run)
            conn.default_channel.exchange_delete(run)  # Celery made one for the queue
        if is_redis:  # kombu keeps the exchange's bindings in keys of its own
            redis.Redis.from_url(broker_url).delete(
                f"_kombu.binding.{run}", f"_kombu.binding_permanent.{run}"
            )

    # then: each task ran to the end once; the one killed mid-way started twice
    assert finished == ["0", "1", "2", "3"], (tmp_path / "worker.log").read_text()[-3000:]
    assert started == {"0": 2, "1": 1, "2": 1, "3": 1}
