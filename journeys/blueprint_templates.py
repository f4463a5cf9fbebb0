"""The message templates the journey blueprints send beyond the defaults
(``notifications.defaults.DEFAULT_TEMPLATES``), in the same payload format and made with the same
helpers: each email has a hand-written text part, each SMS fits one GSM-7 segment.

They name only documented variables (``notifications.rendering.VARIABLES``), and only those a
journey send has: the customer, merchant and brand always; the order when the trigger names one
(onboarding, reviews). A link the merchant may not have set (``merchant.support_url``) sits in an
``{% if %}``, so a message never fails on an empty setting. ``survey_url`` and ``loyalty_url``
are filled by the feedback and loyalty features, like the defaults that use them.
"""

from __future__ import annotations

from notifications.template_kit import button, email_template, link_button, sms_template


def _support_button(label: str) -> str:
    support = button("{{ merchant.support_url }}", label)
    return "{% if merchant.support_url %}" + support + "{% endif %}"


BLUEPRINT_TEMPLATES: list[dict] = [
    email_template(
        "order_delayed",
        "Order not shipped yet",
        "status",
        "transactional",
        "Order {{ order.number }} is taking longer to leave us",
        "We're sorry for the wait.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your order {{ order.number }} is taking us longer to send than we promised. We're "
        "sorry for the wait: it is at the top of our list, and we'll tell you as soon as it is "
        "on its way.</p>\n" + link_button("tracking_url", "See your order"),
    ),
    sms_template(
        "order_delayed_sms",
        "Order not shipped yet (SMS)",
        "status",
        "{{ merchant.name }}: sorry, order {{ order.number }} is taking longer to ship than we "
        "promised. We'll text you when it's on its way.",
    ),
    sms_template(
        "order_confirmation_sms",
        "Order confirmation (SMS)",
        "transactional",
        "{{ merchant.name }}: thanks for your order {{ order.number }}! We'll let you know as "
        "soon as it ships.",
    ),
    email_template(
        "onboarding_setup",
        "Set-up guide",
        "onboarding",
        "transactional",
        "Setting up your {{ order.lines[0].title }}",
        "A few minutes now save time later.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your {{ order.lines[0].title }} has arrived. A few minutes now save time later:</p>\n"
        "<ul>\n<li>Charge it or plug it in before you start.</li>\n"
        "<li>Follow the quick-start guide in the box, one step at a time.</li>\n"
        "<li>Accept any update it offers during set-up: updates fix most early problems.</li>\n"
        "</ul>\n"
        "<p>Stuck? Reply to this email and we'll help you finish.</p>\n"
        + _support_button("Set-up help"),
    ),
    email_template(
        "onboarding_care",
        "Care guide",
        "onboarding",
        "transactional",
        "Caring for your {{ order.lines[0].title }}",
        "Small habits that make it last.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your order {{ order.number }} has arrived. A few habits keep it looking new for "
        "longer:</p>\n"
        "<ul>\n<li>Read the care label before the first wash: a cool wash and air drying keep "
        "colour and shape.</li>\n"
        "<li>Try it on indoors first: unworn items with their tags on can still be "
        "exchanged.</li>\n"
        "<li>Give new shoes a day or two around the house before a long walk.</li>\n</ul>\n"
        + _support_button("Size and care help"),
    ),
    email_template(
        "troubleshooting_guide",
        "Troubleshooting guide",
        "onboarding",
        "transactional",
        "Need a hand with your {{ order.lines[0].title }}?",
        "Most set-up problems have a quick fix.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Your {{ order.lines[0].title }} arrived a few days ago. If set-up hasn't gone "
        "smoothly, these fixes solve most problems:</p>\n"
        "<ul>\n<li>Restart it: switch it off, wait ten seconds, and switch it on again.</li>\n"
        "<li>Check that it is charged or plugged in, and that every cable is firmly in "
        "place.</li>\n"
        "<li>Update the app or firmware to the latest version, then try set-up again.</li>\n"
        "</ul>\n"
        "<p>Still stuck? Reply to this email with your order number, {{ order.number }}, and "
        "we'll sort it out with you.</p>\n" + _support_button("Get set-up help"),
    ),
    email_template(
        "review_reminder",
        "Review reminder",
        "feedback",
        "marketing",
        "Still a minute for your {{ order.lines[0].title }}?",
        "Your review helps other shoppers choose.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>A few days ago we asked what you think of your {{ order.lines[0].title }}. If you "
        "have a minute, a short review helps other shoppers choose, and tells us what to keep "
        "doing.</p>\n"
        "<p>This is the last time we'll ask about order {{ order.number }}.</p>\n"
        + button("{{ survey_url }}", "Write a review"),
    ),
    email_template(
        "win_back_second",
        "Win-back, second touch",
        "re_engagement",
        "marketing",
        "A last note from {{ merchant.name }}",
        "We'd still love to see you again.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>We wrote a little while ago and haven't seen you since. We don't want to crowd "
        "your inbox, so this is our last note for now.</p>\n"
        "<p>If something put you off, reply and tell us: we read every message, and it helps "
        "us do better.</p>\n" + _support_button("Get in touch"),
    ),
    email_template(
        "birthday_reward",
        "Birthday reward",
        "relationship",
        "marketing",
        "Happy birthday{% if customer.first_name %}, {{ customer.first_name }}{% endif %}!",
        "A birthday treat from {{ merchant.name }}.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Happy birthday from all of us at {{ merchant.name }}! To celebrate, a birthday "
        "reward is waiting for you in your rewards account.</p>\n"
        + button("{{ loyalty_url }}", "Claim your reward"),
    ),
]
