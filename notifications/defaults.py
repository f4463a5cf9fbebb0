"""The templates every merchant starts with, one or more per kind of message: ready to send,
and edited like any other (each install is version 1 of a template the merchant owns).

Status messages (shipped, out for delivery, delivered, delayed) come as an email and an SMS.
Order confirmation and status messages are transactional; feedback, relationship and
re-engagement messages are marketing (they need the shopper's consent and count toward the
frequency cap). Onboarding tips explain what was bought, so they are transactional too.
"""

from __future__ import annotations

from datetime import datetime

from notifications.errors import NotificationsErrorCode
from notifications.models import MessageTemplate
from notifications.services import message_template_save
from notifications.template_kit import (
    LINES,
    button,
    email_template,
    help_button,
    link_button,
    sms_template,
)
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant

DEFAULT_TEMPLATES: list[dict] = [
    email_template(
        "order_confirmation",
        "Order confirmation",
        "transactional",
        "transactional",
        "Order {{ order.number }} confirmed",
        "Thanks for your order, {{ customer.first_name }}.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Thanks for your order {{ order.number }}. We're getting it ready and will let you "
        "know when it ships.</p>\n" + LINES + "\n" + link_button("tracking_url", "View your order"),
    ),
    email_template(
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
        "<li>Questions? Our team is one reply away.</li>\n</ul>\n" + help_button("Get help"),
    ),
    email_template(
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
        + link_button("tracking_url", "Track your parcel"),
    ),
    sms_template(
        "shipped_sms",
        "Shipped (SMS)",
        "status",
        "{{ merchant.name }}: order {{ order.number }} has shipped."
        "{% if tracking_url is defined %} Track it: {{ tracking_url }}{% endif %}",
    ),
    email_template(
        "out_for_delivery",
        "Out for delivery",
        "status",
        "transactional",
        "Arriving today: order {{ order.number }}",
        "Your parcel is out for delivery.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your parcel from order {{ order.number }} is out for delivery with "
        "{{ shipment.carrier }} and should reach you today.</p>\n"
        + link_button("tracking_url", "Follow it live"),
    ),
    sms_template(
        "out_for_delivery_sms",
        "Out for delivery (SMS)",
        "status",
        "{{ merchant.name }}: your order {{ order.number }} is out for delivery today."
        "{% if tracking_url is defined %} {{ tracking_url }}{% endif %}",
    ),
    email_template(
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
        + button("{{ return_url }}", "Start a return")
        + "{% endif %}",
    ),
    sms_template(
        "delivered_sms",
        "Delivered (SMS)",
        "status",
        "{{ merchant.name }}: order {{ order.number }} has been delivered. Enjoy!",
    ),
    email_template(
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
        + link_button("tracking_url", "See the latest"),
    ),
    sms_template(
        "delayed_sms",
        "Delayed (SMS)",
        "status",
        "{{ merchant.name }}: sorry, order {{ order.number }} is delayed."
        "{% if tracking_url is defined %} Latest: {{ tracking_url }}{% endif %}",
    ),
    email_template(
        "review_request",
        "Review request",
        "feedback",
        "marketing",
        "How is your {{ order.lines[0].title }}?",
        "Your review helps other shoppers.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>You've had your {{ order.lines[0].title }} for a little while now. Would you tell "
        "other shoppers what you think? It takes a minute.</p>\n"
        + button("{{ survey_url }}", "Write a review"),
    ),
    email_template(
        "survey_request",
        "Satisfaction survey",
        "feedback",
        "marketing",
        "One question about order {{ order.number }}",
        "How did we do?",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>How satisfied are you with your order {{ order.number }}? One click tells us, and "
        "we read every answer.</p>\n" + button("{{ survey_url }}", "Answer the question"),
    ),
    email_template(
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
    email_template(
        "loyalty_invite",
        "Loyalty invitation",
        "relationship",
        "marketing",
        "You're invited to {{ merchant.name }} rewards",
        "Earn points on every order.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Join our rewards programme: earn points on every order, and a treat on your "
        "birthday.</p>\n" + button("{{ loyalty_url }}", "See your rewards"),
    ),
    email_template(
        "win_back",
        "Win-back",
        "re_engagement",
        "marketing",
        "We miss you, {{ customer.first_name }}",
        "Here's what's new since your last visit.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>It's been a while since your last order with {{ merchant.name }}. We've added a "
        "lot since then, and we'd love to see you again.</p>\n" + help_button("See what's new"),
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
