"""The signature schemes inbound webhooks are verified with.

Shopify: ``X-Shopify-Hmac-Sha256`` is base64(HMAC-SHA256(raw body, shared secret)).
Tracking: ``X-Tracking-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``,
accepted within ``TRACKING_TOLERANCE`` of our clock (a replayed old delivery is refused).
EasyPost: ``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256(raw body, secret)>``, the secret
NFKD-normalised and UTF-8 encoded first (as EasyPost's own ``validate_webhook`` does).
AfterShip: ``aftership-hmac-sha256`` is base64(HMAC-SHA256(raw body, secret)).
Shippo signs nothing: its URL carries a token of ours (``?token=``).
Every comparison is constant-time.

A Shopify secret's fingerprint is a keyed hash (HMAC-SHA256 under a key derived from
``SECRET_KEY``): it tells two merchants' secrets apart without keeping either in clear, and, keyed,
it cannot be checked against guesses by whoever reads the table alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.crypto import salted_hmac

TRACKING_TOLERANCE = timedelta(minutes=5)
FINGERPRINT_SALT = "connectors.shopify_secret_fingerprint"


def shopify_signature(*, secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def shopify_secret_fingerprints(secret: str) -> list[str]:
    """The secret's fingerprint under ``SECRET_KEY`` first (the one stored), then under each of
    ``SECRET_KEY_FALLBACKS``, so fingerprints stored before a key rotation still match."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [
        salted_hmac(FINGERPRINT_SALT, secret, secret=key, algorithm="sha256").hexdigest()
        for key in keys
    ]


def shopify_signature_valid(*, secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    if not header:
        return False
    given = header.strip().encode()
    valid = False
    for secret in secrets:
        # No early exit: every configured secret is tried, whichever matches.
        if secret and hmac.compare_digest(
            shopify_signature(secret=secret, body=body).encode(), given
        ):
            valid = True
    return valid


def tracking_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def tracking_header(*, secret: str, timestamp: int, body: bytes) -> str:
    """The header a sender puts on a delivery (used by tests and the docs' example)."""
    return f"t={timestamp},v1={tracking_signature(secret=secret, timestamp=timestamp, body=body)}"


def _parse_tracking_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        # isascii: "²".isdigit() is true, but int() refuses it.
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value.strip().lower())
    return timestamp, signatures


def tracking_signature_valid(
    *, secrets: Iterable[str], body: bytes, header: str | None, now: datetime
) -> bool:
    """True when one ``v1`` matches one of ``secrets`` and ``t`` is within the tolerance."""
    if not header:
        return False
    timestamp, given = _parse_tracking_header(header)
    if timestamp is None or not given:
        return False
    if abs(now.timestamp() - timestamp) > TRACKING_TOLERANCE.total_seconds():
        return False
    valid = False
    for secret in secrets:
        if not secret:
            continue
        expected = tracking_signature(secret=secret, timestamp=timestamp, body=body).encode()
        for signature in given:
            if hmac.compare_digest(expected, signature.encode()):
                valid = True
    return valid


def easypost_signature(*, secret: str, body: bytes) -> str:
    key = unicodedata.normalize("NFKD", secret).encode()
    return "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def aftership_signature(*, secret: str, body: bytes) -> str:
    return shopify_signature(secret=secret, body=body)  # the same scheme: base64 of the HMAC


def _any_matches(secrets: Iterable[str], given: str | None, expected_for) -> bool:
    """True when ``given`` equals what one of ``secrets`` gives; every secret is tried, with no
    early exit, and each comparison is constant-time."""
    if not given:
        return False
    given_bytes = given.strip().encode()
    valid = False
    for secret in secrets:
        if secret and hmac.compare_digest(expected_for(secret).encode(), given_bytes):
            valid = True
    return valid


def easypost_signature_valid(*, secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    return _any_matches(secrets, header, lambda s: easypost_signature(secret=s, body=body))


def aftership_signature_valid(*, secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    return _any_matches(secrets, header, lambda s: aftership_signature(secret=s, body=body))


def shippo_token_valid(*, secrets: Iterable[str], token: str | None) -> bool:
    return _any_matches(secrets, token, lambda s: s)
