"""The pieces the default templates and the journey blueprints' templates are built from: the
order-lines table, a button in the merchant's accent colour (shown only when its link is there),
the text part written out from the HTML, and the dicts ``message_template_save`` takes for an
email or an SMS template. Public, so notifications' defaults and journeys' blueprints share one
look without reaching into each other's private names."""

from __future__ import annotations

import re

LINES = """<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">
{% for line in order.lines %}<tr>
<td style="padding:6px 0;">{{ line.quantity }} × {{ line.title }}</td>
<td align="right" style="padding:6px 0;">{{ line.unit_price }} {{ order.currency }}</td>
</tr>{% endfor %}
<tr><td style="padding:6px 0;border-top:1px solid #e5e7eb;"><strong>Total</strong></td>
<td align="right" style="padding:6px 0;border-top:1px solid #e5e7eb;">
<strong>{{ order.total }} {{ order.currency }}</strong></td></tr>
</table>"""

BUTTON = (
    '<p><a href="{url}" style="display:inline-block;padding:12px 20px;background:'
    "{{{{ brand.accent_colour }}}};color:#ffffff;text-decoration:none;border-radius:6px;"
    '">{label}</a></p>'
)


LINES_TEXT = """{% for line in order.lines %}{{ line.quantity }} × {{ line.title }} \
- {{ line.unit_price }} {{ order.currency }}
{% endfor %}Total: {{ order.total }} {{ order.currency }}
"""

BUTTON_TEXT = re.compile(r'<p><a href="([^"]+)"[^>]*>([^<]+)</a></p>')


def button(url: str, label: str, *, when: str = "") -> str:
    """A button; with ``when`` (a Jinja test), only when it holds: a link the sender may not
    have (a tracking page before the parcel has one) leaves no broken button behind."""
    button = BUTTON.format(url=url, label=label)
    return f"{{% if {when} %}}{button}{{% endif %}}" if when else button


def link_button(link: str, label: str) -> str:
    """A button to ``link`` (a shopper link variable) when the message has it."""
    return button(f"{{{{ {link} }}}}", label, when=f"{link} is defined")


def help_button(label: str) -> str:
    """The merchant's help page, else the order's tracking page, else nothing."""
    return (
        "{% if merchant.support_url %}"
        + button("{{ merchant.support_url }}", label)
        + "{% elif tracking_url is defined %}"
        + button("{{ tracking_url }}", label)
        + "{% endif %}"
    )


def text_part(html: str) -> str:
    """The hand-made text part of a default's HTML, which is built from a few known pieces
    (paragraphs, a list, the order lines, a button): each piece written out as text, links in
    full. Giving it spares converting every message's HTML on send."""
    text = html.replace(LINES, LINES_TEXT)
    text = BUTTON_TEXT.sub(lambda m: f"{m.group(2)}: {m.group(1)}", text)
    text = text.replace("<li>", "- ").replace("</li>", "").replace("<ul>\n", "")
    text = text.replace("</ul>", "").replace("</p>", "\n").replace("<p>", "")
    text = re.sub(r"</?(strong|em|b|i)>", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def email_template(key, name, kind, category, subject, preheader, html) -> dict:
    """An email template's fields with one English variant, its text part made from the HTML."""
    variant = {
        "locale": "en",
        "subject": subject,
        "preheader": preheader,
        "html_body": html,
        "text_body": text_part(html),
    }
    return {
        "key": key,
        "name": name,
        "channel": "email",
        "category": category,
        "kind": kind,
        "default_locale": "en",
        "variants": [variant],
    }


def sms_template(key, name, kind, body) -> dict:
    """A transactional SMS template's fields with one English variant."""
    return {
        "key": key,
        "name": name,
        "channel": "sms",
        "category": "transactional",
        "kind": kind,
        "default_locale": "en",
        "variants": [{"locale": "en", "sms_body": body}],
    }
