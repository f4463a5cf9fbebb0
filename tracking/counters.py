"""The tracking page's counters: views of each shipment's page and views and clicks of the
products it suggests, per UTC day (``ShipmentPageViews``, ``SuggestionStats``).

A view of the page is counted in Redis (one pipelined round trip: ``HINCRBY`` on one hash),
and ``flush`` (every ``TRACKING_COUNTS_FLUSH_SECONDS``, from the beat) adds what was counted
to the database in a few upserts. Writing each view to PostgreSQL as it happened cost the page
about 0.7 ms of CPU between the two (docs/benchmarks/tracking.md), for a figure the dashboard
reads at most every few seconds. Without Redis (the embedded mode, or ``TRACKING_COUNTS_BUFFERED``
off), and when Redis cannot be reached, each view is written at once instead.

The counts wait in one hash, ``<cache prefix>:tracking-counts:counts``. ``flush`` renames it
(atomic: a view counted meanwhile starts a new hash), writes what it took and deletes it; one
flush runs at a time (a lock in the cache), and a hash a crashed flush left behind
(``…:taking:*``) is written by the next. A crash between the database's commit and the delete
would count that batch twice; Redis lost before a flush loses at most one interval's views.
Counts of a shipment or product deleted meanwhile are dropped (the upserts join the rows they
count).

Clicks on a suggestion are rare and lead off the page: they are written at once.

Before Redis, each web process sums its own views for ``TRACKING_COUNTS_PROCESS_SECONDS`` (1 s)
and a thread of its own sends them in one pipeline (``Batch``): a round trip to Redis per page
cost the page about a tenth of its time in system calls. The views of a process killed outright
(``SIGKILL``) within that second are lost; a process that exits normally sends what it has.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import connection, transaction

from orders.models import Product, Shipment
from tracking.models import ShipmentPageViews, SuggestionStats

logger = logging.getLogger(__name__)

KEY_PREFIX = "tracking-counts"
FLUSH_LOCK_SECONDS = 300  # a flush that takes longer than this has died: the next may start
CHUNK = 500  # rows per upsert statement

# (merchant, shipment, day) → (views, last viewed); (merchant, product, day) → (views, clicks)
Views = dict[tuple[int, int, date], tuple[int, datetime]]
Shown = dict[tuple[int, int, date], tuple[int, int]]


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _key(name: str) -> str:
    """A key of the counts in Redis, under the cache's own prefix (``CACHE_KEY_PREFIX``), so two
    installations sharing a Redis database keep apart."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return f"{prefix}:{KEY_PREFIX}:{name}" if prefix else f"{KEY_PREFIX}:{name}"


def _redis() -> redis.Redis | None:
    url = settings.TRACKING_COUNTS_REDIS_URL
    return _client(url) if url else None


def buffer() -> redis.Redis | None:
    """The Redis the counts wait in, or ``None``: each view is written at once."""
    return _redis() if settings.TRACKING_COUNTS_BUFFERED else None


# Counts as the Redis hash holds them: field → views added ("v:…", "s:…"), and field → the
# latest view's time ("a:…"), each field "<kind>:<merchant>:<row>:<day>".
Added = dict[str, int]
Seen = dict[str, float]


def page_view_count(
    *, merchant_id: int, shipment_id: int | None, product_ids: list[int], now: datetime
) -> None:
    """A view of the page: one more view of its parcel (``shipment_id``) and of each product it
    suggested, today (UTC)."""
    if shipment_id is None and not product_ids:
        return
    day = now.astimezone(UTC).date().isoformat()
    added: Added = {f"s:{merchant_id}:{product_id}:{day}": 1 for product_id in set(product_ids)}
    seen: Seen = {}
    if shipment_id is not None:
        added[f"v:{merchant_id}:{shipment_id}:{day}"] = 1
        seen[f"a:{merchant_id}:{shipment_id}:{day}"] = now.timestamp()
    client = buffer()
    if client is None:
        _write_fields(added, seen)
    elif settings.TRACKING_COUNTS_PROCESS_SECONDS > 0:
        batch.add(added, seen)
    else:
        _send(client, added, seen)


def _send(client: redis.Redis, added: Added, seen: Seen) -> None:
    """Add counts to the hash in Redis (one round trip), or to the database when Redis cannot
    be reached."""
    try:
        pipe = client.pipeline(transaction=False)
        key = _key("counts")
        for field, count in added.items():
            pipe.hincrby(key, field, count)
        for field, at in seen.items():
            pipe.hset(key, field, repr(at))
        pipe.execute()
    except redis.RedisError:
        logger.warning("Redis is unreachable: tracking page views are written at once")
        _write_fields(added, seen)


def _write_fields(added: Added, seen: Seen) -> None:
    write(*_parse({**added, **seen}))


class Batch:
    """The views this process counted and has not sent to Redis yet, summed per field; a daemon
    thread sends them every ``TRACKING_COUNTS_PROCESS_SECONDS`` (``send``), and so does the
    process's exit. A forked child starts empty, with a thread of its own."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.lock = threading.Lock()
        self.added: Counter[str] = Counter()
        self.seen: Seen = {}
        self.pid = 0  # the process whose thread sends (none started yet)
        self.wake = threading.Event()  # set: send now (a test's, or the interval passed)
        self.sent = threading.Event()  # set after each send of the thread

    def add(self, added: Added, seen: Seen) -> None:
        with self.lock:
            self.added.update(added)
            for field, at in seen.items():
                if at > self.seen.get(field, 0.0):
                    self.seen[field] = at
            if self.pid != os.getpid():
                self.pid = os.getpid()
                threading.Thread(target=self._run, name="tracking-counts", daemon=True).start()

    def take(self) -> tuple[Added, Seen]:
        with self.lock:
            added, seen = dict(self.added), self.seen
            self.added, self.seen = Counter(), {}
        return added, seen

    def send(self) -> None:
        """Send what waits to Redis now (the database, when Redis is out of reach)."""
        added, seen = self.take()
        if not added:
            return
        client = _redis()
        if client is None:  # the setting changed since: the database takes them
            _write_fields(added, seen)
        else:
            _send(client, added, seen)

    def _run(self) -> None:
        while True:
            self.wake.wait(settings.TRACKING_COUNTS_PROCESS_SECONDS)
            self.wake.clear()
            try:
                self.send()
            except Exception:  # a database down as well: these are lost, the next are not
                logger.exception("Tracking page views could not be sent")
            finally:
                connection.close()  # this thread's own, if the database took the counts
            self.sent.set()


batch = Batch()
atexit.register(batch.send)
os.register_at_fork(after_in_child=batch._reset)


def suggestions_count(
    *, merchant_id: int, product_ids: list[int], now: datetime, clicked: bool = False
) -> None:
    """One more view (or click, ``clicked``) of each of ``product_ids`` today, written at once."""
    today = now.astimezone(UTC).date()
    counts = (0, 1) if clicked else (1, 0)
    write({}, {(merchant_id, product_id, today): counts for product_id in set(product_ids)})


def flush() -> dict[str, int] | None:
    """Write what Redis has counted to the database; ``None`` when another flush is running.
    Returns how many rows of each kind it added to. It drains Redis also once buffering is
    switched off (``TRACKING_COUNTS_BUFFERED``), so the views counted before are not left
    there."""
    client = _redis()
    if client is None:
        return {"views": 0, "suggestions": 0}
    lock = f"{KEY_PREFIX}:flush-lock"  # in the Django cache: prefixed by it
    if not django_cache.add(lock, 1, FLUSH_LOCK_SECONDS):
        return None
    written = Counter()
    try:
        # no such key (the error): nothing counted since the last flush
        with contextlib.suppress(redis.ResponseError):
            client.rename(_key("counts"), _key(f"taking:{uuid.uuid4().hex}"))
        for key in client.scan_iter(match=_key("taking:*")):
            counts = client.hgetall(key)
            views, shown = _parse({name.decode(): value for name, value in counts.items()})
            write(views, shown)
            client.delete(key)
            written.update(views=len(views), suggestions=len(shown))
    finally:
        django_cache.delete(lock)
    return {"views": written["views"], "suggestions": written["suggestions"]}


def _parse(fields: dict[str, int | float | bytes]) -> tuple[Views, Shown]:
    """Counts by field (as the hash holds them: a value read back from Redis is bytes, which
    ``int`` and ``float`` take as they are)."""
    counted: dict[tuple[int, int, date], int] = {}
    at: dict[tuple[int, int, date], datetime] = {}
    shown: Shown = {}
    for name, value in fields.items():
        kind, merchant, row, day = name.split(":")
        key = (int(merchant), int(row), date.fromisoformat(day))
        if kind == "v":
            counted[key] = int(value)
        elif kind == "a":
            at[key] = datetime.fromtimestamp(float(value), tz=UTC)
        elif kind == "s":
            shown[key] = (int(value), 0)
    fallback = datetime.now(tz=UTC)
    return {key: (count, at.get(key, fallback)) for key, count in counted.items()}, shown


def write(views: Views, shown: Shown) -> None:
    """Add ``views`` (and each parcel's last view) and ``shown`` (suggestions' views and
    clicks) to the database, in one transaction; rows counted for a shipment or product that is
    gone, or not the merchant's, are left out. On PostgreSQL the transaction does not wait for
    its commit to reach the disk (``synchronous_commit off``: a crash may lose the last moment's
    counts, never corrupt them)."""
    if not views and not shown:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        # one order for every writer: two transactions never wait on each other's rows
        view_rows = [(*key, *views[key]) for key in sorted(views)]
        for start in range(0, len(view_rows), CHUNK):
            chunk = view_rows[start : start + CHUNK]
            cursor.execute(_views_sql(len(chunk)), [v for row in chunk for v in row])
        shown_rows = [(*key, *shown[key]) for key in sorted(shown)]
        for start in range(0, len(shown_rows), CHUNK):
            chunk = shown_rows[start : start + CHUNK]
            cursor.execute(_shown_sql(len(chunk)), [v for row in chunk for v in row])


def _views_sql(count: int) -> str:
    table, parcels = ShipmentPageViews._meta.db_table, Shipment._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * count)
    return (
        f"WITH v (merchant_id, shipment_id, day, views, last_viewed_at) AS (VALUES {values}) "  # noqa: S608
        f"INSERT INTO {table} (merchant_id, shipment_id, day, views, last_viewed_at) "
        "SELECT v.merchant_id, v.shipment_id, v.day, v.views, v.last_viewed_at FROM v "
        f"JOIN {parcels} s ON s.id = v.shipment_id AND s.merchant_id = v.merchant_id "
        "WHERE true ORDER BY v.merchant_id, v.shipment_id, v.day "
        "ON CONFLICT (merchant_id, shipment_id, day) DO UPDATE "
        f"SET views = {table}.views + excluded.views, last_viewed_at = CASE "
        f"WHEN excluded.last_viewed_at > {table}.last_viewed_at THEN excluded.last_viewed_at "
        f"ELSE {table}.last_viewed_at END"
    )


def _shown_sql(count: int) -> str:
    table, products = SuggestionStats._meta.db_table, Product._meta.db_table
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * count)
    return (
        f"WITH v (merchant_id, product_id, day, views, clicks) AS (VALUES {values}) "  # noqa: S608
        f"INSERT INTO {table} (merchant_id, product_id, day, views, clicks) "
        "SELECT v.merchant_id, v.product_id, v.day, v.views, v.clicks FROM v "
        f"JOIN {products} p ON p.id = v.product_id AND p.merchant_id = v.merchant_id "
        "WHERE true ORDER BY v.merchant_id, v.product_id, v.day "
        "ON CONFLICT (merchant_id, product_id, day) DO UPDATE "
        f"SET views = {table}.views + excluded.views, clicks = {table}.clicks + excluded.clicks"
    )
