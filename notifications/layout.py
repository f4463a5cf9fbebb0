"""The branded frame every email is sent in: the merchant's logo and colours above, its name,
postal address, support links, preferences and (for marketing) unsubscribe links below; a
responsive single column that mail clients render, and the same footer in the text part.

The frame is our own template (``templates/emails/``), rendered by Django; the merchant's body,
already rendered and escaped in the sandbox, goes inside it. Brand values come from the plain
context and are checked again here: colours must be ``#rrggbb`` and links ``https``/``http``,
so a value from elsewhere cannot reach the markup as CSS or a ``javascript:`` link.
"""

from __future__ import annotations

import re
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
WEB_LINK = re.compile(r"^https?://\S+$")
DEFAULT_PRIMARY, DEFAULT_ACCENT = "#1f2937", "#2563eb"


def _colour(value: Any, default: str) -> str:
    return value if isinstance(value, str) and HEX_COLOUR.fullmatch(value) else default


def _link(value: Any) -> str:
    return value if isinstance(value, str) and WEB_LINK.fullmatch(value) else ""


def email_frame(
    *,
    body_html: str,
    body_text: str,
    subject: str,
    preheader: str,
    locale: str,
    context: dict[str, Any],
    marketing: bool,
) -> tuple[str, str]:
    """The email's HTML and text parts, each with the body inside the merchant's frame (no HTML
    part when the body has none)."""
    brand = context.get("brand") or {}
    merchant = context.get("merchant") or {}
    email = merchant.get("support_email")
    values = {
        "lang": (locale or "en").replace("_", "-"),
        "subject": subject,
        "preheader": preheader,
        "primary": _colour(brand.get("primary_colour"), DEFAULT_PRIMARY),
        "accent": _colour(brand.get("accent_colour"), DEFAULT_ACCENT),
        "logo_url": _link(brand.get("logo_url")),
        "store_name": merchant.get("name") or brand.get("sender_name") or "",
        "address": merchant.get("address") or "",
        "support_email": email if isinstance(email, str) and "@" in email else "",
        "support_url": _link(merchant.get("support_url")),
        "preferences_url": _link(context.get("preferences_url")),
        "unsubscribe_url": _link(context.get("unsubscribe_url")) if marketing else "",
    }
    html = (  # a template with a text body only makes a text-only email
        render_to_string("emails/layout.html", {**values, "body": mark_safe(body_html)})  # noqa: S308 - escaped in the sandbox
        if body_html.strip()
        else ""
    )
    text = render_to_string("emails/layout.txt", {**values, "body": body_text.strip()})
    return html, text.strip() + "\n"
