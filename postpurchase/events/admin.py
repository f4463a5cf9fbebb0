from django.contrib import admin

from postpurchase.events.models import Event, EventConsumerRun
from postpurchase.tenancy.admin_base import TenantAdmin


class EventConsumerRunInline(admin.TabularInline):
    model = EventConsumerRun
    extra = 0
    can_delete = False
    readonly_fields = (
        "consumer",
        "status",
        "attempts",
        "next_attempt_at",
        "finished_at",
        "last_error",
    )


@admin.register(Event)
class EventAdmin(TenantAdmin):
    list_display = (
        "type",
        "merchant",
        "customer",
        "occurred_at",
        "dispatched_at",
        "next_dispatch_at",
    )
    list_filter = ("type", "is_history")
    search_fields = ("type", "dedupe_key")
    date_hierarchy = "occurred_at"
    raw_id_fields = ("customer",)
    readonly_fields = (
        "recorded_at",
        "dispatched_at",
        "dispatch_enqueued_at",
        "dispatch_enqueues",
        "is_history",
    )
    inlines = [EventConsumerRunInline]
