"""The Celery application, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections
from kombu import Queue

from postpurchase.lanes import BULK_QUEUES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

# Queues: ``events`` carries the event log's dispatch and sweep (the engine's spine),
# ``journeys`` the scheduler, ``messages`` the hand-off to email and SMS. ``integrations`` carries
# what waits on merchants' own servers: outbound webhooks (a slow receiver holds a process up to
# 25 s) and inbound store and carrier webhooks. ``messages`` and ``integrations`` have workers of
# their own (scripts/run, docker-compose.yml), so an import's dispatch tasks never hold up a
# confirmation, and however slow merchants' servers are, the engine's queues keep moving.
ENGINE_QUEUES = ("events", "journeys", "messages")
INTEGRATIONS_QUEUE = "integrations"
# Each worker process reserves one message at a time and acknowledges it only when the task has
# finished, so a killed worker loses nothing: what it held unacknowledged goes back to the queue
# (RabbitMQ: when its connection closes; Redis: after ``visibility_timeout``, settings). Reserving
# more measured no faster on small tasks (bench/worker.py, docs/scaling.md "Workers") and
# would park messages behind a busy process while another sits idle.
CONFIG = {
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    "task_default_queue": "default",
    # Durable queues (kombu's default) of persistent messages (Celery's), each bound to the
    # ``default`` direct exchange by its own name. Tasks are published to the queue itself (AMQP's
    # nameless exchange); without the routing key Celery would bind every queue by "default", so
    # a message sent to that exchange with that key would land in all of them. The bulk lanes of
    # events and messages (postpurchase/lanes.py) are consumed with them.
    "task_queues": [
        Queue(name, routing_key=name)
        for name in ("default", *ENGINE_QUEUES, *BULK_QUEUES, INTEGRATIONS_QUEUE)
    ],
    "task_routes": {
        "postpurchase.events.tasks.*": {"queue": "events"},
        "journeys.tasks.*": {"queue": "journeys"},
        "notifications.tasks.*": {"queue": "messages"},
        "webhooks.tasks.*": {"queue": INTEGRATIONS_QUEUE},
        "connectors.tasks.*": {"queue": INTEGRATIONS_QUEUE},
    },
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "task_time_limit": 300,
    "task_soft_time_limit": 240,
    "task_ignore_result": True,
    "broker_connection_retry_on_startup": True,
    "timezone": "UTC",
    "enable_utc": True,
    "worker_hijack_root_logger": False,
}


def configure(celery_app: Celery) -> Celery:
    """Give ``celery_app`` this project's configuration: Django's ``CELERY_*`` settings, then the
    queues, routes and delivery guarantees above. The test of the worker on RabbitMQ configures
    a second app this way, with only the broker changed."""
    celery_app.config_from_object("django.conf:settings", namespace="CELERY")
    celery_app.conf.update(CONFIG)
    return celery_app


app = configure(Celery("postpurchase"))
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def database_connections_settle(*, task, **kwargs) -> None:
    """Before and after each task, as Django does around each request: close the database
    connection once it is older than ``DB_CONN_MAX_AGE`` (at once with the default 0) or
    unusable, else keep it for the next task. Not for a task run eagerly: it runs inside its
    caller's transaction."""
    if not getattr(task.request, "is_eager", False):
        close_old_connections()
