"""One HTTP POST of a webhook, through the vetted adapter, and what came of it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from webhooks.destinations import DestinationRefused, VettedAdapter
from webhooks.models import EXCERPT_BYTES

# Connect, then each read: a receiver should answer fast and do its work later.
TIMEOUT = (5, 10)
USER_AGENT = "PostPurchase-Webhooks/1.0"


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


def _describe(exc: requests.RequestException) -> str:
    """A short, merchant-readable reason; the SSRF refusal is spelled out as such."""
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", None)
    if isinstance(reason, DestinationRefused):
        return reason.refusal
    if isinstance(exc, requests.Timeout):
        return f"Timed out (connect {TIMEOUT[0]} s, read {TIMEOUT[1]} s)."
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {reason or exc}"[:500]
    if isinstance(exc, requests.ConnectionError):
        return f"Could not connect: {reason or exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _excerpt(response: requests.Response) -> str:
    """The first ``EXCERPT_BYTES`` of the body, read no further (a huge answer costs nothing)."""
    collected = b""
    for chunk in response.iter_content(chunk_size=EXCERPT_BYTES):
        collected += chunk
        if len(collected) >= EXCERPT_BYTES:
            break
    return collected[:EXCERPT_BYTES].decode("utf-8", errors="ignore")


def _retry_after(response: requests.Response) -> int | None:
    """``Retry-After`` in seconds (the HTTP-date form is rare from webhook receivers and is
    ignored); at most a day."""
    value = response.headers.get("retry-after", "").strip()
    return min(int(value), 86400) if value.isdigit() else None


def http_post(*, url: str, body: bytes, headers: dict[str, str]) -> HttpOutcome:
    """POST ``body`` to ``url``; never raises for network trouble, never follows a redirect."""
    started = time.monotonic()
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: we connect, and vet, ourselves
        adapter = VettedAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            with session.post(
                url,
                data=body,
                headers={**headers, "user-agent": USER_AGENT},
                timeout=TIMEOUT,
                allow_redirects=False,
                stream=True,
            ) as response:
                excerpt = _excerpt(response)
                status_code = response.status_code
                retry_after = _retry_after(response)
        except requests.RequestException as exc:
            latency = round((time.monotonic() - started) * 1000)
            return HttpOutcome(None, latency, "", _describe(exc))
    latency = round((time.monotonic() - started) * 1000)
    error = "" if 200 <= status_code < 300 else f"HTTP {status_code}"
    return HttpOutcome(status_code, latency, excerpt, error, retry_after)
