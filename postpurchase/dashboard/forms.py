"""Forms of the dashboard: they validate input and nothing else; services do the writing."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from django import forms
from django.contrib.auth.forms import AuthenticationForm

from orders.models import FulfillmentStatus
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import ApiKeyScope, Merchant
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.services import BRAND_FIELDS
from postpurchase.validation import check_currency


class EmailAuthenticationForm(AuthenticationForm):
    """Sign-in by email; addresses are stored lower-case, so the typed one is matched that way."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


def _country_codes() -> frozenset[str]:
    return frozenset(code for code in Locale.parse("en").territories if code.isalpha())


class BrandSettingsForm(forms.ModelForm):
    class Meta:
        model = Merchant
        fields = list(BRAND_FIELDS)
        labels = {
            "name": "Store name",
            "timezone": "Time zone",
            "default_locale": "Default language",
            "logo_url": "Logo URL",
            "sender_email": "Sender email",
            "support_url": "Support page URL",
        }
        help_texts = {
            "currency": "ISO 4217 code, e.g. USD or EUR.",
            "country": "ISO 3166-1 alpha-2 code, e.g. US; the default region for phone numbers.",
            "default_locale": "Language of messages and shopper pages, e.g. en or en-GB.",
            "sender_name": "The name shoppers see on emails from you.",
        }
        widgets = {
            "primary_colour": forms.TextInput(attrs={"type": "color"}),
            "accent_colour": forms.TextInput(attrs={"type": "color"}),
        }

    def clean_currency(self) -> str:
        try:
            return check_currency(self.cleaned_data["currency"])
        except ValueError:
            raise forms.ValidationError(
                "Enter an ISO 4217 currency code, such as USD or EUR.", code="invalid_currency"
            ) from None

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if country and country not in _country_codes():
            raise forms.ValidationError(
                "Enter an ISO 3166-1 alpha-2 country code, such as US or DE.",
                code="invalid_country",
            )
        return country

    def clean_default_locale(self) -> str:
        locale = self.cleaned_data["default_locale"].strip()
        try:
            Locale.parse(locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            raise forms.ValidationError(
                "Enter a language code, such as en, fr or en-GB.", code="invalid_locale"
            ) from None
        return locale

    def clean_primary_colour(self) -> str:
        return self.cleaned_data["primary_colour"].lower()

    def clean_accent_colour(self) -> str:
        return self.cleaned_data["accent_colour"].lower()


ORDER_STATUS_FILTERS = (
    ("", "All"),
    (FulfillmentStatus.UNFULFILLED, "Unfulfilled"),
    (FulfillmentStatus.PARTIALLY_FULFILLED, "Partially fulfilled"),
    (FulfillmentStatus.FULFILLED, "Fulfilled"),
    ("cancelled", "Cancelled"),
)


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(choices=ORDER_STATUS_FILTERS, required=False)
    q = forms.CharField(max_length=100, required=False, strip=True)


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="Say where the key is used, e.g. “Shopify sync”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scope = forms.ChoiceField(choices=ApiKeyScope.choices, initial=ApiKeyScope.WRITE)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's ``DomainError`` on the form: on its fields where the form has them, else
    above the form."""
    if not error.fields:
        form.add_error(None, error.message)
        return
    for name, problems in error.fields.items():
        target = name if name in form.fields else None
        for problem in problems:
            form.add_error(target, problem["message"])
