"""The tracking page's counters (tracking/counters.py): views wait in Redis and a flush adds them
to the database, exactly once, also when a flush died half-way; without Redis each view is
written at once; a web process sums its views and sends them together, also at its exit."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from orders.models import Shipment
from tests.embedded import run_python
from tests.factories import ProductFactory
from tracking import counters
from tracking.models import ShipmentPageViews, SuggestionStats
from tracking.tasks import counts_flush_task

pytestmark = pytest.mark.django_db

MORNING = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
NOON = datetime(2026, 3, 4, 12, 30, 15, 250000, tzinfo=UTC)
NEXT_DAY = datetime(2026, 3, 5, 0, 0, 1, tzinfo=UTC)


@pytest.fixture
def parcel(merchant_a, shipment_of):
    return shipment_of(merchant_a, status="in_transit", created_at=MORNING)


@pytest.fixture
def sock(merchant_a):
    return ProductFactory(merchant=merchant_a, title="Sock")


def view(merchant, shipment, products=(), now=NOON):
    counters.page_view_count(
        merchant_id=merchant.pk,
        shipment_id=shipment.pk if shipment else None,
        product_ids=[p.pk for p in products],
        now=now,
    )


def views_written():
    return sorted(
        ShipmentPageViews.unscoped.values_list("shipment_id", "day", "views", "last_viewed_at")
    )


def shown_written():
    return sorted(SuggestionStats.unscoped.values_list("product_id", "day", "views", "clicks"))


def test_views_wait_in_redis_until_a_flush(merchant_a, parcel, sock):
    # given: the views of a day and one just after midnight (UTC)
    view(merchant_a, parcel, [sock], now=MORNING)
    view(merchant_a, parcel, [sock], now=NOON)
    view(merchant_a, parcel, [], now=NEXT_DAY)
    assert views_written() == []

    # when
    flushed = counters.flush()

    # then: each day's count, with its last view
    assert flushed == {"views": 2, "suggestions": 1}
    assert views_written() == [
        (parcel.pk, date(2026, 3, 4), 2, NOON),
        (parcel.pk, date(2026, 3, 5), 1, NEXT_DAY),
    ]
    assert shown_written() == [(sock.pk, date(2026, 3, 4), 2, 0)]
    # and nothing is added twice
    assert counters.flush() == {"views": 0, "suggestions": 0}
    assert views_written()[0][2] == 2


def test_a_flush_adds_to_what_is_written(merchant_a, parcel, sock):
    view(merchant_a, parcel, [sock], now=MORNING)
    counters.flush()
    counters.suggestions_count(
        merchant_id=merchant_a.pk, product_ids=[sock.pk], now=MORNING, clicked=True
    )

    view(merchant_a, parcel, [sock], now=NOON)
    counters.flush()

    assert views_written() == [(parcel.pk, date(2026, 3, 4), 2, NOON)]
    assert shown_written() == [(sock.pk, date(2026, 3, 4), 2, 1)]  # the click written at once


def test_an_earlier_view_flushed_later_keeps_the_latest_time(merchant_a, parcel):
    view(merchant_a, parcel, now=NOON)
    counters.flush()

    view(merchant_a, parcel, now=MORNING)
    counters.flush()

    assert views_written() == [(parcel.pk, date(2026, 3, 4), 2, NOON)]


def test_what_a_dead_flush_took_is_written_by_the_next(merchant_a, parcel):
    # given: a flush took the counts (renamed the hash) and died before writing them
    view(merchant_a, parcel)
    client = counters.buffer()
    client.rename(counters._key("counts"), counters._key("taking:dead"))
    view(merchant_a, parcel)  # counted after it, in a new hash

    # when
    flushed = counters.flush()

    # then: both hashes, once each
    assert flushed == {"views": 2, "suggestions": 0}
    assert views_written() == [(parcel.pk, date(2026, 3, 4), 2, NOON)]
    assert list(client.scan_iter(match=counters._key("*"))) == []


def test_the_counts_live_under_the_cache_s_prefix(merchant_a, parcel):
    view(merchant_a, parcel)

    [key] = counters.buffer().scan_iter(match=f"*{counters.KEY_PREFIX}:*")

    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]  # CACHE_KEY_PREFIX, "pp" by default
    assert key.decode() == f"{prefix}:{counters.KEY_PREFIX}:counts"


def test_one_flush_at_a_time(merchant_a, parcel):
    # given: another flush holds the lock
    view(merchant_a, parcel)
    cache.add(f"{counters.KEY_PREFIX}:flush-lock", 1, 60)

    # then: this one leaves the counts to it
    assert counters.flush() is None
    assert views_written() == []

    cache.delete(f"{counters.KEY_PREFIX}:flush-lock")
    assert counters.flush() == {"views": 1, "suggestions": 0}


def test_counts_of_a_row_gone_or_of_another_merchant_are_dropped(
    merchant_a, merchant_b, parcel, shipment_of, sock
):
    # given: a parcel deleted after its view, and counts naming merchant_b with merchant_a's rows
    gone = shipment_of(merchant_a, status="in_transit", created_at=MORNING)
    view(merchant_a, gone)
    Shipment.unscoped.filter(pk=gone.pk).delete()
    view(merchant_b, parcel, [sock])
    view(merchant_a, parcel)

    # when
    counters.flush()

    # then
    assert views_written() == [(parcel.pk, date(2026, 3, 4), 1, NOON)]
    assert shown_written() == []


def test_without_redis_each_view_is_written_at_once(merchant_a, parcel, sock, settings):
    settings.TRACKING_COUNTS_BUFFERED = False

    view(merchant_a, parcel, [sock])
    view(merchant_a, parcel, [sock])

    assert views_written() == [(parcel.pk, date(2026, 3, 4), 2, NOON)]
    assert shown_written() == [(sock.pk, date(2026, 3, 4), 2, 0)]
    assert counters.flush() == {"views": 0, "suggestions": 0}


def test_views_counted_before_buffering_is_switched_off_are_still_flushed(
    merchant_a, parcel, settings
):
    view(merchant_a, parcel)
    settings.TRACKING_COUNTS_BUFFERED = False
    view(merchant_a, parcel)  # written at once

    assert counters.flush() == {"views": 1, "suggestions": 0}
    assert views_written() == [(parcel.pk, date(2026, 3, 4), 2, NOON)]


def test_redis_out_of_reach_writes_the_view_at_once(merchant_a, parcel, settings, caplog):
    settings.TRACKING_COUNTS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    view(merchant_a, parcel)

    assert views_written() == [(parcel.pk, date(2026, 3, 4), 1, NOON)]
    assert "Redis is unreachable" in caplog.text


def test_the_beat_flushes_every_ten_seconds(merchant_a, parcel):
    entry = django_settings.CELERY_BEAT_SCHEDULE["tracking-counts"]
    view(merchant_a, parcel)

    assert (entry["task"], entry["schedule"].total_seconds()) == ("tracking.tasks.counts_flush", 10)
    assert counts_flush_task.apply().get() == {"views": 1, "suggestions": 0}
    assert views_written() == [(parcel.pk, date(2026, 3, 4), 1, NOON)]


# --- a web process's one-second batch ---------------------------------------------------------


@pytest.fixture
def batched(monkeypatch, settings):
    """Views summed in a batch of this test's own, whose thread sends only when woken."""
    settings.TRACKING_COUNTS_PROCESS_SECONDS = 3600
    fresh = counters.Batch()
    monkeypatch.setattr(counters, "batch", fresh)
    return fresh


def counted():
    fields = counters.buffer().hgetall(counters._key("counts"))
    return {name.decode(): value.decode() for name, value in fields.items()}


def test_a_process_sums_its_views_and_its_thread_sends_them_in_one_go(
    merchant_a, parcel, sock, batched
):
    # given: three views in this process, one of them earlier
    view(merchant_a, parcel, [sock], now=NOON)
    view(merchant_a, parcel, [sock], now=MORNING)
    view(merchant_a, parcel, now=NOON)
    waiting = counted()

    # when: the interval passes (its thread is woken)
    batched.wake.set()
    assert batched.sent.wait(10)

    # then: nothing reached Redis before; then the sums, with the latest view's time
    a, s = f"{merchant_a.pk}:{parcel.pk}:2026-03-04", f"{merchant_a.pk}:{sock.pk}:2026-03-04"
    assert waiting == {}
    assert counted() == {f"v:{a}": "3", f"a:{a}": repr(NOON.timestamp()), f"s:{s}": "2"}
    assert counters.flush() == {"views": 1, "suggestions": 1}
    assert views_written() == [(parcel.pk, date(2026, 3, 4), 3, NOON)]
    assert shown_written() == [(sock.pk, date(2026, 3, 4), 2, 0)]
    assert batched.take() == ({}, {})


def test_a_batch_redis_cannot_take_goes_to_the_database(merchant_a, parcel, batched, settings):
    # given
    view(merchant_a, parcel)
    view(merchant_a, parcel, now=MORNING)
    settings.TRACKING_COUNTS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    # when
    batched.send()

    # then
    assert views_written() == [(parcel.pk, date(2026, 3, 4), 2, NOON)]


def test_a_process_that_exits_sends_what_it_summed(merchant_a, parcel):
    # given: a process that counts a view and exits before its interval ends
    code = (
        "import django; django.setup()\n"
        "from datetime import UTC, datetime\n"
        "from tracking import counters\n"
        f"counters.KEY_PREFIX = {counters.KEY_PREFIX!r}\n"
        "counters.page_view_count(merchant_id=%d, shipment_id=%d, product_ids=[],"
        " now=datetime(2026, 3, 4, 12, tzinfo=UTC))\n"
        "assert counters.batch.added\n" % (merchant_a.pk, parcel.pk)
    )
    env = {**os.environ, "TRACKING_COUNTS_PROCESS_SECONDS": "3600"}

    # when
    done = run_python(code, env)

    # then: at its exit the view went to Redis
    assert done.returncode == 0, done.stderr[-2000:]
    assert counted()[f"v:{merchant_a.pk}:{parcel.pk}:2026-03-04"] == "1"
