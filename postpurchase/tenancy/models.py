"""Users, merchants (the tenants), memberships with roles, and API keys."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone as django_tz

from postpurchase.tenancy.permissions import Role


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in to the dashboard (merchant staff) or the admin (operators)."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Platform operator: may sign in to the Django admin."
    )
    date_joined = models.DateTimeField(default=django_tz.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #RRGGBB.")
country_validator = RegexValidator(r"^[A-Z]{2}$", "Enter an ISO 3166-1 alpha-2 code, e.g. US.")


def currency_validator(value: str) -> None:
    from postpurchase.validation import check_currency

    try:
        if check_currency(value) != value:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_currency") from None


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
)


class Merchant(models.Model):
    """A tenant: one online store and its brand."""

    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", choices=timezone_choices)
    currency = models.CharField(
        max_length=3, default="USD", validators=[currency_validator], help_text="ISO 4217 code."
    )
    country = models.CharField(
        max_length=2,
        blank=True,
        validators=[country_validator],
        help_text="ISO 3166-1 alpha-2; the default region for phones.",
    )
    default_locale = models.CharField(max_length=16, default="en")
    logo = models.ImageField(upload_to="merchant-logos/", blank=True)
    logo_url = models.URLField(blank=True, help_text="Used when no logo file is uploaded.")
    primary_colour = models.CharField(max_length=7, default="#1f2937", validators=[hex_colour])
    accent_colour = models.CharField(max_length=7, default="#2563eb", validators=[hex_colour])
    sender_name = models.CharField(max_length=100, blank=True)
    sender_email = models.EmailField(blank=True)
    support_email = models.EmailField(blank=True)
    support_url = models.URLField(blank=True)
    postal_address = models.TextField(
        blank=True, max_length=500, help_text="Printed in every email's footer, as the law asks."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def brand_logo_url(self) -> str:
        return self.logo.url if self.logo else self.logo_url


class Membership(models.Model):
    """A user's role in a merchant. What each role may do is defined in ``permissions.py``."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=django_tz.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="membership_user_merchant")
        ]
        ordering = ["merchant__name"]

    def __str__(self) -> str:
        return f"{self.user} · {self.merchant} ({self.role})"


class ApiKeyScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiKey(models.Model):
    """An integrator's key. Only its public prefix and a SHA-256 hash of the secret are stored."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=ApiKeyScope.choices, default=ApiKeyScope.WRITE)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=django_tz.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        if scope == ApiKeyScope.READ:
            return True
        return self.scope == ApiKeyScope.WRITE
