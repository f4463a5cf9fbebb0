"""Message templates: saving a new version, and rendering one for a shopper.

``message_template_save`` checks every part of every variant (syntax with its line, unknown
variables by name, what the sandbox refuses) before anything is written, then stores a new,
immutable version and makes it current. ``message_template_render`` picks the variant for the
shopper's locale and renders it in the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from notifications import sandbox
from notifications.errors import NotificationsErrorCode
from notifications.layout import email_frame
from notifications.models import (
    Category,
    Channel,
    MessageTemplate,
    MessageTemplateVariant,
    MessageTemplateVersion,
)
from notifications.rendering import RenderError, check_sources, html_to_text, render_many
from notifications.sandbox import RenderTimeout
from notifications.schemas import EMAIL_PARTS, SMS_PARTS, MessageTemplateIn
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import parse_payload

HTML_PARTS = frozenset({"html_body"})


def _check_variants(data: MessageTemplateIn) -> None:
    """Every part of every variant checked in one job of the render pool (see
    ``check_sources``); the problems by field, the first one in the message."""
    parts = EMAIL_PARTS if data.channel == Channel.EMAIL else SMS_PARTS
    fields = [
        (f"variants[{i}].{part}", getattr(variant, part), part in HTML_PARTS)
        for i, variant in enumerate(data.variants)
        for part in parts
    ]
    try:
        found = check_sources([(source, html) for _, source, html in fields])
    except RenderTimeout:
        raise DomainError(
            NotificationsErrorCode.TEMPLATE_TOO_SLOW,
            f"Checking this template took longer than {sandbox.SAVE_SECONDS:g} s; make it simpler.",
            field="variants",
        ) from None
    errors: dict[str, list[dict[str, str]]] = {}
    for (field, _, _), problems in zip(fields, found, strict=True):
        for problem in problems:
            errors.setdefault(field, []).append(
                {"code": NotificationsErrorCode.TEMPLATE_ERROR, "message": str(problem)}
            )
    if errors:
        first_field, first = next(iter(errors.items()))
        message = f"{first_field}: {first[0]['message']}"
        raise DomainError(NotificationsErrorCode.TEMPLATE_ERROR, message, fields=errors)


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
            template = MessageTemplate(merchant=merchant, channel=data.channel, created_at=now)
        else:
            template = _lock(merchant, template)
            if data.channel != template.channel:
                raise DomainError(
                    NotificationsErrorCode.CHANNEL_IMMUTABLE,
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
            NotificationsErrorCode.KEY_TAKEN,
            f"Another template has key {template.key!r}.",
            field="key",
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


@lru_cache(maxsize=2048)
def _variants(version_id: int) -> dict[str, MessageTemplateVariant]:
    """A version's variants by normalised locale. Versions never change once written, so each
    process reads them once (a database id is never reused, even after a rollback)."""
    rows = MessageTemplateVariant.unscoped.filter(version_id=version_id)
    return {variant.locale.lower().replace("_", "-"): variant for variant in rows}


def variant_for(version: MessageTemplateVersion, locale: str, default: str):
    """The variant for ``locale``: the exact one (``fr-CA``), else one of its language
    (``fr``), else the template's default locale's."""
    variants = _variants(version.pk)
    wanted = (locale or "").lower().replace("_", "-")
    language = wanted.split("-")[0]
    for candidate in (wanted, language):
        if candidate in variants:
            return variants[candidate]
    by_language = [v for key, v in sorted(variants.items()) if key.split("-")[0] == language]
    if language and by_language:
        return by_language[0]
    return variants[default.lower().replace("_", "-")]


@dataclass(frozen=True)
class RenderRequest:
    """One message to render: ``template``'s ``version`` (the current one by default) for
    ``locale`` with ``context`` (plain data: see ``notifications.rendering.VARIABLES``)."""

    template: MessageTemplate
    context: dict[str, Any]
    locale: str = ""
    version: MessageTemplateVersion | None = None


def _parts(request: RenderRequest) -> tuple[MessageTemplateVariant, list[tuple[str, bool, str]]]:
    version = request.version or request.template.current_version
    if version is None:
        key = request.template.key
        raise DomainError(
            NotificationsErrorCode.TEMPLATE_UNSAVED, f"Template {key!r} has no saved version."
        )
    variant = variant_for(version, request.locale, request.template.default_locale)
    if request.template.channel == Channel.SMS:
        return variant, [(variant.sms_body, False, "sms_body")]
    own_text = bool(variant.text_body.strip())
    return variant, [
        (variant.html_body, True, "html_body"),
        (variant.subject, False, "subject"),
        (variant.preheader, False, "preheader"),
        *([(variant.text_body, False, "text_body")] if own_text else []),
    ]


def _finish(request: RenderRequest, variant, rendered: list[str]) -> RenderedMessage:
    """The rendered parts made into the message: the text part (made from the HTML when the
    template has none) and the merchant's frame."""
    template = request.template
    if template.channel == Channel.SMS:
        return RenderedMessage(variant.version_id, variant.locale, sms=rendered[0].strip())
    html, subject, preheader, *text = rendered
    text = text[0] if text else html_to_text(html) if html.strip() else ""
    subject, preheader = " ".join(subject.split()), " ".join(preheader.split())
    html, text = email_frame(
        body_html=html,
        body_text=text,
        subject=subject,
        preheader=preheader,
        locale=variant.locale,
        context=request.context,
        marketing=template.category == Category.MARKETING,
    )
    return RenderedMessage(
        variant.version_id,
        variant.locale,
        subject=subject,
        preheader=preheader,
        html=html,
        text=text,
    )


def message_templates_render(
    *, requests: list[RenderRequest]
) -> list[RenderedMessage | RenderError | DomainError]:
    """Each request rendered, all in one job of the render pool: for each, the message, or
    why it could not be rendered (a ``RenderError`` naming the part, line and variable; a
    ``DomainError`` for a template with no saved version)."""
    results: list[Any] = [None] * len(requests)
    jobs, chosen = [], []
    for i, request in enumerate(requests):
        try:
            variant, parts = _parts(request)
        except DomainError as error:
            results[i] = error
            continue
        jobs.append((parts, request.context))
        chosen.append((i, variant))
    for (i, variant), rendered in zip(chosen, render_many(jobs), strict=True):
        if isinstance(rendered, RenderError):
            results[i] = rendered
        else:
            results[i] = _finish(requests[i], variant, rendered)
    return results


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
    request = RenderRequest(template, context, locale, version)
    [result] = message_templates_render(requests=[request])
    if isinstance(result, Exception):
        raise result
    return result


# The outbox (message_send and the test sends) lives in notifications/outbox.py; its entry
# points are re-exported here, where callers look for a service.
from notifications.outbox import (  # noqa: E402
    SendRequest,
    channel_send_test,
    message_send,
    message_send_batch,
    message_template_send_test,
    sending_policy,
)

__all__ = [
    "SendRequest",
    "channel_send_test",
    "message_send",
    "message_send_batch",
    "message_template_render",
    "message_template_save",
    "message_template_send_test",
    "message_templates_render",
    "sending_policy",
    "variant_for",
]
