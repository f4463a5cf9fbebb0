"""Read-only views for operators: templates, the outbox with each message's timeline, the
suppression lists and sending policies. Everything is written through the services, which
check templates and decide messages; nothing is edited here."""

from django.contrib import admin

from notifications.models import (
    Message,
    MessageEvent,
    MessageTemplate,
    PlatformSendCount,
    SenderDomain,
    SendingPolicy,
    Suppression,
    VerifiedPhone,
)
from postpurchase.tenancy.admin_base import ReadOnlyTenantAdmin, TenantInline


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ReadOnlyTenantAdmin):
    list_display = ("name", "key", "merchant", "channel", "category", "kind", "updated_at")
    list_filter = ("channel", "category", "kind")
    search_fields = ("name", "key")
    exclude = ("current_version",)


class MessageEventInline(TenantInline):
    model = MessageEvent
    fields = ("occurred_at", "status", "reason", "detail")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyTenantAdmin):
    list_display = ("created_at", "merchant", "channel", "to", "status", "reason")
    list_filter = ("channel", "status", "category")
    search_fields = ("to", "idempotency_key")
    exclude = ("customer", "template", "template_version")
    inlines = [MessageEventInline]


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyTenantAdmin):
    list_display = ("address", "channel", "reason", "merchant", "created_at")
    list_filter = ("channel", "reason")
    search_fields = ("address",)


@admin.register(SendingPolicy)
class SendingPolicyAdmin(ReadOnlyTenantAdmin):
    list_display = ("merchant", "send_from", "send_until", "marketing_cap", "cap_mode")


@admin.register(SenderDomain)
class SenderDomainAdmin(ReadOnlyTenantAdmin):
    list_display = ("domain", "merchant", "verified_at", "method", "checked_at")
    list_filter = ("method",)
    search_fields = ("domain",)


@admin.register(VerifiedPhone)
class VerifiedPhoneAdmin(ReadOnlyTenantAdmin):
    list_display = ("phone", "merchant", "verified_at", "code_sent_at")
    search_fields = ("phone",)
    exclude = ("code_hash", "added_by")


@admin.register(PlatformSendCount)
class PlatformSendCountAdmin(ReadOnlyTenantAdmin):
    list_display = ("day", "merchant", "channel", "count")
    list_filter = ("channel",)
