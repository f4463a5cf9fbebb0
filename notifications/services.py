"""Message templates: saving a new version, and rendering one for a shopper.

``message_template_save`` checks every part of every variant (syntax with its line, unknown
variables by name, what the sandbox refuses) before anything is written, then stores a new,
immutable version and makes it current. ``message_template_render`` picks the variant for the
shopper's locale and renders it in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.html import escape

from notifications import delivery
from notifications.context import merchant_context
from notifications.layout import email_frame
from notifications.links import shopper_links
from notifications.models import (
    CapMode,
    Category,
    Channel,
    Message,
    MessageEvent,
    MessageStatus,
    MessageTemplate,
    MessageTemplateVariant,
    MessageTemplateVersion,
    SendingPolicy,
    Suppression,
)
from notifications.preferences import muted_kinds
from notifications.quiet_hours import next_opening
from notifications.rendering import RenderError, check_source, html_to_text, render_source
from notifications.sandbox import SAVE_SECONDS, RenderTimeout, time_limit
from notifications.schemas import EMAIL_PARTS, SMS_PARTS, MessageTemplateIn
from orders.models import Customer
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import check_email, parse_payload, to_e164

HTML_PARTS = frozenset({"html_body"})


def _check_variants(data: MessageTemplateIn) -> None:
    parts = EMAIL_PARTS if data.channel == Channel.EMAIL else SMS_PARTS
    errors: dict[str, list[dict[str, str]]] = {}
    for i, variant in enumerate(data.variants):
        for part in parts:
            source = getattr(variant, part)
            for problem in check_source(source, html=part in HTML_PARTS) if source else []:
                errors.setdefault(f"variants[{i}].{part}", []).append(
                    {"code": "template", "message": str(problem)}
                )
    if errors:
        first_field, first = next(iter(errors.items()))
        raise DomainError(ErrorCode.INVALID, f"{first_field}: {first[0]['message']}", fields=errors)


def message_template_save(
    *,
    merchant: Merchant,
    payload: MessageTemplateIn | dict,
    template: MessageTemplate | None = None,
    by=None,
    now: datetime | None = None,
) -> MessageTemplate:
    """Create a template (``template`` None) or save a new version of ``template``: its
    variants checked, stored as version n + 1 and made current, in one transaction. A
    template's channel cannot change once it exists."""
    data = parse_payload(MessageTemplateIn, payload)
    try:
        with time_limit(SAVE_SECONDS):
            _check_variants(data)
    except RenderTimeout:
        raise DomainError(
            ErrorCode.INVALID,
            f"Checking this template took longer than {SAVE_SECONDS:g} s; make it simpler.",
            field="variants",
        ) from None
    now = now or timezone.now()
    with transaction.atomic():
        if template is None:
            template = MessageTemplate(merchant=merchant, channel=data.channel, created_at=now)
        else:
            template = _lock(merchant, template)
            if data.channel != template.channel:
                raise DomainError(
                    ErrorCode.INVALID,
                    "A template's channel cannot change; make a new template instead.",
                    field="channel",
                )
        template.key, template.name, template.category = data.key, data.name, data.category
        template.kind, template.default_locale = data.kind, data.default_locale
        template.updated_at = now
        _save_keyed(template)  # the unique key decides between two saves at once
        last = template.versions.aggregate(n=Max("number"))["n"] or 0
        version = MessageTemplateVersion.unscoped.create(
            merchant=merchant, template=template, number=last + 1, created_at=now, created_by=by
        )
        MessageTemplateVariant.unscoped.bulk_create(
            MessageTemplateVariant(merchant=merchant, version=version, **variant.model_dump())
            for variant in data.variants
        )
        template.current_version = version
        template.save(update_fields=["current_version"])
    return template


def _save_keyed(template: MessageTemplate) -> None:
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise DomainError(
            ErrorCode.CONFLICT, f"Another template has key {template.key!r}.", field="key"
        ) from None


def _lock(merchant: Merchant, template: MessageTemplate) -> MessageTemplate:
    """The template's row, locked, so two saves number their versions one after the other."""
    try:
        return MessageTemplate.unscoped.select_for_update().get(merchant=merchant, pk=template.pk)
    except MessageTemplate.DoesNotExist:
        raise DomainError(ErrorCode.NOT_FOUND, "No such template.") from None


# --- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMessage:
    """A message's content as it will be sent, and what it was made from."""

    version_id: int
    locale: str
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    sms: str = ""


def variant_for(version: MessageTemplateVersion, locale: str, default: str):
    """The variant for ``locale``: the exact one (``fr-CA``), else one of its language
    (``fr``), else the template's default locale's."""
    variants = {
        variant.locale.lower().replace("_", "-"): variant for variant in version.variants.all()
    }
    wanted = (locale or "").lower().replace("_", "-")
    language = wanted.split("-")[0]
    for candidate in (wanted, language):
        if candidate in variants:
            return variants[candidate]
    by_language = [v for key, v in sorted(variants.items()) if key.split("-")[0] == language]
    if language and by_language:
        return by_language[0]
    return variants[default.lower().replace("_", "-")]


def message_template_render(
    *,
    template: MessageTemplate,
    context: dict[str, Any],
    locale: str = "",
    version: MessageTemplateVersion | None = None,
) -> RenderedMessage:
    """Render ``version`` (the current one by default) for ``locale`` with ``context`` (plain
    data: see ``notifications.rendering.VARIABLES``). Raises ``RenderError`` when the data
    lacks something the template uses."""
    version = version or template.current_version
    if version is None:
        raise DomainError(ErrorCode.INVALID, f"Template {template.key!r} has no saved version.")
    variant = variant_for(version, locale, template.default_locale)
    if template.channel == Channel.SMS:
        sms = render_source(variant.sms_body, context, html=False, part="sms_body")
        return RenderedMessage(version.pk, variant.locale, sms=sms.strip())
    html = render_source(variant.html_body, context, html=True, part="html_body")
    text = (
        render_source(variant.text_body, context, html=False, part="text_body")
        if variant.text_body.strip()
        else html_to_text(html)
        if html.strip()
        else ""
    )
    subject = " ".join(render_source(variant.subject, context, html=False, part="subject").split())
    preheader = " ".join(
        render_source(variant.preheader, context, html=False, part="preheader").split()
    )
    html, text = email_frame(
        body_html=html,
        body_text=text,
        subject=subject,
        preheader=preheader,
        locale=variant.locale,
        context=context,
        marketing=template.category == Category.MARKETING,
    )
    return RenderedMessage(
        version.pk, variant.locale, subject=subject, preheader=preheader, html=html, text=text
    )


# --- the outbox -------------------------------------------------------------------------------

COUNTED = (  # what counts toward the frequency cap: everything but what never went
    MessageStatus.QUEUED,
    MessageStatus.DEFERRED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
    MessageStatus.BOUNCED,
    MessageStatus.COMPLAINED,
)


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str = ""
    deferred_until: datetime | None = None


def sending_policy(merchant: Merchant) -> SendingPolicy:
    """The merchant's sending rules (the defaults when it has set none)."""
    found = SendingPolicy.unscoped.filter(merchant=merchant).first()
    return found or SendingPolicy(merchant=merchant)


def _address(channel: str, customer: Customer | None, to: str) -> str:
    if to:
        return to.strip().lower() if channel == Channel.EMAIL else to.strip()
    if customer is None:
        return ""
    return customer.email.lower() if channel == Channel.EMAIL else customer.phone


def _decide(
    *,
    merchant: Merchant,
    template: MessageTemplate,
    customer: Customer | None,
    address: str,
    policy: SendingPolicy,
    now: datetime,
) -> Decision:
    """Whether a message goes now, waits, or does not go: address, suppression, consent (for
    marketing), the frequency cap (marketing), then sending hours."""
    if not address:
        return Decision(MessageStatus.SUPPRESSED, "no_address")
    suppressed = Suppression.unscoped.filter(
        merchant=merchant, channel=template.channel, address=address
    ).first()
    if suppressed is not None:
        return Decision(MessageStatus.SUPPRESSED, f"suppressed_{suppressed.reason}")
    marketing = template.category == Category.MARKETING
    if marketing:
        channel = "email" if template.channel == Channel.EMAIL else "sms"
        if customer is None or not getattr(customer, f"{channel}_marketing_consent"):
            return Decision(MessageStatus.SUPPRESSED, "no_consent")
        if template.kind in muted_kinds(merchant=merchant, customer_id=customer.pk):
            return Decision(MessageStatus.SUPPRESSED, "topic_off")
    capped = marketing and customer is not None and policy.marketing_cap
    taken = _marketing_times(merchant, customer, policy, now) if capped else []
    quiet = template.channel == Channel.SMS or policy.quiet_hours_for_email
    if template.category == Category.TRANSACTIONAL and policy.transactional_anytime:
        quiet = False
    window = timedelta(hours=policy.cap_window_hours)
    skip = policy.cap_mode == CapMode.SKIP
    if capped and skip and not _fits(now, taken, window, policy.marketing_cap):
        return Decision(MessageStatus.SUPPRESSED, "frequency_cap")
    due, reason = now, ""
    # The earliest moment both the cap and the sending hours allow: the cap can only open when
    # a counted message leaves a window, the hours only at their start.
    openings = sorted({t + window for t in taken if t + window > now})
    zone = _zone(customer, merchant)
    for _ in range(2 * len(openings) + 4):
        if capped and not _fits(due, taken, window, policy.marketing_cap):
            later = [t for t in openings if t > due]
            if not later:  # pragma: no cover - the last opening always fits
                break
            due, reason = later[0], "frequency_cap"
            continue
        opening = next_opening(due, zone, policy.send_from, policy.send_until)
        if not quiet or opening is None:
            break
        due, reason = opening, reason or "quiet_hours"
    if due > now:
        return Decision(MessageStatus.DEFERRED, reason, due)
    return Decision(MessageStatus.QUEUED)


def _marketing_times(
    merchant: Merchant, customer: Customer, policy: SendingPolicy, now: datetime
) -> list[datetime]:
    """When the customer's counted marketing messages go (went, or wait to go): a deferred
    message counts at the time it is deferred to, any other at its creation."""
    since = now - timedelta(hours=policy.cap_window_hours)
    rows = Message.unscoped.filter(
        Q(status=MessageStatus.DEFERRED, deferred_until__gt=since)
        | (~Q(status=MessageStatus.DEFERRED) & Q(created_at__gt=since)),
        merchant=merchant,
        customer=customer,
        category=Category.MARKETING,
        status__in=COUNTED,
    ).values_list("status", "deferred_until", "created_at")
    return sorted(
        deferred if status == MessageStatus.DEFERRED and deferred else created
        for status, deferred, created in rows
    )


def _fits(at: datetime, taken: list[datetime], window: timedelta, cap: int) -> bool:
    """Whether one more message at ``at`` keeps every window of that length at ``cap`` or
    fewer: fewer than ``cap`` others within a window's length either side of it."""
    return sum(1 for t in taken if at - window < t < at + window) < cap


def _zone(customer: Customer | None, merchant: Merchant) -> ZoneInfo:
    """The shopper's time zone, else the merchant's."""
    for name in (customer.timezone if customer is not None else "", merchant.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def message_send(
    *,
    merchant: Merchant,
    template: MessageTemplate,
    customer: Customer | None,
    context: dict[str, Any],
    idempotency_key: str,
    to: str = "",
    now: datetime | None = None,
) -> Message:
    """The only way a message goes out. Decides (address, suppression, consent, frequency cap,
    sending hours), renders, and writes the ``Message`` with its first ``MessageEvent``, in one
    transaction. A second call with the same ``idempotency_key`` returns the first message and
    writes nothing. Calls for one customer are serialised on the customer's row, so two sends at
    once cannot both slip under the cap."""
    if not idempotency_key or len(idempotency_key) > 300:
        message = "An idempotency key of 1 to 300 characters is required."
        raise DomainError(ErrorCode.INVALID, message, field="idempotency_key")
    if template.merchant_id != merchant.pk:
        raise DomainError(ErrorCode.NOT_FOUND, "No such template.", field="template")
    to = _clean_to(template.channel, to, merchant.country)
    now = now or timezone.now()
    policy = sending_policy(merchant)
    if customer is not None:  # the caller's links win; these are signed for this shopper
        links = shopper_links(merchant=merchant, customer_id=customer.pk, channel=template.channel)
        context = {**links, **context}
    # Rendered before any row is locked: a slow template holds no other send back.
    rendered = _render_for(template, context, customer.locale if customer else "")
    with transaction.atomic():
        if customer is not None:
            customer = (
                Customer.unscoped.select_for_update(no_key=True)
                .filter(merchant=merchant, pk=customer.pk)
                .first()
            )
            if customer is None:
                raise DomainError(ErrorCode.NOT_FOUND, "No such customer.", field="customer")
        existing = Message.unscoped.filter(
            merchant=merchant, idempotency_key=idempotency_key
        ).first()
        if existing is not None:
            return existing
        address = _address(template.channel, customer, to)
        decision = _decide(
            merchant=merchant,
            template=template,
            customer=customer,
            address=address,
            policy=policy,
            now=now,
        )
        message = Message(
            merchant=merchant,
            customer=customer,
            template=template,
            template_version=template.current_version,
            idempotency_key=idempotency_key,
            channel=template.channel,
            category=template.category,
            kind=template.kind,
            to=address,
            status=decision.status,
            reason=decision.reason,
            deferred_until=decision.deferred_until,
            next_attempt_at=decision.deferred_until,
            created_at=now,
            updated_at=now,
        )
        if decision.status != MessageStatus.SUPPRESSED:
            _fill(message, rendered)
        if message.status == MessageStatus.QUEUED:  # claimed here, handed over after commit
            message.claim, message.next_attempt_at = delivery.new_claim(), now + delivery.LEASE
        try:
            with transaction.atomic():
                message.save(force_insert=True)
        except IntegrityError:
            # The same key, sent at once without a customer to serialise on: the first wins.
            return Message.unscoped.get(merchant=merchant, idempotency_key=idempotency_key)
        _written(message, now)
    return message


def _written(message: Message, now: datetime) -> None:
    """A new message's first timeline entry, and its hand-off after commit when it is due."""
    MessageEvent.unscoped.create(
        merchant_id=message.merchant_id,
        message=message,
        status=message.status,
        reason=message.reason,
        detail=message.detail,
        occurred_at=now,
    )
    if message.claim:
        delivery.enqueue_after_commit([message.pk], message.claim, message.merchant_id)


def _clean_to(channel: str, to: str, region: str) -> str:
    """An explicit recipient, as stored: a lower-cased email or an E.164 number (a national
    one read in the merchant's country)."""
    if not to:
        return ""
    try:
        email = channel == Channel.EMAIL
        cleaned = check_email(to).lower() if email else to_e164(to, region or None)
    except ValueError as exc:
        raise DomainError(ErrorCode.INVALID, str(exc), field="to") from None
    if len(cleaned) > 254:
        raise DomainError(ErrorCode.INVALID, "at most 254 characters", field="to")
    return cleaned


def _render_for(
    template: MessageTemplate, context: dict[str, Any], locale: str
) -> RenderedMessage | str:
    """The rendered message, or why it could not be rendered."""
    try:
        return message_template_render(template=template, context=context, locale=locale)
    except (RenderError, DomainError) as exc:
        return str(exc)


def _fill(message: Message, rendered: RenderedMessage | str) -> None:
    if isinstance(rendered, str):  # the template failed on this data
        message.status, message.reason, message.detail = MessageStatus.FAILED, "render", rendered
        message.deferred_until = message.next_attempt_at = None
        return
    message.locale = rendered.locale
    message.subject, message.preheader = rendered.subject, rendered.preheader
    message.html, message.text, message.sms = rendered.html, rendered.text, rendered.sms


# --- test sends from the dashboard ------------------------------------------------------------


def _test_message(
    *, merchant: Merchant, channel: str, to: str, now: datetime, by=None, **content: Any
) -> Message:
    """A test goes to a staff member's own address, through the same hand-off as any message,
    but none of a shopper's rules (consent, caps, sending hours) apply to it: only suppression."""
    to = _clean_to(channel, to, merchant.country)
    if not to:
        raise DomainError(ErrorCode.INVALID, "Give an address to send the test to.", field="to")
    who = getattr(by, "email", "") or "the dashboard"
    with transaction.atomic():
        message = Message(
            merchant=merchant,
            idempotency_key=f"test:{delivery.new_claim()}",
            channel=channel,
            category=Category.TRANSACTIONAL,
            to=to,
            status=MessageStatus.QUEUED,
            reason="test",
            detail=f"Test sent by {who}.",
            claim=delivery.new_claim(),
            next_attempt_at=now + delivery.LEASE,
            created_at=now,
            updated_at=now,
            **content,
        )
        suppressed = Suppression.unscoped.filter(merchant=merchant, channel=channel, address=to)
        reason = suppressed.values_list("reason", flat=True).first()
        if reason:
            message.status, message.reason, message.claim = (
                MessageStatus.SUPPRESSED,
                f"suppressed_{reason}",
                "",
            )
            message.next_attempt_at = None
        message.save(force_insert=True)
        _written(message, now)
    return message


def message_template_send_test(
    *,
    merchant: Merchant,
    template: MessageTemplate,
    to: str,
    context: dict[str, Any] | None = None,
    locale: str = "",
    by=None,
    now: datetime | None = None,
) -> Message:
    """Send a template's current version, rendered with ``context`` (the sample data when
    none), to a staff member. Raises ``RenderError`` when the template fails on that data."""
    from notifications.rendering import sample_context

    if template.merchant_id != merchant.pk:
        raise DomainError(ErrorCode.NOT_FOUND, "No such template.", field="template")
    rendered = message_template_render(
        template=template, context=context or sample_context(), locale=locale
    )
    return _test_message(
        merchant=merchant,
        channel=template.channel,
        to=to,
        now=now or timezone.now(),
        by=by,
        template=template,
        template_version_id=rendered.version_id,
        kind=template.kind,
        locale=rendered.locale,
        subject=f"[Test] {rendered.subject}" if template.channel == Channel.EMAIL else "",
        preheader=rendered.preheader,
        html=rendered.html,
        text=rendered.text,
        sms=rendered.sms,
    )


def channel_send_test(
    *, merchant: Merchant, channel: str, to: str, by=None, now: datetime | None = None
) -> Message:
    """Check a channel's settings end to end: a short message through the merchant's provider
    (or the platform's). Its status in the message log says whether the provider took it."""
    if channel not in Channel.values:
        raise DomainError(ErrorCode.INVALID, "No such channel.", field="channel")
    line = f"This is a test message from {merchant.name}: your {channel} settings work."
    content: dict[str, Any]
    if channel == Channel.EMAIL:
        subject = f"[Test] {merchant.name} email settings"
        context = merchant_context(merchant)
        html, text = email_frame(
            body_html=f"<p>{escape(line)}</p>",
            body_text=line,
            subject=subject,
            preheader="",
            locale=merchant.default_locale,
            context=context,
            marketing=False,
        )
        content = {"subject": subject, "html": html, "text": text}
    else:
        content = {"sms": line}
    return _test_message(
        merchant=merchant, channel=channel, to=to, now=now or timezone.now(), by=by, **content
    )
