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
from functools import lru_cache
from typing import Any

from django.template.loader import render_to_string
from django.utils.html import escape
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
        _framed("emails/layout.html", values, body_html, html=True) if body_html.strip() else ""
    )
    text = _framed("emails/layout.txt", values, body_text.strip(), html=False)
    return html, text.strip() + "\n"


# The frame is the same for every message of a merchant but for a few values. It is rendered
# once per brand with markers where those go, and each message fills the markers in one pass
# (so nothing a value contains is read as a marker).
PER_MESSAGE = ("subject", "preheader", "preferences_url", "unsubscribe_url", "body")
MARKER = "ppframe{}mark"
MARKERS = re.compile(r"ppframe(subject|preheader|preferences_url|unsubscribe_url|body)mark")


@lru_cache(maxsize=256)
def _frame(template_name: str, brand: tuple, present: tuple) -> str:
    values = dict(brand)
    for name, there in zip(PER_MESSAGE, present, strict=True):
        values[name] = mark_safe(MARKER.format(name)) if there else ""  # noqa: S308 - a marker
    return render_to_string(template_name, values)


def _framed(template_name: str, values: dict[str, Any], body: str, *, html: bool) -> str:
    brand = tuple((k, v) for k, v in values.items() if k not in PER_MESSAGE)
    if not all(isinstance(v, str) for _, v in brand):  # odd data: render it afresh
        context = {**values, "body": mark_safe(body) if html else body}  # noqa: S308 - sandboxed
        return render_to_string(template_name, context)
    filled = {**values, "body": body}
    present = tuple(bool(filled[name]) for name in PER_MESSAGE)
    frame = _frame(template_name, brand, present)

    def value(match: re.Match) -> str:
        name = match.group(1)
        # the body is already escaped (rendered in the sandbox); the others are plain text
        return filled[name] if name == "body" or not html else escape(filled[name])

    return MARKERS.sub(value, frame)
