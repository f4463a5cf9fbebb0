"""Merchants' webhook endpoints, one delivery per endpoint and event, and each attempt's log."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from postpurchase.crypto import EncryptedTextField
from postpurchase.tenancy.scoping import TenantModel

EXCERPT_BYTES = 1024  # how much of a response body an attempt keeps


class WebhookEndpoint(TenantModel):
    """A URL of the merchant's that receives signed events.

    ``event_types`` is a list of event type names, or ``["*"]`` for every event. The signing
    secret is kept encrypted (we need it to sign); ``previous_secret`` keeps signing beside the
    new one until ``previous_secret_expires_at``, so a rotation needs no downtime. The health
    fields are kept by the sender with ``F()`` updates: a success clears the streak.
    """

    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["merchant", "enabled"], name="webhook_endpoint_enabled")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types

    @property
    def health(self) -> str:
        """``disabled``, ``failing`` (the last attempt failed) or ``healthy``."""
        if not self.enabled:
            return "disabled"
        return "failing" if self.consecutive_failures else "healthy"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (gave up)"
    CANCELLED = "cancelled", "Cancelled"  # its endpoint was disabled, or its merchant deactivated


FINISHED_STATUSES = [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED]


class WebhookDelivery(TenantModel):
    """One event for one endpoint, until it succeeds or is given up.

    The body is frozen when the delivery is created, so every retry sends the same bytes under
    the same ``message_id`` (the ``webhook-id`` header, the receiver's idempotency key).
    A delivery due a send is *claimed*: ``claim`` holds a token the send task must present, and
    ``next_attempt_at`` moves on by a lease, so a claim lost with its task is claimed again
    once the lease runs out.
    """

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        "events.Event", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    event_type = models.CharField(max_length=100)
    message_id = models.CharField(max_length=40)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "endpoint", "event"],
                condition=models.Q(event__isnull=False),
                name="webhook_delivery_once_per_event",
            ),
            models.UniqueConstraint(
                fields=["merchant", "message_id"], name="webhook_delivery_message_id"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhook_delivery_endpoint"),
            # what the purge looks for: finished deliveries, oldest first
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=FINISHED_STATUSES),
                name="webhook_delivery_finished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → endpoint #{self.endpoint_id}: {self.status}"


class WebhookAttempt(TenantModel):
    """One HTTP request of a delivery and what came back (or why nothing did)."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "delivery", "number"], name="webhook_attempt_once"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery #{self.delivery_id}"
