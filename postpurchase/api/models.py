"""Responses kept for ``Idempotency-Key`` replays."""

from __future__ import annotations

from django.db import models

from postpurchase.crypto import EncryptedTextField
from postpurchase.tenancy.scoping import TenantModel


class IdempotencyRecord(TenantModel):
    """One ``Idempotency-Key`` of one merchant: the request it was first used with and, once
    that request finished, the response to replay. ``response_status`` is empty while the first
    request is still in flight."""

    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # Encrypted: a response may carry a secret shown once (a webhook signing secret) or a
    # shopper's personal data, and is kept for a day.
    response_body = EncryptedTextField(blank=True, help_text="The response body, as JSON.")
    response_content_type = models.CharField(max_length=100, blank=True)
    response_location = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_merchant_key")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"

    @property
    def in_flight(self) -> bool:
        return self.response_status is None
