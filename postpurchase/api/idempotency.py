"""``Idempotency-Key`` for POST and PATCH (IETF httpapi "The Idempotency-Key HTTP Header Field").

The first request with a key claims it (a row, committed before the request's own work starts, so
a concurrent request with the same key sees it). When the request finishes, its status and body
are stored on the row for ``IDEMPOTENCY_TTL``. Afterwards the same key with the same request
replays that response; with another request body (or another endpoint) it answers 422; while the
first request is still running it answers 409. A request that fails with a server error (5xx)
gives its key back, so the client's retry runs for real.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from postpurchase.api.errors import IdempotencyCode
from postpurchase.api.models import IdempotencyRecord
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant

IDEMPOTENCY_TTL = timedelta(hours=24)
# A claim this old with no response is the mark of a process that died mid-request (the request
# timeout is far shorter): a retry may take it over.
ABANDONED_AFTER = timedelta(minutes=5)
KEY_PATTERN = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$")
HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Claim:
    record: IdempotencyRecord
    replay: bool  # True: the stored response answers this request


def key_check(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise DomainError(
            IdempotencyCode.INVALID_KEY,
            f"The {HEADER} header must be 1 to 255 printable ASCII characters.",
            field=HEADER,
        )
    return key


def request_fingerprint(*, method: str, path: str, body: bytes, query: str = "") -> str:
    """SHA-256 of the method, path, query string and body. A JSON body is compared by content,
    so the same object sent with other spacing or key order counts as the same request; the
    query's parameters are compared in sorted order (``?draft=true`` changes what a request
    does, so it is part of what the key stands for)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body  # not JSON (or nested too deep to read): compared byte for byte
    digest = hashlib.sha256()
    parts = [method.encode(), b"\n", path.encode(), b"\n"]
    if query:  # left out when empty, so records made before the query counted still match
        parts += [b"?", urlencode(sorted(parse_qsl(query, keep_blank_values=True))).encode()]
        parts.append(b"\n")
    parts.append(canonical)
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def idempotency_claim(
    *, merchant: Merchant, key: str, method: str, path: str, fingerprint: str, now: datetime
) -> Claim:
    """Claim ``key`` for this request, or find the response to replay. Runs in its own committed
    transaction so that concurrent requests with the key see the claim."""
    for _ in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.unscoped.create(
                    merchant=merchant,
                    key=key,
                    method=method,
                    path=path[:500],
                    fingerprint=fingerprint,
                    created_at=now,
                    expires_at=now + IDEMPOTENCY_TTL,
                )
            return Claim(record=record, replay=False)
        except IntegrityError:
            pass
        held = IdempotencyRecord.unscoped.filter(merchant=merchant, key=key).first()
        if held is None:
            continue  # released or purged in between: try the insert again
        if held.expires_at <= now:
            IdempotencyRecord.unscoped.filter(pk=held.pk, expires_at=held.expires_at).delete()
            continue
        if held.fingerprint != fingerprint:
            raise DomainError(
                IdempotencyCode.REUSED,
                f"This {HEADER} was used with another request; use a new key for a new request.",
                field=HEADER,
            )
        if not held.in_flight:
            return Claim(record=held, replay=True)
        if held.created_at <= now - ABANDONED_AFTER and _take_over(held, now):
            return Claim(record=held, replay=False)
        raise DomainError(
            IdempotencyCode.IN_FLIGHT,
            f"A request with this {HEADER} is still being processed; retry once it has finished.",
            field=HEADER,
        )
    raise DomainError(
        IdempotencyCode.IN_FLIGHT,
        f"A request with this {HEADER} is being processed; retry once it has finished.",
        field=HEADER,
    )


def _take_over(record: IdempotencyRecord, now: datetime) -> bool:
    """Claim an abandoned record; only one of several racing retries wins."""
    won = IdempotencyRecord.unscoped.filter(
        pk=record.pk, created_at=record.created_at, response_status__isnull=True
    ).update(created_at=now, expires_at=now + IDEMPOTENCY_TTL)
    record.created_at = now
    return won == 1


def idempotency_complete(
    *, record: IdempotencyRecord, status: int, body, content_type: str, location: str = ""
) -> None:
    IdempotencyRecord.unscoped.filter(pk=record.pk, response_status__isnull=True).update(
        response_status=status,
        response_body=json.dumps(body, cls=DjangoJSONEncoder) if body is not None else "",
        response_content_type=content_type[:100],
        response_location=location[:500],
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Give the key back (the request failed on our side): the next try runs for real."""
    IdempotencyRecord.unscoped.filter(pk=record.pk, response_status__isnull=True).delete()


def idempotency_purge(*, now: datetime, batch: int = 5000) -> int:
    """Delete expired records, a batch at a time (a periodic task)."""
    total = 0
    while True:
        ids = list(
            IdempotencyRecord.unscoped.filter(expires_at__lte=now).values_list("pk", flat=True)[
                :batch
            ]
        )
        if not ids:
            return total
        total += IdempotencyRecord.unscoped.filter(pk__in=ids).delete()[0]
