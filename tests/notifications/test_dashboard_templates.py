"""The template editor in the dashboard: the list, saving a version, errors at their field,
languages added and removed, the live preview (sample or real data, escaping, SMS segments),
test sends, earlier versions, and what a viewer may do."""

from __future__ import annotations

import pytest
from django.urls import reverse

from notifications.models import Message, MessageTemplate, MessageTemplateVersion
from orders.services import order_ingest
from postpurchase.tenancy.permissions import Role
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import CustomerFactory, order_payload
from tests.notifications.test_dashboard import (  # the pages' shared fixtures and helpers
    editor_data,
    email_template,
    owner,
    signed_in,
    sms_template,
    template_rows,
)

__all__ = ["owner", "signed_in"]  # fixtures, used by name


def test_template_list_shows_each_template_and_its_version(owner, merchant_a, merchant_b):
    # given
    email_template(merchant_a)
    sms_template(merchant_a)
    email_template(merchant_b, key="bravo_only", name="Bravo only")
    # when
    response = owner.get(reverse("dashboard:message_template_list"))
    # then
    html = response.content.decode()
    assert [t.key for t in response.context["templates"]] == ["shipped", "shipped_sms"]
    assert "Bravo only" not in html
    assert "<td>Order status</td>" in html


def test_saving_in_the_editor_makes_version_2(owner, owner_a, merchant_a):
    # given
    template = email_template(merchant_a)
    data = editor_data(template, **{"variants-0-subject": "Your order {{ order.number }}"})
    # when
    response = owner.post(reverse("dashboard:message_template_save", args=[template.pk]), data)
    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:message_template_detail", args=[template.pk])
    template.refresh_from_db()
    version = template.current_version
    assert (version.number, version.created_by) == (2, owner_a)
    en = version.variants.get(locale="en")
    assert en.subject == "Your order {{ order.number }}"
    assert version.variants.count() == 2
    assert MessageTemplateVersion.unscoped.filter(template=template).count() == 2


def test_the_editor_adds_and_removes_languages(owner, merchant_a):
    # given: en and fr; remove fr and add de in the empty form
    template = email_template(merchant_a)
    data = editor_data(
        template,
        **{
            "variants-1-DELETE": "on",
            "variants-2-locale": "de",
            "variants-2-subject": "Versandt",
            "variants-2-html_body": "<p>Hallo</p>",
        },
    )
    # when
    owner.post(reverse("dashboard:message_template_save", args=[template.pk]), data)
    # then
    template.refresh_from_db()
    locales = sorted(template.current_version.variants.values_list("locale", flat=True))
    assert locales == ["de", "en"]


def test_an_invalid_template_shows_the_error_at_its_field_and_writes_nothing(owner, merchant_a):
    # given: fr removed, so the new de variant is the second one the service sees
    template = email_template(merchant_a)
    data = editor_data(
        template,
        **{
            "variants-1-DELETE": "on",
            "variants-2-locale": "de",
            "variants-2-subject": "Hallo",
            "variants-2-html_body": "<p>{{ custmer.first_name }}</p>",
        },
    )
    before = template_rows()
    # when
    response = owner.post(reverse("dashboard:message_template_save", args=[template.pk]), data)
    # then
    assert response.status_code == 200
    forms = response.context["formset"].forms
    assert forms[2].errors == {"html_body": ["line 1: unknown variable 'custmer'"]}
    assert not forms[0].errors and not forms[1].errors
    html = response.content.decode()
    assert "nothing was saved" in html
    assert '<p class="field__error">line 1: unknown variable &#x27;custmer&#x27;</p>' in html
    assert template_rows() == before


def test_a_taken_key_is_shown_on_the_key_field(owner, merchant_a):
    # given
    template = email_template(merchant_a)
    sms_template(merchant_a)
    before = template_rows()
    # when
    response = owner.post(
        reverse("dashboard:message_template_save", args=[template.pk]),
        editor_data(template, key="shipped_sms"),
    )
    # then
    assert response.context["form"].errors == {"key": ["Another template has key 'shipped_sms'."]}
    assert template_rows() == before


def test_a_new_sms_template_is_created_as_version_1(owner, merchant_a):
    # given
    data = {
        "name": "Delivered (SMS)",
        "key": "delivered_sms",
        "channel": "sms",
        "category": "transactional",
        "kind": "status",
        "default_locale": "en",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-0-locale": "en",
        "variants-0-sms_body": "Delivered: {{ order.number }}",
        # email parts a tampered form sends are not the SMS template's
        "variants-0-subject": "ignored",
        "variants-1-locale": "",
    }
    # when
    response = owner.post(reverse("dashboard:message_template_create"), data)
    # then
    template = MessageTemplate.unscoped.get(merchant=merchant_a, key="delivered_sms")
    assert response["Location"] == reverse("dashboard:message_template_detail", args=[template.pk])
    variant = template.current_version.variants.get()
    assert (template.channel, variant.sms_body, variant.subject) == (
        "sms",
        "Delivered: {{ order.number }}",
        "",
    )


def preview(client, template, **changes):
    return client.post(
        reverse("dashboard:message_template_preview"), editor_data(template, **changes)
    )


def test_preview_renders_the_unsaved_source_with_the_sample_data(owner, merchant_a):
    # given
    template = email_template(merchant_a)
    # when
    response = preview(owner, template, **{"variants-0-subject": "Hello {{ customer.first_name }}"})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "<dd data-preview-subject>Hello Ada</dd>" in html
    # the framed email, escaped into the sandboxed frame's srcdoc
    assert '<iframe sandbox="" referrerpolicy="no-referrer" title="Email preview" srcdoc="' in html
    assert 'srcdoc="&lt;!DOCTYPE html&gt;' in html
    assert "&lt;p&gt;Hi Ada,&lt;/p&gt;" in html
    assert "<p>Hi Ada,</p>" not in html
    assert "Alpha Apparel" in html  # the merchant's own name in the frame, not the sample's
    assert template_rows() == template_rows()  # nothing saved


def test_preview_escapes_what_the_template_writes(owner, merchant_a):
    # given: a subject is text, not HTML, so markup in it is shown as typed
    template = email_template(merchant_a)
    sms = sms_template(merchant_a)
    # when
    email = preview(owner, template, **{"variants-0-subject": '<img src=x onerror="alert(1)">'})
    text = preview(owner, sms, **{"variants-0-sms_body": "<script>alert(1)</script>"})
    # then
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in email.content.decode()
    assert "<img src=x" not in email.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text.content.decode()
    assert "<script>" not in text.content.decode()


def test_preview_shows_the_chosen_language_and_problems(owner, merchant_a):
    # given
    template = email_template(merchant_a)
    # when
    french = preview(owner, template, preview_locale="fr")
    broken = preview(owner, template, **{"variants-0-subject": "{{ order.totl }} {% if %}"})
    # then
    assert "Commande expédiée" in french.content.decode()
    problems = broken.context["preview"].problems
    assert problems == [
        ("Subject", "line 1: syntax error: Expected an expression, got 'end of statement block'")
    ]


def test_preview_with_a_customer_or_order_of_this_merchant_only(owner, merchant_a, merchant_b):
    # given
    template = email_template(merchant_a)
    with merchant_scope(merchant_a):
        CustomerFactory(merchant=merchant_a, email="grace@example.com", first_name="Grace")
    order_ingest(
        merchant=merchant_a,
        payload=order_payload(
            number="#2042",
            customer={"external_id": "c-9", "email": "lin@example.com", "first_name": "Lin"},
        ),
    )
    order_ingest(merchant=merchant_b, payload=order_payload(number="#7777"))
    # when
    by_customer = preview(owner, template, preview_customer="GRACE@example.com")
    by_order = preview(owner, template, preview_order="#2042")
    other = preview(owner, template, preview_order="#7777")
    # then
    assert "Hi Grace," in by_customer.content.decode()
    assert by_customer.context["preview"].data.source == "Customer grace@example.com"
    assert "Order #2042 is on its way" in by_order.content.decode()
    assert "Hi Lin," in by_order.content.decode()
    assert other.context["preview"].data.problem == "No order #7777 in your store."
    assert "Order #1001 is on its way" in other.content.decode()  # the sample order


@pytest.mark.parametrize(
    ("body", "facts"),
    [
        ("Shipped!", ["1 segment", "GSM-7", "8 of 160 characters"]),
        ("x" * 161, ["2 segments", "GSM-7", "This message is sent as 2 segments, each billed."]),
        ("Shipped 🚚", ["1 segment", "UCS-2", "Characters outside the GSM alphabet (🚚)"]),
    ],
)
def test_sms_preview_shows_segments_encoding_and_warnings(owner, merchant_a, body, facts):
    # given
    template = sms_template(merchant_a)
    # when
    response = preview(owner, template, **{"variants-0-sms_body": body})
    # then
    html = response.content.decode()
    for fact in facts:
        assert fact in html
    assert f'<div class="sms-bubble" data-preview-sms>{body}</div>' in html


def test_test_send_queues_a_message_with_reason_test(owner, owner_a, merchant_a):
    # given
    template = email_template(merchant_a)
    # when
    response = owner.post(
        reverse("dashboard:message_template_test", args=[template.pk]),
        {"to": "Owner@Alpha.example"},  # a member's sign-in address
    )
    # then
    sent = Message.unscoped.get(merchant=merchant_a)
    assert response["Location"] == reverse("dashboard:message_detail", args=[sent.pk])
    assert (sent.status, sent.reason, sent.to) == ("queued", "test", "owner@alpha.example")
    assert (sent.template, sent.template_version) == (template, template.current_version)
    assert sent.subject == "[Test] Order #1001 is on its way"
    assert sent.detail == f"Test sent by {owner_a.email}."


def test_test_send_to_a_bad_address_is_shown_on_the_field(owner, merchant_a):
    # given
    template = email_template(merchant_a)
    # when
    response = owner.post(
        reverse("dashboard:message_template_test", args=[template.pk]), {"to": "not-an-email"}
    )
    # then
    assert response.status_code == 200
    assert response.context["test_form"].errors["to"]
    assert Message.unscoped.count() == 0


def test_editor_offers_the_staff_email_and_the_variables(owner, merchant_a):
    # given
    template = email_template(merchant_a)
    # when
    response = owner.get(reverse("dashboard:message_template_detail", args=[template.pk]))
    # then
    html = response.content.decode()
    assert 'value="owner@alpha.example"' in html
    assert "{{ unsubscribe_url }}" in html
    assert "One-click unsubscribe from this kind of message." in html
    assert 'hx-post="/app/messages/templates/preview/"' in html


def test_an_earlier_version_is_shown_read_only(owner, merchant_a):
    # given
    template = email_template(merchant_a)
    first = template.current_version
    owner.post(
        reverse("dashboard:message_template_save", args=[template.pk]),
        editor_data(template, **{"variants-0-subject": "Changed"}),
    )
    # when
    response = owner.get(reverse("dashboard:message_template_version", args=[first.pk]))
    # then
    html = response.content.decode()
    assert "an earlier version: read-only" in html
    assert "Order {{ order.number }} is on its way" in html
    assert response.context["rendered"].subject == "Order #1001 is on its way"
    assert "<form" not in html.split('<main id="main"')[1]


def test_a_viewer_reads_templates_but_cannot_save_preview_or_test(merchant_a, member_of, signed_in):
    # given
    template = email_template(merchant_a)
    client = signed_in(member_of(merchant_a, Role.VIEWER))
    before = (template_rows(), list(Message.unscoped.values()))
    # when
    page = client.get(reverse("dashboard:message_template_detail", args=[template.pk]))
    posts = [
        client.post(
            reverse("dashboard:message_template_save", args=[template.pk]), editor_data(template)
        ),
        client.post(
            reverse("dashboard:message_template_test", args=[template.pk]), {"to": "v@x.example"}
        ),
        client.post(reverse("dashboard:message_template_preview"), editor_data(template)),
        client.post(reverse("dashboard:message_template_create"), editor_data(template, key="new")),
    ]
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "your role cannot change it" in html
    assert '<fieldset class="plain stack" disabled>' in html
    assert "Save as version" not in html and "Send test" not in html
    assert [r.status_code for r in posts] == [403, 403, 403, 403]
    assert (template_rows(), list(Message.unscoped.values())) == before
