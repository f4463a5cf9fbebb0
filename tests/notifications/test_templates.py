"""Saving message templates as immutable versions, and rendering them for a shopper."""

import pytest

from notifications.models import MessageTemplate, MessageTemplateVariant, MessageTemplateVersion
from notifications.rendering import sample_context
from notifications.services import message_template_render, message_template_save
from postpurchase.errors import DomainError


def email_payload(**overrides):
    payload = {
        "key": "shipped",
        "name": "Shipped",
        "channel": "email",
        "category": "transactional",
        "default_locale": "en",
        "variants": [
            {
                "locale": "en",
                "subject": "Order {{ order.number }}\n is on its way",
                "preheader": "Track it any time",
                "html_body": "<p>Hi {{ customer.first_name }},</p>\n"
                '<p><a href="{{ tracking_url }}">Track your parcel</a></p>',
            },
            {
                "locale": "fr",
                "subject": "Commande {{ order.number }} expédiée",
                "html_body": "<p>Bonjour {{ customer.first_name }}</p>",
                "text_body": "Bonjour {{ customer.first_name }}",
            },
        ],
    }
    payload.update(overrides)
    return payload


def counts():
    return (
        MessageTemplate.unscoped.count(),
        MessageTemplateVersion.unscoped.count(),
        MessageTemplateVariant.unscoped.count(),
    )


def test_each_save_makes_a_new_version_and_leaves_the_old_one_alone(merchant_a):
    # given
    template = message_template_save(merchant=merchant_a, payload=email_payload())
    first = template.current_version

    # when
    changed = email_payload(name="Shipped (new)")
    changed["variants"][0]["subject"] = "Your order {{ order.number }} shipped"
    template = message_template_save(merchant=merchant_a, payload=changed, template=template)

    # then
    assert (template.name, template.current_version.number) == ("Shipped (new)", 2)
    assert [v.number for v in template.versions.order_by("number")] == [1, 2]
    old = {v.locale: v.subject for v in first.variants.all()}
    new = {v.locale: v.subject for v in template.current_version.variants.all()}
    assert old["en"] == "Order {{ order.number }}\n is on its way"
    assert new["en"] == "Your order {{ order.number }} shipped"
    assert first.template_id == template.pk and first.merchant_id == merchant_a.pk


def test_a_template_with_an_error_is_refused_whole_naming_the_part_and_line(merchant_a):
    # given
    payload = email_payload()
    payload["variants"][1]["html_body"] = "<p>Bonjour</p>\n\n<p>{{ custmer.first_name }}</p>"
    payload["variants"][0]["subject"] = "{{ ''.__class__ }}"

    # when
    with pytest.raises(DomainError) as caught:
        message_template_save(merchant=merchant_a, payload=payload)

    # then
    assert caught.value.fields == {
        "variants[0].subject": [
            {
                "code": "template_error",
                "message": "line 1: not allowed in a template: access to attribute '__class__' "
                "of 'str' object is unsafe.",
            }
        ],
        "variants[1].html_body": [
            {"code": "template_error", "message": "line 3: unknown variable 'custmer'"}
        ],
    }
    assert caught.value.code == "template_error"
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"channel": "sms"}, "variants[0].subject", "wrong_channel"),
        ({"default_locale": "de"}, "default_locale", "missing"),
        ({"key": "Not A Slug"}, "key", "string_pattern_mismatch"),
    ],
)
def test_payloads_that_do_not_fit_the_channel_are_refused(merchant_a, change, field, code):
    with pytest.raises(DomainError) as caught:
        message_template_save(merchant=merchant_a, payload=email_payload(**change))
    assert caught.value.fields[field][0]["code"] == code
    assert counts() == (0, 0, 0)


def test_keys_are_unique_per_merchant_and_a_channel_never_changes(merchant_a, merchant_b):
    template = message_template_save(merchant=merchant_a, payload=email_payload())
    message_template_save(merchant=merchant_b, payload=email_payload())  # its own namespace

    with pytest.raises(DomainError) as caught:
        message_template_save(merchant=merchant_a, payload=email_payload())
    assert (caught.value.code, caught.value.field) == ("key_taken", "key")

    sms = email_payload(channel="sms", variants=[{"locale": "en", "sms_body": "Hi"}])
    with pytest.raises(DomainError) as caught:
        message_template_save(merchant=merchant_a, payload=sms, template=template)
    assert caught.value.field == "channel"

    with pytest.raises(DomainError) as caught:  # another merchant's template
        message_template_save(merchant=merchant_b, payload=email_payload(), template=template)
    assert caught.value.code == "not_found"
    assert template.versions.count() == 1


def test_rendering_picks_the_shoppers_locale_and_makes_the_text_part(merchant_a):
    template = message_template_save(merchant=merchant_a, payload=email_payload())
    context = sample_context()

    english = message_template_render(template=template, context=context, locale="en-GB")
    french = message_template_render(template=template, context=context, locale="fr_CA")
    other = message_template_render(template=template, context=context, locale="de")

    assert (english.locale, french.locale, other.locale) == ("en", "fr", "en")
    assert english.subject == "Order #1001 is on its way"
    assert english.preheader == "Track it any time"
    assert (
        '<p>Hi Ada,</p>\n<p><a href="https://t.example/s/demo/t/abc">Track your parcel</a></p>'
        in english.html
    )
    assert english.text == (
        "Hi Ada,\n\n[Track your parcel](https://t.example/s/demo/t/abc)\n\n--\n"
        "Demo Outfitters\n12 Trail Road\nBoulder, CO 80302\nUnited States\n"
        "Questions? help@demo-outfitters.example\nHelp: https://demo-outfitters.example/help\n"
        "Email preferences: https://t.example/s/demo/p/abc\n"
    )
    assert french.text.startswith("Bonjour Ada\n\n--\nDemo Outfitters\n")
    assert english.version_id == template.current_version.pk


def test_an_sms_template_renders_its_body(merchant_a):
    payload = email_payload(
        key="out-for-delivery",
        channel="sms",
        variants=[{"locale": "en", "sms_body": "{{ merchant.name }}: {{ tracking_url }}\n"}],
    )
    template = message_template_save(merchant=merchant_a, payload=payload)

    rendered = message_template_render(template=template, context=sample_context())

    assert rendered.sms == "Demo Outfitters: https://t.example/s/demo/t/abc"
    assert (rendered.subject, rendered.html, rendered.text) == ("", "", "")
