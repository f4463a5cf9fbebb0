"""Signed links a shopper follows without an account: the token in the URL is the proof.

A token is Django's signed, timestamped JSON (``signing.dumps``, keyed by ``SECRET_KEY``), so it
needs no table and survives restarts. Each token carries:

- its **purpose**: the purpose's ``salt`` goes into the signature, so a token made for one page
  is refused by every other (an unsubscribe token cannot open an order page);
- the **merchant** (``"m"``): a token is accepted only under its own merchant's slug, so one
  merchant's link never opens another's page, even for a row id that exists there;
- the purpose's **fields** (``"c"`` a customer id, ``"o"`` an order id…), each of a fixed type;
- its **signing time**, always: a purpose with a ``max_age`` refuses a token older than that.

Which purposes expire is a product choice, written down with the purpose: links that show an
order (status, tracking, returns) expire after ``ORDER_LINK_MAX_AGE`` (90 days: past any return
window, and a forwarded or leaked link stops showing a shopper's parcels); links that only
lower or change what is sent (unsubscribe, preferences) never expire, since a shopper may act
on an email months old and RFC 8058 asks that unsubscribing keep working.

The format is exactly what ``notifications.links`` signed before this module existed, so the
links in messages already delivered keep working.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import get_urlconf, reverse

MERCHANT_FIELD = "m"
# Links that show an order, its parcels or its returns. Past any store's return window.
ORDER_LINK_MAX_AGE = timedelta(days=90)


@dataclass(frozen=True)
class LinkPurpose:
    """What a token is for: ``salt`` names it (``<app>.<page>``, never reused for another
    meaning), ``fields`` are what the token must carry besides the merchant, with their JSON
    types, and ``max_age`` (``None``: never) is how long after signing it is accepted."""

    salt: str
    fields: Mapping[str, type] = field(default_factory=dict)
    max_age: timedelta | None = None


class _Signer(signing.TimestampSigner):
    """Django's timestamp signer with the clock as a parameter (``now``, seconds since the
    epoch; ``None`` is the wall clock), so expiry is tested by what a token decodes to."""

    def __init__(self, *, salt: str, now: float | None) -> None:
        super().__init__(salt=salt)
        self.now = now

    def timestamp(self) -> str:
        return super().timestamp() if self.now is None else signing.b62_encode(int(self.now))

    def unsign(self, value: str, max_age: float | timedelta | None = None) -> str:
        result = signing.Signer.unsign(self, value)  # the signature over value and time
        value, timestamp = result.rsplit(self.sep, 1)
        if max_age is not None:
            if isinstance(max_age, timedelta):
                max_age = max_age.total_seconds()
            now = time.time() if self.now is None else self.now
            if now - signing.b62_decode(timestamp) > max_age:
                raise signing.SignatureExpired("Signature age exceeds the purpose's max age")
        return value


def link_token(
    *, purpose: LinkPurpose, merchant_id: int, now: float | None = None, **fields: Any
) -> str:
    """A token for ``purpose`` naming the merchant and the purpose's ``fields``."""
    if set(fields) != set(purpose.fields):
        raise ValueError(f"{purpose.salt} takes {sorted(purpose.fields)}, got {sorted(fields)}")
    payload = {MERCHANT_FIELD: merchant_id, **fields}
    return _Signer(salt=purpose.salt, now=now).sign_object(payload)


def link_read(
    token: str, *, purpose: LinkPurpose, merchant_id: int | None, now: float | None = None
) -> dict[str, Any] | None:
    """The token's content, or ``None`` when it was not signed by us for this purpose, has
    expired, is not for ``merchant_id`` or lacks a field of the purpose's type. One answer for
    every failure: the pages that use it show the same 404 whatever was wrong. ``merchant_id``
    is ``None`` only where the merchant is not known yet and comes from the token (a reply to
    an unsubscribe mailto)."""
    try:
        data = _Signer(salt=purpose.salt, now=now).unsign_object(token, max_age=purpose.max_age)
    except (signing.BadSignature, ValueError):  # ValueError: a well-signed body of bad JSON
        return None
    if not isinstance(data, dict) or type(data.get(MERCHANT_FIELD)) is not int:
        return None
    if merchant_id is not None and data[MERCHANT_FIELD] != merchant_id:
        return None
    for name, kind in purpose.fields.items():
        if type(data.get(name)) is not kind:  # bool is not an int here
            return None
    return data


_SLUG, _TOKEN = "merchant-slug-here", "token-here"


@functools.lru_cache(maxsize=64)
def _route(view_name: str, urlconf: str | None) -> str:
    return reverse(view_name, urlconf=urlconf, kwargs={"merchant_slug": _SLUG, "token": _TOKEN})


def link_url(*, merchant, view_name: str, token: str) -> str:
    """The absolute address of a shopper page (``view_name`` takes the merchant's slug and the
    token), as put in a message. The route is reversed once per page and filled in after:
    every message carries such links, and ``reverse`` costs several signatures. Slugs and
    tokens need no quoting in a path (letters, digits, ``-``, ``_``, ``:``)."""
    path = _route(view_name, get_urlconf())
    path = path.replace(_SLUG, merchant.slug, 1).replace(_TOKEN, token, 1)
    return settings.SITE_URL.rstrip("/") + path
