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


class DelayResolution(models.TextChoices):
    """Why an open incident stopped being one (``tracking/resolution.py``)."""

    MOVED = "moved", "The carrier scanned it again"
    RE_ESTIMATED = "re_estimated", "A later delivery date was given"
    DELIVERED = "delivered", "Delivered"
    RETURNED = "returned", "Returned to sender"
    EXPIRED = "expired", "Expired"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Order cancelled"


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
    # Open while empty: set, with why, by the scan that finds the incident's condition gone. A
    # resolved incident stays (its key keeps it from being raised again).
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(
        max_length=20, choices=DelayResolution.choices, blank=True, default="", db_default=""
    )

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
            # the open incidents: what the resolution statements, the API and the dashboard read
            models.Index(
                fields=["merchant", "reason", "since"],
                name="delay_incident_open",
                condition=models.Q(resolved_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} since {self.since:%Y-%m-%d %H:%M}"


# --- the shopper's tracking page (tracking/shopper_views.py) ----------------------------------


class ShipmentPageViews(TenantModel):
    """How often a shipment's tracking page was opened, per day (UTC): one row per shipment and
    day, counted up with an upsert. A shopper opening the page again and again is the
    "where is my order?" signal the dashboard's Tracking page shows."""

    shipment = models.ForeignKey("orders.Shipment", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "shipment page views"
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "shipment", "day"], name="shipment_page_views_once"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "day"], name="shipment_page_views_day")]

    def __str__(self) -> str:
        return f"{self.views} views of shipment {self.shipment_id} on {self.day}"


class ProductPairing(TenantModel):
    """How many of the merchant's orders held both ``product`` and ``other``: what the tracking
    page suggests beside a parcel ("bought together"). Recomputed from orders by a periodic
    task (``tracking.pairings.pairings_refresh``), keeping each product's best few."""

    product = models.ForeignKey("orders.Product", on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey("orders.Product", on_delete=models.CASCADE, related_name="+")
    orders = models.PositiveIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "product", "other"], name="product_pairing_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} with {self.other_id}: {self.orders} orders"


class SuggestionStats(TenantModel):
    """Views and clicks of a product suggested on the tracking page, per day (UTC)."""

    product = models.ForeignKey("orders.Product", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "suggestion stats"
        constraints = [
            models.UniqueConstraint(fields=["merchant", "product", "day"], name="suggestion_once"),
        ]

    def __str__(self) -> str:
        return f"Product {self.product_id} on {self.day}: {self.views} views, {self.clicks} clicks"


class UpdateChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class TrackingSubscription(TenantModel):
    """A shopper asked, on the tracking page, for this order's parcel updates by email or SMS
    at ``address``. ``consent_text`` is the words they agreed to, ``source`` where
    (``tracking_page``); ``stopped_at`` is set when they stop the updates."""

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=UpdateChannel.choices)
    address = models.CharField(max_length=254)
    consent_text = models.TextField()
    source = models.CharField(max_length=50)
    consented_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "order", "channel", "address"],
                name="tracking_subscription_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} updates for order {self.order_id}"


# --- package protection and claims (tracking/claims/) ---------------------------------------
from tracking.claims.models import (  # noqa: E402, F401
    Claim,
    ClaimPhoto,
    OrderProtection,
    ProtectionSettings,
)
