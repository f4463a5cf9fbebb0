"""Secrets kept in the database, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

Merchants' webhook secrets and provider credentials must be readable by us (we sign and verify
with them), so they cannot be hashed like API keys; they are encrypted with the keys in
``settings.ENCRYPTION_KEYS`` instead. The first key encrypts and every key decrypts, so keys are
rotated by putting a new one first and re-saving (``reencrypt``) before dropping the old one.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Embedded mode only (production requires ENCRYPTION_KEYS): a key derived from SECRET_KEY.
        digest = hashlib.sha256(f"postpurchase.crypto:{secret_key}".encode()).digest()
        keys = (base64.urlsafe_b64encode(digest).decode(),)
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes); make one "
            'with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return PREFIX + fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("Not an encrypted value.")
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError(
            "An encrypted value could not be decrypted: is its key missing from ENCRYPTION_KEYS?"
        ) from None


def random_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


class EncryptedTextField(models.TextField):
    """A text column holding ``fernet:<token>``; Python code sees the plaintext. Empty stays
    empty (no secret set). Not searchable or orderable, by design."""

    description = "Text encrypted at rest"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
