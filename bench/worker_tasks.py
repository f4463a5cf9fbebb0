"""The task bench/worker.py's "noop" kind drains (``celery worker --include bench.worker_tasks``):
nothing but the note of when it ran, so what is left is Celery's and the broker's own cost."""

from __future__ import annotations

import time

import redis
from celery import shared_task
from django.conf import settings


@shared_task(name="bench.worker_tasks.noop")
def noop(*, run: str) -> None:
    redis.Redis.from_url(settings.REDIS_URL).rpush(f"bench:{run}", time.time())
