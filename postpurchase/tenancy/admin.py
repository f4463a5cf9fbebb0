"""The admin for users, merchants, memberships and API keys.

Who may do what across tenants is a platform decision, so these are written only by superusers
(platform operators). Other staff may at most look, at the rows of merchants they belong to:
merchants manage their own team and keys in the dashboard, where roles are enforced.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet

from postpurchase.tenancy.admin_base import LimitedChoicesMixin, _allowed_merchant_ids
from postpurchase.tenancy.models import ApiKey, Membership, Merchant, User


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class SuperuserWritesOnly(LimitedChoicesMixin):
    """Add, change and delete for superusers only, whatever model permissions a staff user holds;
    viewing still needs the view (or change) permission and is limited by ``get_queryset``.
    ``*args`` because inlines' ``has_add_permission`` also takes the parent object."""

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


class MembershipInline(SuperuserWritesOnly, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("merchant",)

    def get_queryset(self, request) -> QuerySet:
        queryset = super().get_queryset(request).select_related("merchant")
        allowed = _allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(merchant_id__in=allowed)


@admin.register(User)
class UserAdmin(SuperuserWritesOnly, BaseUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ("email",)
    list_display = ("email", "full_name", "is_staff", "is_superuser", "is_active", "last_login")
    search_fields = ("email", "full_name")
    list_filter = ("is_staff", "is_superuser", "is_active")
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def get_queryset(self, request) -> QuerySet:
        queryset = super().get_queryset(request)
        allowed = _allowed_merchant_ids(request)
        if allowed is None:
            return queryset
        members = Membership.objects.filter(merchant_id__in=allowed).values("user_id")
        return queryset.filter(id__in=members)


@admin.register(Merchant)
class MerchantAdmin(SuperuserWritesOnly, admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "currency", "is_active", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("is_active", "currency")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        allowed = _allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(id__in=allowed)


@admin.register(Membership)
class MembershipAdmin(SuperuserWritesOnly, admin.ModelAdmin):
    list_display = ("user", "merchant", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "merchant__name", "merchant__slug")
    autocomplete_fields = ("user", "merchant")

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user", "merchant")
        allowed = _allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(merchant_id__in=allowed)


@admin.register(ApiKey)
class ApiKeyAdmin(SuperuserWritesOnly, admin.ModelAdmin):
    """Keys are issued by the dashboard and `manage.py create_api_key` (which show the secret
    once); here superusers can only look and revoke."""

    list_display = (
        "name",
        "merchant",
        "prefix",
        "scope",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("scope",)
    search_fields = ("name", "prefix", "merchant__slug")
    readonly_fields = (
        "merchant",
        "name",
        "prefix",
        "secret_hash",
        "scope",
        "created_by",
        "created_at",
        "last_used_at",
    )

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("merchant")
        allowed = _allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(merchant_id__in=allowed)
