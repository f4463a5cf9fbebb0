"""The commerce model: what each merchant sold, to whom, and where it is now."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as django_tz

from postpurchase.tenancy.scoping import TenantModel

MONEY = {"max_digits": 14, "decimal_places": 3}


class Customer(TenantModel):
    external_id = models.CharField(max_length=255, null=True, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +14155550123.")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    birthday = models.DateField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)

    email_marketing_consent = models.BooleanField(default=False)
    email_consent_updated_at = models.DateTimeField(null=True, blank=True)
    email_consent_source = models.CharField(max_length=50, blank=True)
    sms_marketing_consent = models.BooleanField(default=False)
    sms_consent_updated_at = models.DateTimeField(null=True, blank=True)
    sms_consent_source = models.CharField(max_length=50, blank=True)

    # Derived from the customer's orders by orders.services; never written from outside.
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    orders_count = models.PositiveIntegerField(default=0)
    total_spent = models.DecimalField(default=0, max_digits=20, decimal_places=3)  # a sum of orders

    created_at = models.DateTimeField(default=django_tz.now)
    updated_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="customer_merchant_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "email"], name="customer_merchant_email"),
            models.Index(fields=["merchant", "phone"], name="customer_merchant_phone"),
            models.Index(fields=["merchant", "last_order_at"], name="customer_last_order"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.external_id or f"Customer {self.pk}"

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Product(TenantModel):
    external_id = models.CharField(max_length=255)
    sku = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=255)
    category = models.CharField(max_length=100, blank=True)
    price = models.DecimalField(null=True, blank=True, **MONEY)
    image_url = models.URLField(max_length=500, blank=True)
    url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=django_tz.now)
    updated_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="product_merchant_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.title


class FinancialStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AUTHORIZED = "authorized", "Authorized"
    PAID = "paid", "Paid"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"


class FulfillmentStatus(models.TextChoices):
    UNFULFILLED = "unfulfilled", "Unfulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled", "Partially fulfilled"
    FULFILLED = "fulfilled", "Fulfilled"


class Order(TenantModel):
    external_id = models.CharField(max_length=255)
    number = models.CharField(max_length=64)
    # SET_NULL: erasing a customer (a privacy request) keeps the order's anonymous figures.
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    placed_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY)
    discount = models.DecimalField(default=0, **MONEY)
    shipping = models.DecimalField(default=0, **MONEY)
    tax = models.DecimalField(default=0, **MONEY)
    total = models.DecimalField(**MONEY)
    financial_status = models.CharField(
        max_length=20, choices=FinancialStatus.choices, default=FinancialStatus.PAID
    )
    fulfillment_status = models.CharField(
        max_length=20, choices=FulfillmentStatus.choices, default=FulfillmentStatus.UNFULFILLED
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=50, blank=True, help_text="web, pos, shopify, api, ...")
    # Where the order ships, as the store sent it (``orders.schemas.ShippingAddressIn``'s keys),
    # ``{}`` when it sent none. One JSON value rather than nine columns: it is read whole (the
    # API, the export), blanked whole (an erasure), and matched only after the order's number has
    # found the order (the shopper's lookup compares the postcode there, so no index needs it).
    shipping_address = models.JSONField(default=dict, blank=True)
    # The source system's own last-change time: an update older than this one is ignored.
    source_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_tz.now)
    updated_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="order_merchant_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "placed_at"], name="order_merchant_placed"),
            models.Index(fields=["merchant", "number"], name="order_merchant_number"),
            models.Index(fields=["merchant", "updated_at"], name="order_merchant_updated"),
        ]

    def __str__(self) -> str:
        return f"Order {self.number}"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None


class OrderLine(TenantModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField(max_length=255)
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="order_lines"
    )
    title = models.CharField(max_length=255, help_text="The product title when ordered.")
    sku = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    discount = models.DecimalField(default=0, **MONEY)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="order_line_external_id")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"

    @property
    def total(self):
        return self.unit_price * self.quantity - self.discount


class ShipmentStatus(models.TextChoices):
    """Where a parcel is, in one vocabulary whatever the carrier or the feed
    (``orders/shipment_statuses.py`` has their order and sub-statuses; docs/tracking.md maps
    each feed's words onto them)."""

    PENDING = "pending", "Pending"
    INFO_RECEIVED = "info_received", "Info received"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    FAILED_ATTEMPT = "failed_attempt", "Failed attempt"
    AVAILABLE_FOR_PICKUP = "available_for_pickup", "Available for pickup"
    DELIVERED = "delivered", "Delivered"
    EXCEPTION = "exception", "Exception"
    RETURNED_TO_SENDER = "returned_to_sender", "Returned to sender"
    EXPIRED = "expired", "Expired"


class Shipment(TenantModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    external_id = models.CharField(max_length=255)
    carrier = models.CharField(max_length=100, blank=True)
    service = models.CharField(max_length=100, blank=True, default="", db_default="")
    tracking_number = models.CharField(max_length=100, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.INFO_RECEIVED
    )
    # Why, for the statuses that have a reason (an exception's, a failed attempt's, how it was
    # delivered): a code of orders/shipment_statuses.py, or empty.
    substatus = models.CharField(max_length=30, blank=True, default="", db_default="")
    # When the carrier says the current status began: older updates never override it. Empty
    # while no dated statement has been received (older than any dated one).
    status_changed_at = models.DateTimeField(null=True, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)  # the carrier's date
    # The delivery range the shopper is shown (orders/estimates.py): the carrier's date, or this
    # merchant's own transit times for the carrier, service and destination, or the carrier's
    # usual ones; kept as last shown, so calibration can tell how often deliveries land in it.
    estimate_earliest = models.DateField(null=True, blank=True)
    estimate_latest = models.DateField(null=True, blank=True)
    estimate_basis = models.CharField(max_length=10, blank=True, default="", db_default="")
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_tz.now)
    updated_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "external_id"], name="shipment_merchant_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "status"], name="shipment_merchant_status"),
            # a merchant's recent deliveries, which estimates read (orders/estimates.py)
            models.Index(
                fields=["merchant", "delivered_at"],
                name="shipment_deliveries",
                condition=models.Q(status="delivered"),
            ),
            models.Index(fields=["merchant", "tracking_number"], name="shipment_tracking_number"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip() or f"Shipment {self.pk}"


class ShipmentLine(TenantModel):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipment_line_once")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"


class TrackingEvent(TenantModel):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking_events")
    status = models.CharField(max_length=20, choices=ShipmentStatus.choices)
    substatus = models.CharField(max_length=30, blank=True, default="", db_default="")
    # The feed's own word for the checkpoint, as it came (EasyPost's status_detail, AfterShip's
    # subtag, a carrier's code), beside our status: what a merchant can search support logs for.
    raw_status = models.CharField(max_length=100, blank=True, default="", db_default="")
    description = models.CharField(max_length=500, blank=True)
    location = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    raw = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shipment", "occurred_at", "status", "description"],
                name="tracking_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"
