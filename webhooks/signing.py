"""The Standard Webhooks signature scheme (https://www.standardwebhooks.com/, symmetric ``v1``).

The secret is shown to merchants as ``whsec_`` + base64 of random bytes; the HMAC key is those
bytes. Each request carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``,
one per secret in use (two while a rotated secret is still honoured).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32  # the spec asks for at least 24


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("A webhook secret starts with 'whsec_'.")
    return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``{message_id}.{timestamp}.{body}``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(
    *, secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes
) -> str:
    return " ".join(
        signature(secret=s, message_id=message_id, timestamp=timestamp, body=body)
        for s in secrets_in_use
    )
