"""Admin base classes for tenant-owned models.

The admin is for platform operators. Superusers see every merchant's rows through the explicitly
named ``unscoped`` manager; any other staff user sees only the rows of merchants they belong to.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet


def _allowed_merchant_ids(request) -> list[int] | None:
    """``None`` means every merchant (a superuser)."""
    if request.user.is_superuser:
        return None
    return list(request.user.memberships.values_list("merchant_id", flat=True))


def _limit(queryset: QuerySet, request, field: str = "merchant_id") -> QuerySet:
    allowed = _allowed_merchant_ids(request)
    return queryset if allowed is None else queryset.filter(**{f"{field}__in": allowed})


class TenantAdmin(admin.ModelAdmin):
    list_select_related = ("merchant",)

    def get_queryset(self, request) -> QuerySet:
        queryset = self.model.unscoped.get_queryset()
        ordering = self.get_ordering(request)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return _limit(queryset, request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "unscoped"):
            kwargs["queryset"] = _limit(related.unscoped.all(), request)
        elif related._meta.label == "tenancy.Merchant":
            kwargs["queryset"] = _limit(related.objects.all(), request, field="id")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class TenantInline(admin.TabularInline):
    extra = 0

    def get_queryset(self, request) -> QuerySet:
        return _limit(self.model.unscoped.get_queryset(), request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if hasattr(related, "unscoped"):
            kwargs["queryset"] = _limit(related.unscoped.all(), request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
