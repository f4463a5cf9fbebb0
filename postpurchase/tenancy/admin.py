from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from postpurchase.tenancy.admin_base import _allowed_merchant_ids
from postpurchase.tenancy.models import ApiKey, Membership, Merchant, User


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("merchant",)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "currency", "is_active", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("is_active", "currency")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        allowed = _allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(id__in=allowed)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "merchant", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "merchant__name", "merchant__slug")
    autocomplete_fields = ("user", "merchant")

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user", "merchant")
        allowed = _allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(merchant_id__in=allowed)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are issued by the dashboard and `manage.py create_api_key` (which show the secret
    once); here operators can only look and revoke."""

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
