"""What merchants are shown is what shoppers get: a test send and the preview in the merchant's
own brand; marketing email held while the postal address is empty, and sent once it is set;
a message that fails to render says which variable on which line, in the message log."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from notifications.dashboard_views.preview import preview_data, template_preview
from notifications.delivery import messages_due_sweep
from notifications.marketing_hold import HELD, HELD_DETAIL, RELEASED_DETAIL
from notifications.models import Message, MessageEvent, SendingPolicy
from notifications.services import message_send, message_template_save, message_template_send_test
from tests.factories import CustomerFactory

T0 = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
LOGO = "https://cdn.alpha.example/brand/logo.png"


@pytest.fixture
def branded(merchant_a):
    merchant_a.name, merchant_a.sender_name = "Alpha Goods", "Alpha"
    merchant_a.logo_url, merchant_a.primary_colour = LOGO, "#0a7d33"
    merchant_a.support_email = "care@alpha.example"
    merchant_a.postal_address = "3 Quai Voltaire\n75007 Paris"
    merchant_a.save()
    return merchant_a


def save(merchant, *, category="transactional", html="<p>Hi {{ customer.first_name }}</p>"):
    return message_template_save(
        merchant=merchant,
        payload={
            "key": f"t-{category}",
            "name": "T",
            "channel": "email",
            "category": category,
            "variants": [{"locale": "en", "subject": "Hello", "html_body": html}],
        },
    )


def test_a_test_send_is_in_the_merchants_own_brand(branded, owner_a):
    # given
    template = save(branded)

    # when
    message = message_template_send_test(
        merchant=branded, template=template, to=owner_a.email, now=T0
    )

    # then: its logo, colour, name, address and support address, none of the samples'
    assert (LOGO in message.html, "#0a7d33" in message.html) == (True, True)
    assert ("care@alpha.example" in message.html, "3 Quai Voltaire" in message.text) == (True, True)
    samples = ("cdn.example.com/logo.png", "help@demo-outfitters.example", "12 Trail Road")
    assert [s for s in samples if s in message.html + message.text] == []


def test_the_preview_is_in_the_merchants_own_brand(branded):
    # given / when
    preview = template_preview(
        channel="email",
        category="transactional",
        variant={"locale": "en", "subject": "Hi", "html_body": "<p>{{ merchant.address }}</p>"},
        data=preview_data(merchant=branded),
    )

    # then
    assert preview.problems == []
    assert (LOGO in preview.html, "care@alpha.example" in preview.html) == (True, True)
    assert "<p>3 Quai Voltaire\n75007 Paris</p>" in preview.html
    assert "cdn.example.com/logo.png" not in preview.html


def test_the_preview_says_marketing_email_would_be_held(merchant_a):
    # given a merchant with no postal address
    merchant_a.postal_address = ""
    merchant_a.save()
    variant = {"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}

    # when / then
    held = [
        template_preview(
            channel=channel,
            category=category,
            variant=variant,
            data=preview_data(merchant=merchant_a),
        ).held
        for channel, category in (
            ("email", "marketing"),
            ("email", "transactional"),
            ("sms", "marketing"),
        )
    ]
    assert held == [True, False, False]


def test_marketing_email_is_held_without_a_postal_address_and_goes_once_it_is_set(merchant_a):
    # given a merchant with no postal address and a consenting customer
    merchant_a.postal_address = ""
    merchant_a.save()
    template = save(merchant_a, category="marketing")
    customer = CustomerFactory(merchant=merchant_a, email_marketing_consent=True)

    # when a marketing email is sent
    message = message_send(
        merchant=merchant_a,
        template=template,
        customer=customer,
        context={"customer": {"first_name": "Ada"}},
        idempotency_key="promo-1",
        now=T0,
    )

    # then it is held, with why, and the sweep passes it by
    message.refresh_from_db()
    assert (message.status, message.reason, message.detail) == ("deferred", HELD, HELD_DETAIL)
    assert (message.next_attempt_at, message.deferred_until) == (None, None)
    assert "Hi Ada" in message.html  # rendered, not lost
    assert messages_due_sweep(now=T0 + timedelta(days=2)) == []

    # when the merchant sets its address, then the next sweep hands it to the channel
    merchant_a.postal_address = "1 Rue de la Paix\n75002 Paris"
    merchant_a.save()
    assert messages_due_sweep(now=T0 + timedelta(days=2)) == [message.pk]
    events = MessageEvent.unscoped.filter(message=message).order_by("id")
    assert [(e.status, e.reason, e.detail) for e in events] == [
        ("deferred", HELD, HELD_DETAIL),
        ("deferred", "released", RELEASED_DETAIL),
    ]


def test_a_held_message_released_at_night_waits_for_the_sending_hours(merchant_a):
    # given: email keeps sending hours (08:00-21:00) and a held marketing email to a shopper
    # in New York
    merchant_a.postal_address = ""
    merchant_a.save()
    SendingPolicy.unscoped.update_or_create(
        merchant=merchant_a,
        defaults={"quiet_hours_for_email": True, "send_from": time(8), "send_until": time(21)},
    )
    template = save(merchant_a, category="marketing")
    customer = CustomerFactory(
        merchant=merchant_a, email_marketing_consent=True, timezone="America/New_York"
    )
    message = message_send(
        merchant=merchant_a,
        template=template,
        customer=customer,
        context={"customer": {"first_name": "Ada"}},
        idempotency_key="promo-1",
        now=T0,
    )

    # when the address is set and the sweep runs at 03:00 in New York (08:00 UTC)
    merchant_a.postal_address = "1 Rue de la Paix\n75002 Paris"
    merchant_a.save()
    night = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
    swept = messages_due_sweep(now=night)

    # then it is not handed over; it is due at 08:00 New York time (13:00 UTC), and goes then
    message.refresh_from_db()
    opening = datetime(2026, 3, 5, 13, 0, tzinfo=UTC)
    assert swept == []
    assert (message.status, message.next_attempt_at, message.deferred_until) == (
        "deferred",
        opening,
        opening,
    )
    assert messages_due_sweep(now=opening) == [message.pk]


def test_transactional_email_is_never_held(merchant_a):
    # given / when
    message = message_send(
        merchant=merchant_a,
        template=save(merchant_a),
        customer=CustomerFactory(merchant=merchant_a),
        context={"customer": {"first_name": "Ada"}},
        idempotency_key="order-1",
        now=T0,
    )

    # then
    assert (message.status, message.reason) == ("queued", "")


def test_the_dashboard_says_marketing_email_is_held(merchant_a, owner_a):
    # given a held message
    merchant_a.postal_address = ""
    merchant_a.save()
    template = save(merchant_a, category="marketing")
    customer = CustomerFactory(merchant=merchant_a, email_marketing_consent=True)
    message_send(
        merchant=merchant_a,
        template=template,
        customer=customer,
        context={"customer": {"first_name": "Ada"}},
        idempotency_key="promo-1",
        now=T0,
    )
    client = Client()
    client.force_login(owner_a)

    # when
    page = client.get(reverse("dashboard:message_list")).content.decode()

    # then
    assert "1 marketing email is held until you set your store’s postal address" in page


def test_a_render_failure_names_the_variable_and_line_in_the_message_log(merchant_a, owner_a):
    # given a template that needs a parcel, sent for a customer with none
    template = save(merchant_a, html="<p>Hi</p>\n<p>{{ shipment.carrier }}</p>")

    # when
    message = message_send(
        merchant=merchant_a,
        template=template,
        customer=CustomerFactory(merchant=merchant_a),
        context={},
        idempotency_key="shipped-1",
        now=T0,
    )
    client = Client()
    client.force_login(owner_a)
    page = client.get(reverse("dashboard:message_detail", args=[message.pk])).content.decode()

    # then
    why = (
        "html_body: line 2: unknown variable &#x27;shipment&#x27;: this message has no value for it"
    )
    assert (message.status, message.reason) == ("failed", "render")
    assert message.detail == why.replace("&#x27;", "'")
    assert Message.unscoped.get(pk=message.pk).detail == message.detail
    assert f'The template could not be rendered: <span class="mono">{why}</span>' in page
