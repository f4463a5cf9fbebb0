from django.contrib import admin

from orders.models import (
    Customer,
    Order,
    OrderLine,
    Product,
    Shipment,
    ShipmentLine,
    TrackingEvent,
)
from postpurchase.tenancy.admin_base import TenantAdmin, TenantInline


@admin.register(Customer)
class CustomerAdmin(TenantAdmin):
    list_display = ("__str__", "email", "merchant", "orders_count", "total_spent", "last_order_at")
    search_fields = ("email", "external_id", "first_name", "last_name", "phone")
    readonly_fields = ("first_order_at", "last_order_at", "orders_count", "total_spent")


@admin.register(Product)
class ProductAdmin(TenantAdmin):
    list_display = ("title", "sku", "category", "price", "merchant")
    search_fields = ("title", "sku", "external_id")


class OrderLineInline(TenantInline):
    model = OrderLine
    raw_id_fields = ("product",)


@admin.register(Order)
class OrderAdmin(TenantAdmin):
    list_display = (
        "number",
        "merchant",
        "customer",
        "placed_at",
        "total",
        "currency",
        "financial_status",
        "fulfillment_status",
    )
    list_filter = ("fulfillment_status", "financial_status")
    search_fields = ("number", "external_id", "customer__email")
    date_hierarchy = "placed_at"
    raw_id_fields = ("customer",)
    inlines = [OrderLineInline]


class ShipmentLineInline(TenantInline):
    model = ShipmentLine
    raw_id_fields = ("order_line",)


class TrackingEventInline(TenantInline):
    model = TrackingEvent


@admin.register(Shipment)
class ShipmentAdmin(TenantAdmin):
    list_display = (
        "__str__",
        "merchant",
        "order",
        "status",
        "estimated_delivery",
        "shipped_at",
        "delivered_at",
    )
    list_filter = ("status", "carrier")
    search_fields = ("tracking_number", "external_id", "order__number")
    raw_id_fields = ("order",)
    inlines = [ShipmentLineInline, TrackingEventInline]
