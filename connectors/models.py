"""Inbound connections: each merchant's webhook secrets, every delivery received, and the privacy
requests that came with them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from postpurchase.crypto import EncryptedTextField
from postpurchase.tenancy.scoping import TenantModel


class InboundConfig(TenantModel):
    """One per merchant: the secrets inbound webhooks are verified with.

    The Shopify secret is the merchant's (pasted from their Shopify app); the tracking secret is
    ours (generated, shown once); so is the Shippo token, while the EasyPost and AfterShip
    secrets are pasted. After a change the previous secret keeps verifying until
    ``*_previous_expires_at``, so deliveries signed while the sender switches over still pass."""

    shopify_secret = EncryptedTextField(blank=True)
    shopify_previous_secret = EncryptedTextField(blank=True)
    shopify_previous_expires_at = models.DateTimeField(null=True, blank=True)
    # The last four characters, so the dashboard can say which secret is set without showing it.
    shopify_secret_hint = models.CharField(max_length=4, blank=True)
    shopify_secret_set_at = models.DateTimeField(null=True, blank=True)
    # Set by shop/redact (the store uninstalled us): the secrets are gone until one is pasted again.
    shopify_disconnected_at = models.DateTimeField(null=True, blank=True)
    # The store this connection is for (its *.myshopify.com domain). Shopify's signature does not
    # cover the X-Shopify-Shop-Domain header, so a delivery is taken only when the header names
    # this shop. Given at connection; a connection made before it was asked for binds to the shop
    # of its first valid delivery.
    shopify_shop_domain = models.CharField(max_length=255, blank=True)
    # A keyed hash of the current Shopify secret (``signatures.shopify_secret_fingerprints``), so
    # no two merchants share one without the secret being kept in clear to compare.
    shopify_secret_fingerprint = models.CharField(max_length=64, blank=True)

    tracking_secret = EncryptedTextField(blank=True)
    tracking_previous_secret = EncryptedTextField(blank=True)
    tracking_previous_expires_at = models.DateTimeField(null=True, blank=True)
    tracking_secret_set_at = models.DateTimeField(null=True, blank=True)

    # The tracking services' own webhooks (connectors/tracking_feeds.py), each with its secret:
    # EasyPost's webhook secret and AfterShip's are the merchant's (chosen in EasyPost, shown by
    # AfterShip, pasted here); Shippo's is ours, a token in the URL (Shippo does not sign).
    easypost_secret = EncryptedTextField(blank=True)
    easypost_previous_secret = EncryptedTextField(blank=True)
    easypost_previous_expires_at = models.DateTimeField(null=True, blank=True)
    easypost_secret_set_at = models.DateTimeField(null=True, blank=True)
    shippo_secret = EncryptedTextField(blank=True)
    shippo_previous_secret = EncryptedTextField(blank=True)
    shippo_previous_expires_at = models.DateTimeField(null=True, blank=True)
    shippo_secret_set_at = models.DateTimeField(null=True, blank=True)
    aftership_secret = EncryptedTextField(blank=True)
    aftership_previous_secret = EncryptedTextField(blank=True)
    aftership_previous_expires_at = models.DateTimeField(null=True, blank=True)
    aftership_secret_set_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="inbound_config_one_per_merchant"),
            # Across merchants on purpose: a secret another merchant holds would let its store's
            # signed bodies verify here too.
            models.UniqueConstraint(
                fields=["shopify_secret_fingerprint"],
                condition=~models.Q(shopify_secret_fingerprint=""),
                name="inbound_config_shopify_secret_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Inbound webhooks of merchant {self.merchant_id}"


class DeliverySource(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    TRACKING = "tracking", "Carrier tracking"


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    IGNORED = "ignored", "Ignored"


class InboundDelivery(TenantModel):
    """One webhook delivery, recorded before it is processed (the inbox).

    ``(merchant, source, delivery_id)`` is unique: a sender's retry of a delivery we already hold
    changes nothing. So is ``(merchant, source, body_sha256)`` where the digest is kept (Shopify):
    the webhook id is a header the signature does not cover, so a captured body sent again under
    a new id is the same delivery. ``next_attempt_at`` is when the sweep should (re-)enqueue it:
    a grace period after receipt (a lost task), then each retry's backoff; empty once it is
    settled."""

    source = models.CharField(max_length=20, choices=DeliverySource.choices)
    delivery_id = models.CharField(max_length=255)
    topic = models.CharField(max_length=100)
    body = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # SHA-256 (hex) of the raw body as it was signed; empty for deliveries not deduped on it.
    body_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "source", "delivery_id"], name="inbound_delivery_once"
            ),
            models.UniqueConstraint(
                fields=["merchant", "source", "body_sha256"],
                condition=~models.Q(body_sha256=""),
                name="inbound_delivery_body_once",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "received_at"], name="inbound_delivery_recent"),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(next_attempt_at__isnull=False),
                name="inbound_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.topic} {self.delivery_id}"


class PrivacyRequestKind(models.TextChoices):
    DATA_REQUEST = "customers/data_request", "Customer data request"
    CUSTOMER_REDACT = "customers/redact", "Customer erasure"
    SHOP_REDACT = "shop/redact", "Shop erasure"


class PrivacyRequest(TenantModel):
    """A privacy request from the store and what we did about it. A data request keeps the
    export (everything we hold on the customer) for the merchant to download."""

    kind = models.CharField(max_length=30, choices=PrivacyRequestKind.choices)
    delivery = models.ForeignKey(
        InboundDelivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The store's ids: its data request id and its customer id (no contact details are kept).
    external_id = models.CharField(max_length=255, blank=True)
    customer_external_id = models.CharField(max_length=255, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    export = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "delivery"],
                condition=models.Q(delivery__isnull=False),
                name="privacy_request_once_per_delivery",
            )
        ]
        indexes = [models.Index(fields=["merchant", "received_at"], name="privacy_request_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
