"""The tracking pillar's rows: each merchant's delay thresholds, and the delay incidents already
raised (whose unique key makes the scan raise each incident once)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as django_tz

from postpurchase.tenancy.scoping import TenantModel

# Defaults and allowed ranges of the delay settings: the model, the validation and the scan's
# defaults for a merchant without a row all read them from here.
DELAY_SETTINGS = {
    # Days from the fulfilment (the shipment reaching us) without a first carrier scan.
    "first_scan_days": (3, 1, 30),
    # Days without a scan while the parcel is with the carrier.
    "transit_scan_days": (5, 1, 30),
    # Business days (Monday to Friday) from the order to its fulfilment.
    "fulfillment_promise_days": (3, 1, 30),
    # Days without any scan before a shipment counts as expired.
    "expired_days": (30, 7, 180),
}


def _default(name: str) -> int:
    return DELAY_SETTINGS[name][0]


class DelaySettings(TenantModel):
    """One row per merchant (``tracking.services.delay_settings_get`` creates it with the
    defaults); the scan uses the same defaults for a merchant that has none yet."""

    first_scan_days = models.PositiveSmallIntegerField(default=_default("first_scan_days"))
    transit_scan_days = models.PositiveSmallIntegerField(default=_default("transit_scan_days"))
    fulfillment_promise_days = models.PositiveSmallIntegerField(
        default=_default("fulfillment_promise_days")
    )
    expired_days = models.PositiveSmallIntegerField(default=_default("expired_days"))
    created_at = models.DateTimeField(default=django_tz.now)
    updated_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        verbose_name_plural = "delay settings"
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="delay_settings_one_per_merchant"),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{name}__gte": low, f"{name}__lte": high}),
                    name=f"delay_settings_{name}_range",
                )
                for name, (_, low, high) in DELAY_SETTINGS.items()
            ),
        ]

    def __str__(self) -> str:
        return f"Delay settings of merchant {self.merchant_id}"


class DelayReason(models.TextChoices):
    NO_FIRST_SCAN = "no_first_scan", "No first carrier scan"
    NO_SCAN_IN_TRANSIT = "no_scan_in_transit", "No scan while in transit"
    PAST_ESTIMATED_DELIVERY = "past_estimated_delivery", "Past the estimated delivery date"
    EXCEPTION = "exception", "Carrier exception"
    FULFILLMENT_LATE = "fulfillment_late", "Not fulfilled within the promise"
    EXPIRED = "expired", "No scan for the expired threshold"


class DelayIncident(TenantModel):
    """A delay the scan has raised. Its key (merchant, shipment or order, reason, since) is
    unique: the scan inserts with ``ON CONFLICT DO NOTHING`` and records an event only for the
    rows it inserted, so each incident is raised once, however often or concurrently the scan
    runs. ``since`` is when the incident began (the last scan, the fulfilment, the day after the
    estimate, the exception): a shipment that moves and stalls again starts a new incident."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    # Empty for an order's incident (not fulfilled in time).
    shipment = models.ForeignKey(
        "orders.Shipment", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    reason = models.CharField(max_length=30, choices=DelayReason.choices)
    since = models.DateTimeField()
    # When the incident crossed its threshold (the event's occurred_at), and when it was found.
    delayed_at = models.DateTimeField()
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "shipment", "reason", "since"],
                condition=models.Q(shipment__isnull=False),
                name="delay_incident_shipment_once",
            ),
            models.UniqueConstraint(
                fields=["merchant", "order", "reason", "since"],
                condition=models.Q(shipment__isnull=True),
                name="delay_incident_order_once",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "detected_at"], name="delay_incident_detected"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} since {self.since:%Y-%m-%d %H:%M}"
