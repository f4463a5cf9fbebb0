"""Lanes (postpurchase/lanes.py): a merchant's import goes to the bulk lane of the events queue,
an order posted alone to the events lane, and a worker takes from both in turn, so the order is
handed over after at most one of the import's tasks, not after its whole backlog. Shown with a
real Celery worker on the real Redis broker."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import transaction

from postpurchase.events.models import Event
from postpurchase.events.services import EventSpec, event_record_many
from postpurchase.lanes import BULK_MIN, lane
from tests import worker_process
from tests.worker_process import celery_worker, worker_env

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 120  # seconds; reached only when something is broken
IMPORT_CALLS = 30


def test_a_batch_of_bulk_min_or_more_goes_to_the_bulk_lane():
    assert [lane("events", n) for n in (1, BULK_MIN - 1, BULK_MIN, 500)] == [
        "events",
        "events",
        "events_bulk",
        "events_bulk",
    ]
    assert lane("messages", 1) == "messages"
    assert lane("messages", 100) == "messages_bulk"
    with pytest.raises(ValueError, match="'journeys' has no bulk lane"):
        lane("journeys", 100)


def start_worker(tmp_path: Path):
    # two prefork processes taking one task at a time each, as production runs them
    env, log = worker_env(tmp_path), tmp_path / "worker.log"
    return celery_worker("events,events_bulk", env, log, "-c", "2", "--prefetch-multiplier=1")


def wait_for(check, what: str) -> None:
    worker_process.wait_for(check, what, DEADLINE)


@pytest.mark.django_db(transaction=True)
def test_an_order_posted_during_another_merchant_s_import_skips_the_import_s_backlog(
    tmp_path, merchant_a, merchant_b
):
    # given: both lanes empty (a test before may have left tasks for events long gone), then
    # merchant A's import, thirty calls of 25 events queued, then B's order posted alone
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("events", "events_bulk")
    for call in range(IMPORT_CALLS):
        with transaction.atomic():  # each call commits, and its dispatch task is enqueued
            event_record_many(
                merchant=merchant_a,
                events=[EventSpec(type="a.b", payload={"call": call, "n": n}) for n in range(25)],
            )
    with transaction.atomic():
        [order] = event_record_many(
            merchant=merchant_b, events=[EventSpec(type="a.b", payload={"order": 1})]
        )

    # when: one worker of two processes (prefork, as production runs it) on the events queue and its
    # bulk lane works the backlog
    worker = start_worker(tmp_path)
    try:
        wait_for(
            lambda: not Event.unscoped.filter(dispatched_at__isnull=True).exists(),
            "every event dispatched",
        )
    finally:
        worker.kill()
        worker.wait(timeout=DEADLINE)

    # then: each call of the import was handed over in one pass of its own task, and B's order
    # after at most one of them, not thirty (two passes in two processes may start in the same
    # microsecond, so the calls are told apart by their payloads, not by their times)
    handed_at = Event.unscoped.get(pk=order).dispatched_at
    calls = defaultdict(set)
    for payload, at in Event.unscoped.filter(merchant=merchant_a).values_list(
        "payload", "dispatched_at"
    ):
        calls[payload["call"]].add(at)
    assert sorted(calls) == list(range(IMPORT_CALLS))
    assert all(len(times) == 1 for times in calls.values()), calls
    assert len([call for call, (at,) in calls.items() if at < handed_at]) <= 1
