"""Message templates: saving a new version, and rendering one for a shopper.

``message_template_save`` checks every part of every variant (syntax with its line, unknown
variables by name, what the sandbox refuses) before anything is written, then stores a new,
immutable version and makes it current. ``message_template_render`` picks the variant for the
shopper's locale and renders it in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from notifications.models import (
    Channel,
    MessageTemplate,
    MessageTemplateVariant,
    MessageTemplateVersion,
)
from notifications.rendering import check_source, html_to_text, render_source
from notifications.schemas import EMAIL_PARTS, SMS_PARTS, MessageTemplateIn
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import parse_payload

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
    _check_variants(data)
    now = now or timezone.now()
    with transaction.atomic():
        if template is None:
            template = _create(merchant, data, now)
        else:
            template = _lock(merchant, template)
            if data.channel != template.channel:
                raise DomainError(
                    ErrorCode.INVALID,
                    "A template's channel cannot change; make a new template instead.",
                    field="channel",
                )
            clash = MessageTemplate.unscoped.filter(merchant=merchant, key=data.key)
            if data.key != template.key and clash.exists():
                raise DomainError(
                    ErrorCode.CONFLICT, f"Another template has key {data.key!r}.", field="key"
                )
        last = template.versions.aggregate(n=Max("number"))["n"] or 0
        version = MessageTemplateVersion.unscoped.create(
            merchant=merchant, template=template, number=last + 1, created_at=now, created_by=by
        )
        MessageTemplateVariant.unscoped.bulk_create(
            MessageTemplateVariant(merchant=merchant, version=version, **variant.model_dump())
            for variant in data.variants
        )
        template.key, template.name, template.category = data.key, data.name, data.category
        template.default_locale, template.current_version = data.default_locale, version
        template.updated_at = now
        template.save()
    return template


def _create(merchant: Merchant, data: MessageTemplateIn, now: datetime) -> MessageTemplate:
    try:
        with transaction.atomic():
            return MessageTemplate.unscoped.create(
                merchant=merchant,
                key=data.key,
                name=data.name,
                channel=data.channel,
                category=data.category,
                default_locale=data.default_locale,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise DomainError(
            ErrorCode.CONFLICT, f"Another template has key {data.key!r}.", field="key"
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
    return RenderedMessage(
        version.pk,
        variant.locale,
        subject=" ".join(
            render_source(variant.subject, context, html=False, part="subject").split()
        ),
        preheader=" ".join(
            render_source(variant.preheader, context, html=False, part="preheader").split()
        ),
        html=html,
        text=text,
    )
