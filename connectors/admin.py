"""Read-only views for operators: deliveries and privacy requests, never the secrets."""

from django.contrib import admin

from connectors.models import InboundConfig, InboundDelivery, PrivacyRequest
from postpurchase.tenancy.admin_base import ReadOnlyTenantAdmin


@admin.register(InboundConfig)
class InboundConfigAdmin(ReadOnlyTenantAdmin):
    list_display = (
        "merchant",
        "shopify_shop_domain",
        "shopify_secret_hint",
        "shopify_secret_set_at",
        "tracking_secret_set_at",
    )
    # The secrets themselves are never shown, not even to operators.
    fields = (
        "merchant",
        "shopify_shop_domain",
        "shopify_secret_hint",
        "shopify_secret_set_at",
        "shopify_previous_expires_at",
        "shopify_disconnected_at",
        "tracking_secret_set_at",
        "tracking_previous_expires_at",
        "updated_at",
    )


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(ReadOnlyTenantAdmin):
    list_display = (
        "delivery_id",
        "merchant",
        "source",
        "topic",
        "status",
        "attempts",
        "received_at",
    )
    list_filter = ("source", "status", "topic")
    search_fields = ("delivery_id",)
    date_hierarchy = "received_at"


@admin.register(PrivacyRequest)
class PrivacyRequestAdmin(ReadOnlyTenantAdmin):
    list_display = ("kind", "merchant", "customer_external_id", "received_at", "completed_at")
    list_filter = ("kind",)
    exclude = ("export",)
