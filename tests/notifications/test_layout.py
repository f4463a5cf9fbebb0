"""The branded frame around every email."""

import pytest

from notifications.layout import email_frame
from notifications.rendering import sample_context


def frame(context=None, *, marketing=False, body_html="<p>Body</p>"):
    return email_frame(
        body_html=body_html,
        body_text="Body",
        subject="Your order",
        preheader="On its way",
        locale="en-GB",
        context=context or sample_context(),
        marketing=marketing,
    )


def test_the_frame_carries_the_brand_the_address_and_the_links():
    html, text = frame(marketing=True)
    assert '<html lang="en-GB">' in html
    assert '<img src="https://cdn.example.com/logo.png" alt="Demo Outfitters"' in html
    assert "background:#1f2937;" in html and ".content a { color: #2563eb; }" in html
    assert "On its way&#8203;" in html  # the preheader, hidden
    assert "<p>Body</p>" in html
    assert "12 Trail Road<br>Boulder, CO 80302<br>United States" in html
    assert '<a href="https://t.example/u/abc" style="color:#6b7280;">Unsubscribe</a>' in html
    assert text.endswith("Unsubscribe: https://t.example/u/abc\n")


def test_transactional_email_has_no_unsubscribe_link():
    html, text = frame(marketing=False)
    assert "Unsubscribe" not in html and "Unsubscribe" not in text
    assert "Email preferences" in html


def test_brand_values_that_are_not_colours_or_web_links_are_dropped():
    context = sample_context()
    context["brand"]["primary_colour"] = "red;background:url(https://evil.example/x)"
    context["brand"]["logo_url"] = "javascript:alert(1)"
    context["merchant"]["name"] = "<b>Shop</b>"
    html, _ = frame(context)
    assert "evil.example" not in html and "javascript:" not in html
    assert "background:#1f2937;" in html
    assert "&lt;b&gt;Shop&lt;/b&gt;" in html and "<b>Shop</b>" not in html


def test_a_text_only_template_makes_a_text_only_email():
    html, text = frame(body_html="")
    assert html == ""
    assert text.startswith("Body\n\n--\nDemo Outfitters\n")


@pytest.mark.parametrize(
    "values",
    [
        {
            "subject": "Tom & Jerry <3",
            "preheader": "",
            "preferences_url": "",
            "unsubscribe_url": "",
        },
        {
            "subject": "ppframebodymark ppframepreheadermark",  # looks like a marker: stays text
            "preheader": "Soon <b>now</b>",
            "preferences_url": "https://t.example/p?a=1&b=2",
            "unsubscribe_url": "https://t.example/u/x",
        },
    ],
)
def test_the_cached_frame_is_what_django_renders_afresh(values):
    # given
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    from notifications.layout import _framed

    brand = {
        "lang": "en",
        "primary": "#112233",
        "accent": "#445566",
        "logo_url": "",
        "store_name": "Ada's <Shop>",
        "address": "1 Rue\nParis",
        "support_email": "help@shop.example",
        "support_url": "",
    }
    body = "<p>Hi &amp; welcome</p>"

    for template, html in (("emails/layout.html", True), ("emails/layout.txt", False)):
        # when
        cached = _framed(template, {**brand, **values}, body, html=html)
        cached_again = _framed(template, {**brand, **values}, body, html=html)

        # then
        fresh = render_to_string(
            template,
            {**brand, **values, "body": mark_safe(body) if html else body},  # noqa: S308
        )
        assert cached == cached_again == fresh
