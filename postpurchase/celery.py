"""The Celery application, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections
from kombu import Queue

from postpurchase.lanes import BULK_QUEUES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "postpurchase.settings")

app = Celery("postpurchase")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Queues: ``events`` carries the event log's dispatch and sweep (the engine's spine),
# ``journeys`` the scheduler, ``messages`` the hand-off to email and SMS. ``integrations`` carries
# what waits on merchants' own servers: outbound webhooks (a slow receiver holds a process up to
# 25 s) and inbound store and carrier webhooks. It has its own workers (docker-compose.yml), so
# however slow those servers are, the engine's queues keep moving. Each worker process takes one
# message at a time and acknowledges it only when the task has finished, so a killed worker
# loses nothing.
ENGINE_QUEUES = ("events", "journeys", "messages")
INTEGRATIONS_QUEUE = "integrations"
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue="default",
    task_queues=[
        Queue("default"),
        *(Queue(name) for name in ENGINE_QUEUES),
        # the bulk lanes of events and messages (postpurchase/lanes.py): consumed with them
        *(Queue(name) for name in BULK_QUEUES),
        Queue(INTEGRATIONS_QUEUE),
    ],
    task_routes={
        "postpurchase.events.tasks.*": {"queue": "events"},
        "journeys.tasks.*": {"queue": "journeys"},
        "notifications.tasks.*": {"queue": "messages"},
        "webhooks.tasks.*": {"queue": INTEGRATIONS_QUEUE},
        "connectors.tasks.*": {"queue": INTEGRATIONS_QUEUE},
    },
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=300,
    task_soft_time_limit=240,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    timezone="UTC",
    enable_utc=True,
    worker_hijack_root_logger=False,
)
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
