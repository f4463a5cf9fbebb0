"""The admin for users, merchants, memberships and API keys.

Who may do what across tenants is a platform decision, so these are written only by superusers
(platform operators). Other staff may at most look, at the rows of merchants they belong to:
merchants manage their own team and keys in the dashboard, where roles are enforced.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet

from postpurchase.tenancy.admin_base import LimitedChoicesMixin, allowed_merchant_ids
from postpurchase.tenancy.models import ApiKey, Membership, Merchant, User
from postpurchase.tenancy.services import merchant_deactivate, merchant_reactivate


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
        allowed = allowed_merchant_ids(request)
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
        allowed = allowed_merchant_ids(request)
        if allowed is None:
            return queryset
        members = Membership.objects.filter(merchant_id__in=allowed).values("user_id")
        return queryset.filter(id__in=members)


@admin.register(Merchant)
class MerchantAdmin(SuperuserWritesOnly, admin.ModelAdmin):
    """Turning ``is_active`` off here, or the "Deactivate" action, goes through
    ``merchant_deactivate``: the merchant's due messages are cancelled and its live journeys
    paused, not merely flagged."""

    list_display = ("name", "slug", "timezone", "currency", "is_active", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("is_active", "currency")
    prepopulated_fields = {"slug": ("name",)}
    actions = ["deactivate_merchants", "reactivate_merchants"]

    def save_model(self, request, obj, form, change) -> None:
        wanted_active = obj.is_active
        if change and "is_active" in form.changed_data:
            obj.is_active = not wanted_active  # the services make the switch, and its effects
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            if wanted_active:
                merchant_reactivate(merchant=obj)
            else:
                self._deactivated_message(request, obj, merchant_deactivate(merchant=obj))

    @admin.action(description="Deactivate: cancel due messages, pause live journeys")
    def deactivate_merchants(self, request, queryset) -> None:
        for merchant in queryset.filter(is_active=True):
            self._deactivated_message(request, merchant, merchant_deactivate(merchant=merchant))

    @admin.action(description="Reactivate (paused journeys stay paused)")
    def reactivate_merchants(self, request, queryset) -> None:
        for merchant in queryset.filter(is_active=False):
            merchant_reactivate(merchant=merchant)
            self.message_user(
                request,
                f"{merchant.name} is active again; resume its journeys from its dashboard.",
                messages.SUCCESS,
            )

    def _deactivated_message(self, request, merchant: Merchant, stopped: dict[str, int]) -> None:
        counts = ", ".join(f"{name}: {count}" for name, count in stopped.items() if count)
        self.message_user(
            request,
            f"{merchant.name} is deactivated ({counts or 'nothing was pending'}).",
            messages.WARNING,
        )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        allowed = allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(id__in=allowed)


@admin.register(Membership)
class MembershipAdmin(SuperuserWritesOnly, admin.ModelAdmin):
    list_display = ("user", "merchant", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email", "merchant__name", "merchant__slug")
    autocomplete_fields = ("user", "merchant")

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("user", "merchant")
        allowed = allowed_merchant_ids(request)
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
        allowed = allowed_merchant_ids(request)
        return queryset if allowed is None else queryset.filter(merchant_id__in=allowed)
