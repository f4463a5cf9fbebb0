"""Admin base classes for tenant-owned models.

The admin is for platform operators. Superusers see every merchant's rows through the explicitly
named ``unscoped`` manager; any other staff user sees only the rows of merchants they belong to,
and every related-row choice in their forms (select, autocomplete, raw id, many-to-many) is
limited the same way, so a form cannot be posted with another merchant's row in it, and a raw-id
field given another merchant's id shows no name or link for it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db.models import Model, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.text import Truncator


def allowed_merchant_ids(request) -> list[int] | None:
    """``None`` means every merchant (a superuser)."""
    if request.user.is_superuser:
        return None
    return list(request.user.memberships.values_list("merchant_id", flat=True))


def _limit(queryset: QuerySet, request, field: str = "merchant_id") -> QuerySet:
    allowed = allowed_merchant_ids(request)
    return queryset if allowed is None else queryset.filter(**{f"{field}__in": allowed})


def _has_merchant_field(model: type[Model]) -> bool:
    try:
        model._meta.get_field("merchant")
    except FieldDoesNotExist:
        return False
    return True


def limit_related_choices(queryset: QuerySet, request) -> QuerySet:
    """The rows of ``queryset``'s model that this request's user may pick in a form.

    Non-superusers may pick merchants they belong to, rows of those merchants, and users who are
    members of them. A related model with no merchant of its own offers nothing (fail closed):
    give it its own rule here before an admin links to it.
    """
    from postpurchase.tenancy.models import Membership, Merchant, User

    allowed = allowed_merchant_ids(request)
    if allowed is None:
        return queryset
    model = queryset.model
    if model is Merchant:
        return queryset.filter(id__in=allowed)
    if model is User:
        members = Membership.objects.filter(merchant_id__in=allowed).values("user_id")
        return queryset.filter(id__in=members)
    if _has_merchant_field(model):
        return queryset.filter(merchant_id__in=allowed)
    return queryset.none()


class LimitedRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id widget that names the row next to the id only if the form field offers it.

    Django's widget looks the label up through the model's default manager (``unscoped``), so
    ``?customer=<another merchant's id>`` on an add page would print that customer's name and a
    link. This one looks it up in the form field's queryset, which ``ModelChoiceField`` keeps in
    the widget's ``choices`` (and updates for ``limit_choices_to``).
    """

    def label_and_url_for_value(self, value) -> tuple[str, str]:
        choices = getattr(self, "choices", None)
        if choices is None:
            raise ImproperlyConfigured(
                "LimitedRawIdWidget works only as the widget of a ModelChoiceField."
            )
        queryset = choices.queryset
        key = self.rel.get_related_field().name
        try:
            obj = queryset.get(**{key: value})
        except (ValueError, TypeError, ValidationError, queryset.model.DoesNotExist):
            return "", ""
        meta = obj._meta
        try:
            url = reverse(
                f"{self.admin_site.name}:{meta.app_label}_{meta.model_name}_change", args=(obj.pk,)
            )
        except NoReverseMatch:
            url = ""  # no admin for the related model
        return Truncator(obj).words(14), url


def _refuse_unlimited_raw_id_widget(formfield, db_field):
    """Fail closed if a raw-id widget other than ours got in (``formfield_overrides``, a
    ``widget=`` argument, or a many-to-many raw id, whose widget would need its own lookup)."""
    widget = getattr(formfield, "widget", None)
    if isinstance(widget, ForeignKeyRawIdWidget) and not isinstance(widget, LimitedRawIdWidget):
        raise ImproperlyConfigured(
            f"{db_field.model.__name__}.{db_field.name}: a tenant admin's raw-id field must use "
            "LimitedRawIdWidget (many-to-many raw ids are not supported), or it would show "
            "other merchants' rows."
        )
    return formfield


class LimitedChoicesMixin:
    """Limits every relation field's queryset; ``get_field_queryset`` is the one hook Django's
    admin calls for every widget (select, radio, autocomplete, raw id, many-to-many) and the
    form field validates the posted id against it. Raw-id widgets also look up the label they
    show within that queryset (``LimitedRawIdWidget``)."""

    def get_field_queryset(self, db, db_field, request) -> QuerySet:
        queryset = super().get_field_queryset(db, db_field, request)
        if queryset is None:
            # Tenant models declare ``unscoped`` first, so it is their default manager.
            queryset = db_field.remote_field.model._default_manager.using(db)
        return limit_related_choices(queryset, request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The same choice Django makes (autocomplete wins over raw id), with our widget.
        if (
            "widget" not in kwargs
            and db_field.name in self.raw_id_fields
            and db_field.name not in self.get_autocomplete_fields(request)
        ):
            kwargs["widget"] = LimitedRawIdWidget(
                db_field.remote_field, self.admin_site, using=kwargs.get("using")
            )
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return _refuse_unlimited_raw_id_widget(formfield, db_field)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        return _refuse_unlimited_raw_id_widget(formfield, db_field)


class TenantModelForm(forms.ModelForm):
    """Refuses a row that points at another merchant's row (a customer, an order, or, in an
    inline, the parent), whoever posts it: a cross-merchant link would show one merchant's data
    in another's pages."""

    def clean(self):
        cleaned_data = super().clean()
        merchant = cleaned_data.get("merchant") or getattr(self.instance, "merchant", None)
        if merchant is None:
            return cleaned_data
        for name, value in list(cleaned_data.items()):
            if name == "merchant" or not isinstance(value, Model):
                continue
            if _has_merchant_field(type(value)) and value.merchant_id != merchant.pk:
                self.add_error(name, f"This belongs to another merchant than {merchant}.")
        return cleaned_data


class TenantAdmin(LimitedChoicesMixin, admin.ModelAdmin):
    form = TenantModelForm
    list_select_related = ("merchant",)

    def get_queryset(self, request) -> QuerySet:
        queryset = self.model.unscoped.get_queryset()
        ordering = self.get_ordering(request)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return _limit(queryset, request)


class TenantInline(LimitedChoicesMixin, admin.TabularInline):
    form = TenantModelForm
    extra = 0

    def get_queryset(self, request) -> QuerySet:
        return _limit(self.model.unscoped.get_queryset(), request)


class ReadOnlyTenantAdmin(TenantAdmin):
    """For rows that only their services may write: operators look, nobody edits here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
