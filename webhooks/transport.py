"""One HTTP POST of a webhook, through the vetted adapter, and what came of it.

``http_post`` never raises: whatever the receiver answers (or fails to), and even the task's
soft time limit, ends as an ``HttpOutcome`` the sender records. An exception escaping here would
leave the attempt unrecorded and the delivery to be sent again, and again."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests
import urllib3
from celery.exceptions import SoftTimeLimitExceeded

from webhooks.deadline import RequestDeadline
from webhooks.destinations import DestinationRefused, VettedAdapter
from webhooks.models import EXCERPT_BYTES

logger = logging.getLogger(__name__)

# A receiver should answer fast and do its work later. Each wait is bounded (connecting, then
# every read), and so is the whole request: resolving, connecting, headers and excerpt.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
DEADLINE = 25
USER_AGENT = "PostPurchase-Webhooks/1.0"
RETRY_AFTER_MAX = 86400  # a day


@dataclass(frozen=True)
class HttpOutcome:
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str
    retry_after: int | None = None  # seconds, when the receiver asked for a pause

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL: a receiver's bytes must not make the attempt unsavable."""
    return value.replace("\x00", "")


def timed_out_message() -> str:
    return (
        f"Timed out ({CONNECT_TIMEOUT} s to connect, {READ_TIMEOUT} s between reads, "
        f"{DEADLINE:g} s in all)."
    )


def _describe(exc: Exception) -> str:
    """A short, merchant-readable reason; the SSRF refusal is spelled out as such."""
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)
    if isinstance(reason, DestinationRefused):
        return reason.refusal
    if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
        return timed_out_message()
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {reason or exc}"[:500]
    if isinstance(exc, requests.ConnectionError):
        return f"Could not connect: {reason or exc}"[:500]
    if isinstance(exc, requests.RequestException | urllib3.exceptions.HTTPError):
        return f"The answer could not be read: {type(exc).__name__}: {exc}"[:500]
    logger.warning("Unexpected error sending a webhook", exc_info=exc)
    return f"Could not send: {type(exc).__name__}."


def _shrink_read_timeout(response: requests.Response, seconds: float) -> None:
    """Let the next read wait no longer than ``seconds``. The connection is gone when the
    receiver closes after this answer; the deadline's timer still bounds that read."""
    sock = getattr(response.raw.connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _excerpt(response: requests.Response, deadline: RequestDeadline) -> str:
    """The first ``EXCERPT_BYTES`` of the body, read no further (a huge answer costs nothing)
    and no longer than the deadline allows (a trickling one neither)."""
    collected = b""
    while len(collected) < EXCERPT_BYTES:
        if deadline.passed:
            raise TimeoutError("the request's deadline passed while reading the answer")
        _shrink_read_timeout(response, min(READ_TIMEOUT, deadline.remaining()))
        chunk = response.raw.read1(EXCERPT_BYTES - len(collected), decode_content=False)
        if not chunk:
            break
        collected += chunk
    return _text(collected[:EXCERPT_BYTES].decode("utf-8", errors="ignore"))


def _retry_after(response: requests.Response) -> int | None:
    """``Retry-After`` in seconds (the HTTP-date form is rare from webhook receivers and is
    ignored); at most a day. ``str.isdigit`` alone accepts ``²`` and other non-ASCII digits."""
    value = response.headers.get("retry-after", "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 6:
        return min(int(value), RETRY_AFTER_MAX)
    return None


def _post(
    url: str, body: bytes, headers: dict[str, str], deadline: RequestDeadline
) -> tuple[int, str, int | None]:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: we connect, and vet, ourselves
        adapter = VettedAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        with session.post(
            url,
            data=body,
            # identity: the excerpt is read as sent, with no decompression to fail or to bomb
            headers={**headers, "user-agent": USER_AGENT, "accept-encoding": "identity"},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        ) as response:
            return response.status_code, _excerpt(response, deadline), _retry_after(response)


def http_post(*, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome:
    """POST ``body`` to ``url`` within ``DEADLINE`` seconds; never raises, never follows a
    redirect."""
    started = time.monotonic()
    deadline = RequestDeadline(DEADLINE)
    try:
        with deadline:
            status_code, excerpt, retry_after = _post(url, body, headers, deadline)
    except SoftTimeLimitExceeded:
        return _failure(started, timed_out_message())
    except Exception as exc:
        return _failure(started, timed_out_message() if deadline.expired else _describe(exc))
    if deadline.expired:  # the timer cut the answer short: what was read may look complete
        return _failure(started, timed_out_message())
    error = "" if 200 <= status_code < 300 else f"HTTP {status_code}"
    return HttpOutcome(status_code, _latency(started), excerpt, error, retry_after)


def _latency(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _failure(started: float, error: str) -> HttpOutcome:
    return HttpOutcome(None, _latency(started), "", _text(error))
