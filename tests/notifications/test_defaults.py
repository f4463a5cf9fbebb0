"""The default templates: one or more per kind of message, valid, rendering, installed once."""

import re

from notifications.defaults import DEFAULT_TEMPLATES, message_templates_install_defaults
from notifications.models import MessageTemplate
from notifications.rendering import render_sources, sample_context, sms_segments
from notifications.services import message_template_render, message_template_save, variant_for


def test_every_kind_of_message_has_defaults(merchant_a):
    created = message_templates_install_defaults(merchant=merchant_a)

    assert sorted((t.kind, t.key, t.channel, t.category) for t in created) == [
        ("feedback", "review_request", "email", "marketing"),
        ("feedback", "survey_request", "email", "marketing"),
        ("onboarding", "onboarding_tips", "email", "transactional"),
        ("re_engagement", "win_back", "email", "marketing"),
        ("relationship", "loyalty_invite", "email", "marketing"),
        ("relationship", "thank_you", "email", "marketing"),
        ("status", "delayed", "email", "transactional"),
        ("status", "delayed_sms", "sms", "transactional"),
        ("status", "delivered", "email", "transactional"),
        ("status", "delivered_sms", "sms", "transactional"),
        ("status", "out_for_delivery", "email", "transactional"),
        ("status", "out_for_delivery_sms", "sms", "transactional"),
        ("status", "shipped", "email", "transactional"),
        ("status", "shipped_sms", "sms", "transactional"),
        ("transactional", "order_confirmation", "email", "transactional"),
    ]
    assert {t.current_version.number for t in created} == {1}


def test_every_default_renders_and_every_sms_fits_one_gsm_segment(merchant_a):
    for template in message_templates_install_defaults(merchant=merchant_a):
        rendered = message_template_render(template=template, context=sample_context())
        if template.channel == "sms":
            segments = sms_segments(rendered.sms)
            assert (segments.encoding, segments.segments) == ("GSM-7", 1), rendered.sms
        else:
            assert rendered.subject and "Hi Ada," in rendered.html and "Hi Ada," in rendered.text
            assert "{{" not in rendered.html and "{%" not in rendered.html


def test_every_default_email_has_a_text_part_with_every_link_and_no_markup(merchant_a):
    # given
    context = sample_context()

    for template in message_templates_install_defaults(merchant=merchant_a):
        if template.channel != "email":
            continue
        # when
        rendered = message_template_render(template=template, context=context)
        text = rendered.text.split("\n--\n")[0]  # the body, above the frame's footer

        # then
        assert "<" not in text and ">" not in text, (template.key, text)
        variant = variant_for(template.current_version, "en", "en")
        [body] = render_sources([(variant.html_body, True, "html_body")], context)
        links = re.findall(r'href="([^"]+)"', body)
        assert all(link in text for link in links), (template.key, text)


def test_the_shipped_email_reads_as_written(merchant_a):
    [template] = [
        t for t in message_templates_install_defaults(merchant=merchant_a) if t.key == "shipped"
    ]
    rendered = message_template_render(template=template, context=sample_context())
    assert rendered.subject == "Your order #1001 is on its way"
    assert rendered.preheader == "UPS has your parcel."
    assert rendered.text.startswith(
        "Hi Ada,\n\nGood news: order #1001 has shipped with UPS and should arrive by Thursday "
        "05 March.\n\nTrack your parcel: https://t.example/s/demo/t/abc\n"
    )


def test_installing_again_adds_only_what_is_missing_and_keeps_edits(merchant_a):
    first = message_templates_install_defaults(merchant=merchant_a)
    shipped = next(t for t in first if t.key == "shipped")
    edited = {**next(p for p in DEFAULT_TEMPLATES if p["key"] == "shipped"), "name": "Mine"}
    message_template_save(merchant=merchant_a, payload=edited, template=shipped)
    MessageTemplate.unscoped.filter(merchant=merchant_a, key="win_back").delete()

    again = message_templates_install_defaults(merchant=merchant_a)

    assert [t.key for t in again] == ["win_back"]
    shipped.refresh_from_db()
    assert (shipped.name, shipped.current_version.number) == ("Mine", 2)


def test_defaults_without_a_tracking_or_returns_link_leave_the_button_out(merchant_a):
    # given: a journey's message before the parcel has a tracking page (and before returns)
    context = {k: v for k, v in sample_context().items() if k not in ("tracking_url", "return_url")}
    needs = {"review_request": "survey_url", "survey_request": "survey_url"}

    for template in message_templates_install_defaults(merchant=merchant_a):
        if template.key in needs or "loyalty" in template.key:
            continue  # these are about a link of their own (a survey, the loyalty page)
        # when
        rendered = message_template_render(template=template, context=context)

        # then
        body = rendered.html or rendered.sms
        assert "t.example/s/demo/t/" not in body, template.key
        assert "{{" not in body and "{%" not in body, template.key
