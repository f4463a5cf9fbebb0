"""Message templates, kept in versions: a save never changes what an earlier message was sent
with, and every message will record the version it used."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from postpurchase.tenancy.scoping import TenantModel


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class Category(models.TextChoices):
    """Transactional messages (an order confirmation, a delivery notice) need no marketing
    consent; marketing ones do, and count toward the frequency cap."""

    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


class MessageTemplate(TenantModel):
    """A merchant's template for one channel. Its content lives in versions; ``current_version``
    is what new messages use. ``key`` names it for journeys and defaults (``order_confirmation``).
    """

    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    default_locale = models.CharField(max_length=16, default="en")
    current_version = models.ForeignKey(
        "MessageTemplateVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="message_template_key"),
        ]

    def __str__(self) -> str:
        return self.name


class MessageTemplateVersion(TenantModel):
    """One saved state of a template, never changed afterwards: its variants, one per locale."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number}"


class MessageTemplateVariant(TenantModel):
    """A version's content in one locale. Email uses subject, preheader, HTML and text (the text
    is made from the HTML when left empty); SMS uses ``sms_body``. All are Jinja2 sources."""

    version = models.ForeignKey(
        MessageTemplateVersion, on_delete=models.CASCADE, related_name="variants"
    )
    locale = models.CharField(max_length=16)
    subject = models.TextField(blank=True)
    preheader = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    text_body = models.TextField(blank=True)
    sms_body = models.TextField(blank=True)

    class Meta:
        ordering = ["version", "locale"]
        constraints = [
            models.UniqueConstraint(fields=["version", "locale"], name="template_variant_locale"),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.locale}"
