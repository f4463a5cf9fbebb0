"""The branded frame around every email."""

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
