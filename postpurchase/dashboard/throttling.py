"""Brute-force limits on signing in (the dashboard and ``/admin/``) and on password resets.

Fixed windows counted in the shared cache (Redis in production, so every web process sees one
count; the embedded mode uses its file cache). Each attempt raises one counter per key it falls
under (the account typed and the client's address for a sign-in; the address typed and the
client's address for a reset) *before* the password is checked or a mail is sent, so concurrent
attempts cannot slip past the limit between a read and a write. Over any limit, the attempt is
refused without checking the password: after 50 wrong passwords the right one is refused too,
until the window ends. A sign-in that succeeds gives its attempt back, so the limits count
failures; a reset that went out keeps its count (the mails are what is limited).

Counting never depends on whether the account exists: the same typed address is counted the same
way, so a refusal tells nothing about who has an account.

Keys name a window (``int(now // seconds)``) and expire with it. ``clock`` and ``KEY_PREFIX`` are
the tests' seams (a clock they move, a namespace of their own in the shared Redis).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

clock = time.time
KEY_PREFIX = "throttle"

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    """``count`` attempts per window of ``seconds``."""

    count: int
    seconds: int


def rate_parse(text: str, *, setting: str = "rate") -> Rate:
    """``"10/15m"`` → 10 per 900 s; ``"3/h"`` → 3 per 3,600 s (units s, m, h, d)."""
    match = _RATE.match(text or "")
    if not match or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(
            f"{setting}: expected <count>/<window> such as 10/15m or 3/h, got {text!r}"
        )
    count, length, unit = match.groups()
    return Rate(count=int(count), seconds=int(length or 1) * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Attempt:
    """One counted attempt: the counters it raised (with their windows) and, when over a
    limit, how long until the last refusing window ends."""

    counters: tuple[str, ...]
    retry_after: int  # seconds; 0 when allowed

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0

    @property
    def retry_after_minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def _counter_hit(key: str, timeout: int) -> int:
    """Add one to ``key`` (created for ``timeout`` seconds when absent); the count so far."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.add(key, 1, timeout=timeout)
        return 1


def attempt_count(*, keys: list[tuple[str, Rate]], now: float) -> Attempt:
    """Count one attempt under each ``(key, rate)``; throttled when any count passes its rate."""
    counters = []
    retry_after = 0
    for key, rate in keys:
        window = int(now // rate.seconds)
        window_end = (window + 1) * rate.seconds
        counter = f"{KEY_PREFIX}:{key}:{rate.seconds}:{window}"
        counters.append(counter)
        # Kept for the rest of its window and a second more: rounding never drops it early.
        count = _counter_hit(counter, timeout=math.ceil(window_end - now) + 1)
        if count > rate.count:
            retry_after = max(retry_after, math.ceil(window_end - now))
    return Attempt(counters=tuple(counters), retry_after=retry_after)


def attempt_give_back(attempt: Attempt) -> None:
    """Uncount an attempt that turned out well (a sign-in with the right password)."""
    for counter in attempt.counters:
        with contextlib.suppress(ValueError):  # its window is over and gone
            cache.decr(counter)


def client_address(request: HttpRequest) -> str:
    """The client's address for per-address limits. Behind ``TRUSTED_PROXY_COUNT`` proxies it is
    the entry that many places from the right of ``X-Forwarded-For`` (what the outermost proxy
    saw; entries further left are the client's to forge). An IPv6 client is counted by its /64,
    the block one subscriber gets."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _digest(text: str) -> str:
    """Typed addresses are kept in the cache as digests, never as themselves."""
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()[:32]


def sign_in_attempt(*, request: HttpRequest, username: str, now: float) -> Attempt:
    """Count a sign-in attempt for the account typed and for the client's address."""
    return attempt_count(
        keys=[
            (
                f"sign_in:account:{_digest(username)}",
                rate_parse(settings.SIGN_IN_RATE_PER_ACCOUNT, setting="SIGN_IN_RATE_PER_ACCOUNT"),
            ),
            (
                f"sign_in:ip:{client_address(request)}",
                rate_parse(settings.SIGN_IN_RATE_PER_IP, setting="SIGN_IN_RATE_PER_IP"),
            ),
        ],
        now=now,
    )


def password_reset_attempt(*, request: HttpRequest, email: str, now: float) -> Attempt:
    """Count a password-reset request for the address typed and for the client's address."""
    return attempt_count(
        keys=[
            (
                f"password_reset:email:{_digest(email)}",
                rate_parse(
                    settings.PASSWORD_RESET_RATE_PER_EMAIL, setting="PASSWORD_RESET_RATE_PER_EMAIL"
                ),
            ),
            (
                f"password_reset:ip:{client_address(request)}",
                rate_parse(
                    settings.PASSWORD_RESET_RATE_PER_IP, setting="PASSWORD_RESET_RATE_PER_IP"
                ),
            ),
        ],
        now=now,
    )
