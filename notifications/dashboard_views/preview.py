"""The template editor's live preview: an unsaved template rendered as it would be sent.

The form's sources are checked the way a save checks them (``check_sources``: syntax with its
line, unknown variables by name, what the sandbox refuses), then rendered in the sandbox and,
for email, put in the merchant's branded frame, like ``message_template_render`` does for a
saved version. The data is the sample data with the merchant's own name and brand, or a real
customer's or order's of this merchant, found in its scope only (through ``orders.selectors``).
The shopper links stay the samples' even then: a real unsubscribe link must not be one click
away in an editor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notifications import sandbox
from notifications.context import customer_context, merchant_sample_context, message_context
from notifications.layout import email_frame
from notifications.models import Category, Channel
from notifications.rendering import (
    RenderError,
    SmsSegments,
    check_sources,
    html_to_text,
    render_sources,
    sms_segments,
)
from notifications.sandbox import RenderTimeout
from notifications.schemas import EMAIL_PARTS, SMS_PARTS
from orders.selectors import customer_get_by_email, order_first_shipment, order_get_by_number
from postpurchase.tenancy.models import Merchant

PART_LABELS = {
    "subject": "Subject",
    "preheader": "Preheader",
    "html_body": "HTML body",
    "text_body": "Text body",
    "sms_body": "Text message",
}


@dataclass
class PreviewData:
    """The context to render with, and what it was made from, for the panel to say."""

    context: dict[str, Any]
    source: str = "Sample data"
    problem: str = ""  # a customer or order that was asked for and not found


@dataclass
class Preview:
    channel: str
    locale: str = ""
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    sms: str = ""
    segments: SmsSegments | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)  # (part label, message)
    data: PreviewData | None = None
    held: bool = False  # marketing email that would wait for the merchant's postal address


def preview_data(*, merchant: Merchant, customer_email: str = "", order_number: str = ""):
    """The sample context with the merchant's own name and brand, and the chosen order's (with
    its customer and first parcel) or customer's data instead of the samples. The lookups run
    on the scoped managers: another merchant's order is simply not found."""
    context = merchant_sample_context(merchant)
    if order_number:
        order = order_get_by_number(number=order_number)
        if order is None:
            return PreviewData(context, problem=f"No order {order_number} in your store.")
        shipment = order_first_shipment(order=order)
        real = message_context(
            merchant=merchant, customer=order.customer, order=order, shipment=shipment
        )
        return PreviewData({**context, **real}, source=f"Order {order.number}")
    if customer_email:
        customer = customer_get_by_email(email=customer_email)
        if customer is None:
            return PreviewData(context, problem=f"No customer {customer_email} in your store.")
        context["customer"] = customer_context(customer, merchant.currency)
        return PreviewData(context, source=f"Customer {customer.email}")
    return PreviewData(context)


def _checked(parts: dict[str, str], preview: Preview) -> bool:
    names = [part for part, source in parts.items() if source]
    found = check_sources([(parts[part], part == "html_body") for part in names])
    for part, problems in zip(names, found, strict=True):
        preview.problems.extend((PART_LABELS[part], str(problem)) for problem in problems)
    return not preview.problems


def _render(parts: dict[str, str], preview: Preview, *, category: str, context: dict) -> None:
    if preview.channel == Channel.SMS:
        [sms] = render_sources([(parts.get("sms_body", ""), False, "sms_body")], context)
        preview.sms = sms.strip()
        preview.segments = sms_segments(preview.sms)
        return
    own_text = bool(parts.get("text_body", "").strip())
    body_html, subject, preheader, *text = render_sources(
        [
            (parts.get("html_body", ""), True, "html_body"),
            (parts.get("subject", ""), False, "subject"),
            (parts.get("preheader", ""), False, "preheader"),
            *([(parts["text_body"], False, "text_body")] if own_text else []),
        ],
        context,
    )
    body_text = text[0] if own_text else html_to_text(body_html) if body_html.strip() else ""
    preview.subject = " ".join(subject.split())
    preview.preheader = " ".join(preheader.split())
    preview.html, preview.text = email_frame(
        body_html=body_html,
        body_text=body_text,
        subject=preview.subject,
        preheader=preview.preheader,
        locale=preview.locale,
        context=context,
        marketing=category == Category.MARKETING,
    )


def template_preview(
    *, channel: str, category: str, variant: dict[str, str], data: PreviewData
) -> Preview:
    """``variant`` (a locale and the channel's parts, as typed) checked and rendered with
    ``data``, in the render pool; what is wrong is in ``problems`` rather than raised."""
    preview = Preview(channel=channel, locale=variant.get("locale") or "en", data=data)
    address = (data.context.get("merchant") or {}).get("address") or ""
    preview.held = channel == Channel.EMAIL and category == Category.MARKETING
    preview.held = preview.held and not str(address).strip()
    names = SMS_PARTS if channel == Channel.SMS else EMAIL_PARTS
    parts = {name: variant.get(name) or "" for name in names}
    try:
        if _checked(parts, preview):
            _render(parts, preview, category=category, context=data.context)
    except RenderError as exc:
        preview.problems.append((PART_LABELS.get(exc.part, exc.part), str(exc.problem)))
    except RenderTimeout:
        seconds = sandbox.SAVE_SECONDS
        preview.problems.append(("Template", f"took longer than {seconds:g} s to render"))
    return preview
