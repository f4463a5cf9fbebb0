"""Package protection's rows: each merchant's protection settings, the claims shoppers file on
protected parcels, and their photos (docs/protection.md).

Imported into ``tracking/models.py``, so Django finds them as the tracking app's models."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone as django_tz

from orders.models import MONEY
from postpurchase.tenancy.scoping import TenantModel
from tracking.claims.storage import claim_photo_storage

# Defaults and allowed ranges of the numeric settings: the model, the validation (the dashboard
# form and the service) and the rules for a merchant without a row read them from here.
PROTECTION_LIMITS = {
    # Days after the delivery day (the merchant's calendar) a damaged or stolen claim may be filed.
    "claim_window_days": (15, 1, 90),
    # Days without a carrier scan after which an undelivered parcel may be claimed as lost.
    "lost_after_days": (10, 1, 60),
    # At most this many claims per customer within ``limit_period_days`` (rejected ones count).
    "claims_per_customer": (2, 1, 100),
    "limit_period_days": (365, 1, 3650),
}
PROTECTION_PRODUCTS_MAX = 20  # SKUs or product ids that mark a protected order


def _default(name: str) -> int:
    return PROTECTION_LIMITS[name][0]


class ProtectionSettings(TenantModel):
    """One row per merchant (``protection_settings_get`` creates it, off). ``protection_products``
    are the SKUs or the store's product ids of the optional protection line the shopper may add
    at checkout: an order holding such a line is protected. ``last_claim_number`` numbers the
    merchant's claims; its row is locked while a claim is filed, which also makes the checks
    of one filing see every claim filed before it."""

    offered = models.BooleanField(default=False)
    protection_products = models.JSONField(default=list, blank=True)
    claim_window_days = models.PositiveSmallIntegerField(default=_default("claim_window_days"))
    lost_after_days = models.PositiveSmallIntegerField(default=_default("lost_after_days"))
    damage_photo_required = models.BooleanField(default=True)
    claims_per_customer = models.PositiveSmallIntegerField(default=_default("claims_per_customer"))
    limit_period_days = models.PositiveSmallIntegerField(default=_default("limit_period_days"))
    last_claim_number = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=django_tz.now)
    updated_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        verbose_name_plural = "protection settings"
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="protection_settings_one"),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{name}__gte": low, f"{name}__lte": high}),
                    name=f"protection_{name}_range",
                )
                for name, (_, low, high) in PROTECTION_LIMITS.items()
            ),
        ]

    def __str__(self) -> str:
        return f"Protection settings of merchant {self.merchant_id}"


class OrderProtection(TenantModel):
    """A shopper chose protection for this order, as the store told us through the API
    (``POST /api/v1/protected-orders``), for a checkout that does not add the merchant's
    protection product as a line. We record the choice; we never make it."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    chosen_at = models.DateTimeField()
    source = models.CharField(max_length=20, default="api")
    created_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "order"], name="order_protection_once"),
        ]

    def __str__(self) -> str:
        return f"Order {self.order_id} protected"


class ClaimKind(models.TextChoices):
    LOST = "lost", "Lost"
    DAMAGED = "damaged", "Damaged"
    STOLEN = "stolen", "Stolen"


class ClaimState(models.TextChoices):
    FILED = "filed", "Filed"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RESOLVED = "resolved", "Resolved"


class ClaimResolution(models.TextChoices):
    RESHIP = "reship", "Reship"
    REFUND = "refund", "Refund"


# The moves a claim may make: anything else is refused naming the state it is in.
TRANSITIONS: dict[str, frozenset[str]] = {
    ClaimState.FILED: frozenset({ClaimState.APPROVED, ClaimState.REJECTED}),
    ClaimState.APPROVED: frozenset({ClaimState.RESOLVED}),
    ClaimState.REJECTED: frozenset(),
    ClaimState.RESOLVED: frozenset(),
}
OPEN_STATES = (ClaimState.FILED, ClaimState.APPROVED, ClaimState.RESOLVED)


class Claim(TenantModel):
    """A shopper's claim on one protected parcel. One claim per shipment that is not rejected
    (the unique constraint holds under concurrent filings); ``number`` is the merchant's own
    (``C-1``, ``C-2``…). The customer is kept nullable: an erased customer's claims stay for
    the merchant's books, their statement and photos gone."""

    number = models.PositiveIntegerField()
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    shipment = models.ForeignKey("orders.Shipment", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        "orders.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=ClaimKind.choices)
    statement = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=ClaimState.choices, default=ClaimState.FILED)
    # The merchant's words to the shopper with its decision (shown on the claim's page).
    decision_message = models.TextField(blank=True)
    resolution = models.CharField(max_length=10, choices=ClaimResolution.choices, blank=True)
    # A refund's amount: what the shipment's lines were paid (recorded; the merchant refunds in
    # its store: we move no money).
    refund_amount = models.DecimalField(null=True, blank=True, **MONEY)
    replacement_order = models.ForeignKey(
        "orders.Order", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filed_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "number"], name="claim_number_once"),
            models.UniqueConstraint(
                fields=["merchant", "shipment"],
                condition=~models.Q(state="rejected"),
                name="claim_one_open_per_shipment",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "state", "filed_at"], name="claim_state_filed"),
            models.Index(fields=["merchant", "customer", "filed_at"], name="claim_customer_filed"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """The number a shopper and the merchant say: ``C-12``."""
        return f"C-{self.number}"


def claim_photo_path(instance: ClaimPhoto, filename: str) -> str:
    """``claims/<merchant id>/<random>.<ext>``: per merchant, never the shopper's file name."""
    return f"claims/{instance.merchant_id}/{uuid.uuid4().hex}.{instance.extension}"


class ClaimPhoto(TenantModel):
    """A photo the shopper sent with a claim, in a storage that is never served publicly: the
    dashboard serves it to the merchant's members only."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="photos")
    file = models.FileField(upload_to=claim_photo_path, storage=claim_photo_storage, max_length=200)
    content_type = models.CharField(max_length=30)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["claim_id", "id"]

    def __str__(self) -> str:
        return f"Photo {self.pk} of claim {self.claim_id}"

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}.get(
            self.content_type, "heic"
        )
