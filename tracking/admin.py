"""Read-only views for operators: each merchant's delay settings and the incidents the scan has
raised. Settings change through ``tracking.services.delay_settings_update``, which checks them."""

from django.contrib import admin

from postpurchase.tenancy.admin_base import ReadOnlyTenantAdmin
from tracking.models import DelayIncident, DelaySettings


@admin.register(DelaySettings)
class DelaySettingsAdmin(ReadOnlyTenantAdmin):
    list_display = (
        "merchant",
        "first_scan_days",
        "transit_scan_days",
        "fulfillment_promise_days",
        "expired_days",
        "updated_at",
    )


@admin.register(DelayIncident)
class DelayIncidentAdmin(ReadOnlyTenantAdmin):
    list_display = (
        "merchant",
        "reason",
        "shipment",
        "order",
        "since",
        "detected_at",
        "resolved_at",
        "resolution",
    )
    list_filter = ("reason", "resolution")
