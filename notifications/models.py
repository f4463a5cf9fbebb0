"""Message templates, kept in versions: a save never changes what an earlier message was sent
with, and every message will record the version it used."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils import timezone

from postpurchase.crypto import EncryptedTextField
from postpurchase.tenancy.scoping import TenantModel


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class Category(models.TextChoices):
    """Transactional messages (an order confirmation, a delivery notice) need no marketing
    consent; marketing ones do, and count toward the frequency cap."""

    TRANSACTIONAL = "transactional", "Transactional"
    MARKETING = "marketing", "Marketing"


class Kind(models.TextChoices):
    """What a message is for, in the merchant's words (the dashboard groups by it)."""

    TRANSACTIONAL = "transactional", "Transactional"
    ONBOARDING = "onboarding", "Onboarding"
    STATUS = "status", "Order status"
    FEEDBACK = "feedback", "Feedback"
    RELATIONSHIP = "relationship", "Relationship"
    RE_ENGAGEMENT = "re_engagement", "Re-engagement"


class MessageTemplate(TenantModel):
    """A merchant's template for one channel. Its content lives in versions; ``current_version``
    is what new messages use. ``key`` names it for journeys and defaults (``order_confirmation``).
    """

    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TRANSACTIONAL)
    default_locale = models.CharField(max_length=16, default="en")
    current_version = models.ForeignKey(
        "MessageTemplateVersion",
        on_delete=models.SET_NULL,
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


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DEFERRED = "deferred", "Deferred"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    OPENED = "opened", "Opened"
    CLICKED = "clicked", "Clicked"
    BOUNCED = "bounced", "Bounced"
    COMPLAINED = "complained", "Complained"
    FAILED = "failed", "Failed"
    SUPPRESSED = "suppressed", "Suppressed"
    CANCELLED = "cancelled", "Cancelled"  # never sent: its merchant was deactivated


class Message(TenantModel):
    """The outbox: one row per message ``message_send`` decided on, whatever it decided. The
    caller's ``idempotency_key`` is unique per merchant, so a repeated call finds this row and
    sends nothing more. The content is kept as rendered, with the template version it used."""

    customer = models.ForeignKey(
        "orders.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    template_version = models.ForeignKey(
        MessageTemplateVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    idempotency_key = models.CharField(max_length=300)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    to = models.CharField(max_length=254, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    subject = models.TextField(blank=True)
    preheader = models.TextField(blank=True)
    html = models.TextField(blank=True)
    text = models.TextField(blank=True)
    sms = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, blank=True)
    status = models.CharField(max_length=20, choices=MessageStatus.choices)
    reason = models.CharField(max_length=100, blank=True)  # why deferred, suppressed or failed
    detail = models.TextField(blank=True)
    deferred_until = models.DateTimeField(null=True, blank=True)
    # The hand-off to the channel (see notifications/delivery.py): when the message is next due
    # an attempt (a deferral's end, a retry, or the end of a claim's lease), the claim a send
    # task must hold, and how many attempts were made.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=40, blank=True)  # "anymail:postmark", "twilio", …
    provider_message_id = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "idempotency_key"], name="message_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "category", "created_at"], name="message_cap_window"),
            models.Index(fields=["merchant", "status", "created_at"], name="message_status"),
            # what retention looks for: the oldest messages (docs/retention.md)
            models.Index(fields=["created_at"], name="message_created"),
            models.Index(
                fields=["next_attempt_at"],
                name="message_due",
                condition=models.Q(status__in=["queued", "deferred", "sending"]),
            ),
            # a merchant's messages claimed for a hand-off (delivery.messages_deliver_pending)
            models.Index(
                fields=["merchant", "id"],
                name="message_claimed",
                condition=~models.Q(claim=""),
            ),
            models.Index(
                fields=["provider_message_id"],
                name="message_provider_id",
                condition=~models.Q(provider_message_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to or '?'} ({self.status})"


class MessageEvent(TenantModel):
    """A change of a message's status, with why: the message's timeline."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=MessageStatus.choices)
    reason = models.CharField(max_length=100, blank=True)
    detail = models.TextField(blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    # The provider's id for a delivery report, so a report sent twice is recorded once.
    provider_event_id = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "provider_event_id"],
                name="message_event_provider_id",
                condition=~models.Q(provider_event_id=""),
            ),
        ]


class SuppressionReason(models.TextChoices):
    BOUNCE = "bounce", "Hard bounce"
    COMPLAINT = "complaint", "Spam complaint"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
    SMS_STOP = "sms_stop", "Replied STOP"
    MANUAL = "manual", "Added by the merchant"


class Suppression(TenantModel):
    """An address the merchant must not send to on a channel, whatever the message."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254)  # a lower-cased email, or an E.164 number
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "channel", "address"], name="suppression_address"
            ),
        ]


class InboundSms(TenantModel):
    """A shopper's text we acted on, once per merchant by Twilio's ``MessageSid``: a signed
    request captured and sent again (a START replayed after STOP) finds its SID here and does
    nothing. The sender's number is not kept (nothing to erase)."""

    message_sid = models.CharField(max_length=64)
    keyword = models.CharField(max_length=10, blank=True)  # stop, start, help or ""
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "message_sid"], name="inbound_sms_once"),
        ]


class CapMode(models.TextChoices):
    DEFER = "defer", "Defer until the window allows"
    SKIP = "skip", "Skip the message"


class SendingPolicy(TenantModel):
    """A merchant's rules for when messages go out. Without a row, the defaults apply."""

    send_from = models.TimeField(default=time(8))
    send_until = models.TimeField(default=time(21))
    quiet_hours_for_email = models.BooleanField(
        default=False, help_text="Hold emails outside sending hours too (SMS always are)."
    )
    transactional_anytime = models.BooleanField(
        default=True, help_text="Transactional messages ignore sending hours."
    )
    marketing_cap = models.PositiveIntegerField(
        default=3,
        help_text="Marketing messages per customer per window, across channels (0: no cap).",
    )
    cap_window_hours = models.PositiveIntegerField(default=24)
    cap_mode = models.CharField(max_length=10, choices=CapMode.choices, default=CapMode.DEFER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="sending_policy_per_merchant"),
        ]


class ChannelSettings(TenantModel):
    """How a merchant's messages leave: its own email provider (any anymail backend by name) and
    Twilio account, each with credentials encrypted at rest. Left empty, the platform's defaults
    apply. The sender identity (name, address, reply-to) is the merchant's brand settings."""

    email_provider = models.CharField(max_length=40, blank=True)  # "" : the platform's
    email_credentials = EncryptedTextField(blank=True)  # JSON: the backend's settings
    # The basic-auth "user:password" the merchant's own ESP puts in its delivery-report URL
    # (/webhooks/email/<esp>/m/<merchant-slug>/): made when the merchant chooses its provider.
    email_webhook_secret = EncryptedTextField(blank=True)
    twilio_account_sid = models.CharField(max_length=64, blank=True)
    twilio_auth_token = EncryptedTextField(blank=True)
    sms_from_number = models.CharField(max_length=16, blank=True)  # E.164
    sms_messaging_service_sid = models.CharField(max_length=64, blank=True)
    sms_help_text = models.CharField(max_length=320, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant"], name="channel_settings_per_merchant"),
        ]
        indexes = [
            models.Index(fields=["sms_from_number"], name="channel_settings_sms_from"),
        ]

    @property
    def has_own_sms(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)


class ContactPreference(TenantModel):
    """The topics (kinds of marketing message) a shopper switched off in the preference
    centre. Consent per channel lives on the customer."""

    customer = models.OneToOneField(
        "orders.Customer", on_delete=models.CASCADE, related_name="contact_preference"
    )
    muted_kinds = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)


# --- sending on the platform's providers (issue 11: the platform's reputation) ----------------


class SenderDomain(TenantModel):
    """A domain a merchant's From address is on, and whether the merchant proved it may send
    from it through the platform's email provider: a TXT record with its token, or the
    platform's DKIM key published under the domain. Until then its mail goes from the
    platform's address (``notifications.sender``)."""

    class Method(models.TextChoices):
        TXT = "txt", "TXT record"
        DKIM = "dkim", "DKIM key"

    domain = models.CharField(max_length=253)  # lower-case, IDNA (xn--) form
    verified_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=10, choices=Method.choices, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    check_detail = models.TextField(blank=True)  # what the last check found, in words

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "domain"], name="sender_domain_per_merchant"
            ),
        ]


class VerifiedPhone(TenantModel):
    """A phone number a team member proved they hold (a code texted, then typed back): test
    texts may go to it. Until ``verified_at`` it holds the pending code's hash."""

    phone = models.CharField(max_length=16)  # E.164
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    codes_sent = models.PositiveSmallIntegerField(default=0)  # since codes_window_start
    codes_window_start = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # wrong codes for the pending one
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["phone"]
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "phone"], name="verified_phone_per_merchant"
            ),
        ]


class PlatformSendCount(TenantModel):
    """How many messages a merchant handed to the platform's provider on one channel on one
    day (the merchant's local day): the daily quota's counter, taken before a send."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "channel", "day"], name="platform_send_count_per_day"
            ),
        ]
