"""Forms of the dashboard: they validate input and nothing else; services do the writing."""

from __future__ import annotations

import warnings

from babel import Locale, UnknownLocaleError
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from PIL import Image

from postpurchase.dashboard import throttling
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import ApiKeyScope, Merchant
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.services import BRAND_FIELDS
from postpurchase.validation import check_currency

THROTTLED_SIGN_IN = "Too many sign-in attempts. For your account’s safety, try again in %(wait)s."
THROTTLED_PASSWORD_RESET = "Too many password reset requests. Try again in %(wait)s."  # noqa: S105


def minutes_text(minutes: int) -> str:
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class SignInThrottleMixin:
    """Counts each sign-in attempt, per account typed and per client address, before the
    password is checked (``throttling.sign_in_attempt``); over a limit the form refuses with
    the error code ``throttled`` whatever the password. A sign-in that succeeds gives its
    attempt back. For ``AuthenticationForm`` subclasses, which get the request from the view."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages = {**self.error_messages, "throttled": THROTTLED_SIGN_IN}
        self.retry_after = 0

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is None or not self.cleaned_data.get("password") or self.request is None:
            return super().clean()  # nothing to check, so nothing to count
        attempt = throttling.sign_in_attempt(
            request=self.request, username=username, now=throttling.clock()
        )
        if attempt.throttled:
            self.retry_after = attempt.retry_after
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"wait": minutes_text(attempt.retry_after_minutes)},
            )
        cleaned_data = super().clean()  # raises when the password is wrong: the attempt stays
        throttling.attempt_give_back(attempt)
        return cleaned_data

    @property
    def is_throttled(self) -> bool:
        return self.has_error(NON_FIELD_ERRORS, "throttled")


class EmailAuthenticationForm(SignInThrottleMixin, AuthenticationForm):
    """Sign-in by email; addresses are stored lower-case, so the typed one is matched that way."""

    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class AdminSignInForm(SignInThrottleMixin, AdminAuthenticationForm):
    """``/admin/``'s sign-in (staff only), under the same limits as the dashboard's."""


def _country_codes() -> frozenset[str]:
    return frozenset(code for code in Locale.parse("en").territories if code.isalpha())


# Pillow's name for each image format a logo may be, and the extension it is stored under. "MPO"
# is what Pillow calls a JPEG carrying extra images (phone and camera photos): browsers and mail
# clients show it as the JPEG it starts with.
LOGO_FORMATS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp", "GIF": "gif"}
LOGO_MAX_BYTES = 1024 * 1024
LOGO_MAX_SIDE = 4096  # pixels, either way


class LogoField(forms.ImageField):
    """An uploaded logo: at most ``LOGO_MAX_BYTES`` and ``LOGO_MAX_SIDE`` pixels wide and high,
    and a PNG, JPEG, WebP or GIF by its content (Pillow reads it), whatever its name or declared
    type say. The name's extension is not checked: the file is stored under one of ours
    (``BrandSettingsForm.clean_logo``).

    Nothing here decodes the pixels: Pillow reads the header (format and size) and ``verify()``
    checks the file's structure. A small file can still declare a huge image, which whoever
    decodes it later would pay for, so the size in pixels is refused from the header."""

    default_validators = []
    default_error_messages = {
        "invalid_image": "Upload a PNG, JPEG, WebP or GIF image; this file is not one.",
        "too_large": "The logo must be 1 MB or smaller; this file is %(size)s.",
        "invalid_format": "Upload a PNG, JPEG, WebP or GIF image; this file is %(format)s.",
        "too_many_pixels": (
            f"The logo must be at most {LOGO_MAX_SIDE}×{LOGO_MAX_SIDE} pixels; "
            "this image is %(size)s pixels."
        ),
        "decompression_bomb": (
            f"The logo must be at most {LOGO_MAX_SIDE}×{LOGO_MAX_SIDE} pixels; "
            "this image has too many pixels to open safely."
        ),
    }

    def to_python(self, data):
        # The size first, so an oversized file is refused before Pillow reads it.
        if data is not None and getattr(data, "size", 0) > LOGO_MAX_BYTES:
            raise forms.ValidationError(
                self.error_messages["too_large"],
                code="too_large",
                params={"size": f"{data.size / (1024 * 1024):.1f} MB"},
            )
        upload = self._read_header(data)
        if upload is None:
            return None
        if upload.image.format not in LOGO_FORMATS:
            raise forms.ValidationError(
                self.error_messages["invalid_format"],
                code="invalid_format",
                params={"format": upload.image.format or "of an unknown kind"},
            )
        width, height = upload.image.size
        if width > LOGO_MAX_SIDE or height > LOGO_MAX_SIDE:
            raise forms.ValidationError(
                self.error_messages["too_many_pixels"],
                code="too_many_pixels",
                params={"size": f"{width}×{height}"},
            )
        return upload

    def _read_header(self, data):
        """``ImageField``'s check, with Pillow's decompression-bomb warning (an image over
        ``Image.MAX_IMAGE_PIXELS``) raised like its error (over twice that), so both refuse the
        file with their own message rather than "not an image"."""
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                return super().to_python(data)
            except forms.ValidationError as error:
                bomb = (Image.DecompressionBombWarning, Image.DecompressionBombError)
                if isinstance(error.__cause__, bomb):
                    raise forms.ValidationError(
                        self.error_messages["decompression_bomb"], code="decompression_bomb"
                    ) from error.__cause__
                raise


class BrandSettingsForm(forms.ModelForm):
    logo = LogoField(
        required=False,
        label="Logo file",
        help_text=(
            f"PNG, JPEG, WebP or GIF, up to 1 MB and {LOGO_MAX_SIDE}×{LOGO_MAX_SIDE} pixels; "
            "shown instead of the logo URL."
        ),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the logo file")

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
            "postal_address": "Postal address",
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
            "postal_address": forms.Textarea(attrs={"rows": 3}),
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

    def clean_logo(self):
        logo = self.cleaned_data["logo"]
        if "logo" in self.changed_data and logo:
            # Stored under the merchant's slug and the format Pillow found, never the name the
            # browser sent; the storage adds a suffix when the name is taken.
            logo.name = f"{self.instance.slug}.{LOGO_FORMATS[logo.image.format]}"
        return logo

    def clean(self):
        cleaned_data = super().clean()
        if cleaned_data.get("remove_logo") and "logo" in self.changed_data:
            self.add_error("remove_logo", "Upload a new logo or remove it, not both.")
        elif cleaned_data.get("remove_logo"):
            cleaned_data["logo"] = False  # a model FileField's "clear" (None means "no change")
        return cleaned_data

    def brand_changes(self) -> dict:
        """The settings for ``merchant_brand_update``: a new logo file is passed on, a removed
        one as ``None``, an unchanged one not at all."""
        changes = {name: self.cleaned_data[name] for name in BRAND_FIELDS if name != "logo"}
        if self.cleaned_data.get("remove_logo"):
            changes["logo"] = None
        elif "logo" in self.changed_data:
            changes["logo"] = self.cleaned_data["logo"]
        return changes


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
