"""Rate limits per API key, counted in the shared cache (Redis in production), so every web
process sees the same count. Over the limit: 429 with ``Retry-After``.

A fixed window per key: one counter per key and window (``API_RATE_LIMIT``, e.g. ``200/s``),
raised with a single pipelined ``INCR`` + ``EXPIRE`` on Redis. (DRF's own ``SimpleRateThrottle``
reads and rewrites a list of timestamps per request, which cost more than the rest of the
authentication.) A client may burst up to twice the limit across a window's edge."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from postpurchase.tenancy.models import ApiKey

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_clock = time.time  # tests replace it


def parse_rate(rate: str) -> tuple[int, int]:
    """``"200/s"`` → (200, 1): requests allowed, and the window in seconds."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period[:1]]


def _hit(key: str, period: int) -> int:
    """Count one request in ``key`` (which expires after the window); the count so far."""
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(full_key, write=True)
        with client.pipeline() as pipe:
            pipe.incr(full_key)
            pipe.expire(full_key, period + 1)
            count, _ = pipe.execute()
        return int(count)
    cache.add(key, 0, timeout=period + 1)  # the embedded mode's file cache
    return cache.incr(key)


class ApiKeyRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True  # unauthenticated requests are refused before they cost anything
        limit, period = parse_rate(settings.API_RATE_LIMIT)
        now = _clock()
        window = int(now // period)
        # By the key's random prefix: no collision across databases (tests, restores).
        count = _hit(f"throttle:api_key:{api_key.prefix}:{window}", period)
        self._wait = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float:
        return self._wait
