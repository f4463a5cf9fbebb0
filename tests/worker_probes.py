"""Tasks for the worker processes that tests start themselves (``celery worker --include
tests.worker_probes``). They report through the suite's Redis, whatever the broker."""

from __future__ import annotations

import redis
from celery import shared_task
from django.conf import settings

HOLD_SECONDS = 60  # at most, should a test fail before it releases the tasks


@shared_task(name="tests.worker_probes.hold")
def hold(*, run: str, n: int) -> None:
    """Note that task ``n`` of ``run`` started, wait until the test releases the run (a token in
    ``<run>:release``, put back for the next task), then note that it finished."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.rpush(f"{run}:started", n)
    release = f"{run}:release"
    client.blmove(release, release, HOLD_SECONDS, "RIGHT", "LEFT")
    client.rpush(f"{run}:finished", n)
