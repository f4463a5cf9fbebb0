"""The templates every merchant starts with, one or more per kind of message: ready to send,
and edited like any other (each install is version 1 of a template the merchant owns).

Status messages (shipped, out for delivery, delivered, delayed) come as an email and an SMS.
Order confirmation and status messages are transactional; feedback, relationship and
re-engagement messages are marketing (they need the shopper's consent and count toward the
frequency cap). Onboarding tips explain what was bought, so they are transactional too.
"""

from __future__ import annotations

import re
from datetime import datetime

from notifications.errors import NotificationsErrorCode
from notifications.models import MessageTemplate
from notifications.services import message_template_save
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant

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


def _button(url: str, label: str, *, when: str = "") -> str:
    """A button; with ``when`` (a Jinja test), only when it holds: a link the sender may not
    have (a tracking page before the parcel has one) leaves no broken button behind."""
    button = BUTTON.format(url=url, label=label)
    return f"{{% if {when} %}}{button}{{% endif %}}" if when else button


def _link_button(link: str, label: str) -> str:
    """A button to ``link`` (a shopper link variable) when the message has it."""
    return _button(f"{{{{ {link} }}}}", label, when=f"{link} is defined")


def _help_button(label: str) -> str:
    """The merchant's help page, else the order's tracking page, else nothing."""
    return (
        "{% if merchant.support_url %}"
        + _button("{{ merchant.support_url }}", label)
        + "{% elif tracking_url is defined %}"
        + _button("{{ tracking_url }}", label)
        + "{% endif %}"
    )


def _text(html: str) -> str:
    """The hand-made text part of a default's HTML, which is built from a few known pieces
    (paragraphs, a list, the order lines, a button): each piece written out as text, links in
    full. Giving it spares converting every message's HTML on send."""
    text = html.replace(LINES, LINES_TEXT)
    text = BUTTON_TEXT.sub(lambda m: f"{m.group(2)}: {m.group(1)}", text)
    text = text.replace("<li>", "- ").replace("</li>", "").replace("<ul>\n", "")
    text = text.replace("</ul>", "").replace("</p>", "\n").replace("<p>", "")
    text = re.sub(r"</?(strong|em|b|i)>", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _email(key, name, kind, category, subject, preheader, html) -> dict:
    variant = {
        "locale": "en",
        "subject": subject,
        "preheader": preheader,
        "html_body": html,
        "text_body": _text(html),
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


def _sms(key, name, kind, body) -> dict:
    return {
        "key": key,
        "name": name,
        "channel": "sms",
        "category": "transactional",
        "kind": kind,
        "default_locale": "en",
        "variants": [{"locale": "en", "sms_body": body}],
    }


DEFAULT_TEMPLATES: list[dict] = [
    _email(
        "order_confirmation",
        "Order confirmation",
        "transactional",
        "transactional",
        "Order {{ order.number }} confirmed",
        "Thanks for your order, {{ customer.first_name }}.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Thanks for your order {{ order.number }}. We're getting it ready and will let you "
        "know when it ships.</p>\n"
        + LINES
        + "\n"
        + _link_button("tracking_url", "View your order"),
    ),
    _email(
        "onboarding_tips",
        "Getting started",
        "onboarding",
        "transactional",
        "Getting the most from your {{ order.lines[0].title }}",
        "A few tips to start with.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your {{ order.lines[0].title }} should be with you by now. A few things that help "
        "from day one:</p>\n<ul>\n<li>Read the quick-start card in the box before first use.</li>\n"
        "<li>Keep the packaging for a couple of weeks, in case you need to return it.</li>\n"
        "<li>Questions? Our team is one reply away.</li>\n</ul>\n" + _help_button("Get help"),
    ),
    _email(
        "shipped",
        "Shipped",
        "status",
        "transactional",
        "Your order {{ order.number }} is on its way",
        "{{ shipment.carrier }} has your parcel.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Good news: order {{ order.number }} has shipped with {{ shipment.carrier }}"
        "{% if shipment.estimated_delivery %} and should arrive by "
        "{{ shipment.estimated_delivery.strftime('%A %d %B') }}{% endif %}.</p>\n"
        + _link_button("tracking_url", "Track your parcel"),
    ),
    _sms(
        "shipped_sms",
        "Shipped (SMS)",
        "status",
        "{{ merchant.name }}: order {{ order.number }} has shipped."
        "{% if tracking_url is defined %} Track it: {{ tracking_url }}{% endif %}",
    ),
    _email(
        "out_for_delivery",
        "Out for delivery",
        "status",
        "transactional",
        "Arriving today: order {{ order.number }}",
        "Your parcel is out for delivery.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your parcel from order {{ order.number }} is out for delivery with "
        "{{ shipment.carrier }} and should reach you today.</p>\n"
        + _link_button("tracking_url", "Follow it live"),
    ),
    _sms(
        "out_for_delivery_sms",
        "Out for delivery (SMS)",
        "status",
        "{{ merchant.name }}: your order {{ order.number }} is out for delivery today."
        "{% if tracking_url is defined %} {{ tracking_url }}{% endif %}",
    ),
    _email(
        "delivered",
        "Delivered",
        "status",
        "transactional",
        "Delivered: order {{ order.number }}",
        "Your parcel has arrived.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your order {{ order.number }} has been delivered. We hope you love it.</p>\n"
        "{% if return_url is defined %}"
        "<p>Something not right? You can start a return in a few clicks.</p>\n"
        + _button("{{ return_url }}", "Start a return")
        + "{% endif %}",
    ),
    _sms(
        "delivered_sms",
        "Delivered (SMS)",
        "status",
        "{{ merchant.name }}: order {{ order.number }} has been delivered. Enjoy!",
    ),
    _email(
        "delayed",
        "Delayed",
        "status",
        "transactional",
        "Order {{ order.number }} is running late",
        "We're sorry for the wait.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your parcel from order {{ order.number }} is taking longer than expected with "
        "{{ shipment.carrier }}"
        "{% if shipment.estimated_delivery %}; it should now arrive by "
        "{{ shipment.estimated_delivery.strftime('%A %d %B') }}{% endif %}. "
        "We're sorry for the wait and are keeping an eye on it.</p>\n"
        + _link_button("tracking_url", "See the latest"),
    ),
    _sms(
        "delayed_sms",
        "Delayed (SMS)",
        "status",
        "{{ merchant.name }}: sorry, order {{ order.number }} is delayed."
        "{% if tracking_url is defined %} Latest: {{ tracking_url }}{% endif %}",
    ),
    _email(
        "review_request",
        "Review request",
        "feedback",
        "marketing",
        "How is your {{ order.lines[0].title }}?",
        "Your review helps other shoppers.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>You've had your {{ order.lines[0].title }} for a little while now. Would you tell "
        "other shoppers what you think? It takes a minute.</p>\n"
        + _button("{{ survey_url }}", "Write a review"),
    ),
    _email(
        "survey_request",
        "Satisfaction survey",
        "feedback",
        "marketing",
        "One question about order {{ order.number }}",
        "How did we do?",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>How satisfied are you with your order {{ order.number }}? One click tells us, and "
        "we read every answer.</p>\n" + _button("{{ survey_url }}", "Answer the question"),
    ),
    _email(
        "thank_you",
        "Thank you",
        "relationship",
        "marketing",
        "Thank you, {{ customer.first_name }}",
        "It means a lot to us.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>{% if customer.orders_count > 1 %}Thank you for coming back: this is your order "
        "number {{ customer.orders_count }} with us.{% else %}Thank you for your first order "
        "with us.{% endif %} Small shops like {{ merchant.name }} grow because of shoppers like "
        "you.</p>\n",
    ),
    _email(
        "loyalty_invite",
        "Loyalty invitation",
        "relationship",
        "marketing",
        "You're invited to {{ merchant.name }} rewards",
        "Earn points on every order.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Join our rewards programme: earn points on every order, and a treat on your "
        "birthday.</p>\n" + _button("{{ loyalty_url }}", "See your rewards"),
    ),
    _email(
        "win_back",
        "Win-back",
        "re_engagement",
        "marketing",
        "We miss you, {{ customer.first_name }}",
        "Here's what's new since your last visit.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>It's been a while since your last order with {{ merchant.name }}. We've added a "
        "lot since then, and we'd love to see you again.</p>\n" + _help_button("See what's new"),
    ),
]


def message_templates_install_defaults(
    *, merchant: Merchant, by=None, now: datetime | None = None
) -> list[MessageTemplate]:
    """Give ``merchant`` every default template it has no template for (by key); templates it
    already has, edited or not, are left alone. Returns the templates created."""
    have = set(MessageTemplate.unscoped.filter(merchant=merchant).values_list("key", flat=True))
    created = []
    for payload in DEFAULT_TEMPLATES:
        if payload["key"] in have:
            continue
        try:
            created.append(
                message_template_save(merchant=merchant, payload=payload, by=by, now=now)
            )
        except DomainError as error:
            if error.code != NotificationsErrorCode.KEY_TAKEN:
                raise  # a default that does not pass its own checks is a bug
            # Another install (or the merchant) made this key meanwhile: theirs stands.
    return created
