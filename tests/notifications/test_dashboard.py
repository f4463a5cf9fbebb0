"""The dashboard's message pages: every page for the demo store, the log with its filters and a
message's content and timeline, and Settings → Messages (validation, secrets never shown,
read-only for those who may not change). The template editor is in test_dashboard_templates.py;
who may open what, and other merchants' rows, in tests/dashboard/test_access.py."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from notifications.dashboard_views import log
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.models import (
    ChannelSettings,
    Message,
    MessageEvent,
    MessageTemplate,
    MessageTemplateVariant,
    MessageTemplateVersion,
    SendingPolicy,
    VerifiedPhone,
)
from notifications.services import message_template_save, message_template_send_test
from notifications.settings_services import channel_settings_save
from postpurchase.tenancy.models import Merchant, User
from postpurchase.tenancy.permissions import Role

T0 = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "fedcba9876543210" * 2
SECRET = "pm-server-token-7c1d"


@pytest.fixture
def signed_in():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def owner(owner_a, signed_in):
    return signed_in(owner_a)


def email_template(merchant, **overrides):
    payload = {
        "key": "shipped",
        "name": "Shipped",
        "channel": "email",
        "category": "transactional",
        "kind": "status",
        "default_locale": "en",
        "variants": [
            {
                "locale": "en",
                "subject": "Order {{ order.number }} is on its way",
                "preheader": "Track it any time",
                "html_body": "<p>Hi {{ customer.first_name }},</p>",
            },
            {"locale": "fr", "subject": "Commande expédiée", "html_body": "<p>Bonjour</p>"},
        ],
    }
    payload.update(overrides)
    return message_template_save(merchant=merchant, payload=payload, now=T0)


def sms_template(merchant):
    return message_template_save(
        merchant=merchant,
        payload={
            "key": "shipped_sms",
            "name": "Shipped (SMS)",
            "channel": "sms",
            "category": "transactional",
            "default_locale": "en",
            "variants": [{"locale": "en", "sms_body": "{{ order.number }} has shipped."}],
        },
        now=T0,
    )


def message(merchant, **fields) -> Message:
    values = {
        "channel": "email",
        "category": "transactional",
        "status": "queued",
        "to": "ada@example.net",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(fields)
    key = f"test-{Message.unscoped.count()}-{values['to']}"
    return Message.unscoped.create(merchant=merchant, idempotency_key=key, **values)


def editor_data(template, **changes) -> dict:
    """The editor's POST for ``template``'s current version, as the page would send it."""
    data = {
        "name": template.name,
        "key": template.key,
        "channel": template.channel,
        "category": template.category,
        "kind": template.kind,
        "default_locale": template.default_locale,
    }
    variants = list(template.current_version.variants.order_by("locale"))
    for i, variant in enumerate([*variants, None]):  # and the empty "add a language" form
        for part in ("locale", "subject", "preheader", "html_body", "text_body", "sms_body"):
            data[f"variants-{i}-{part}"] = getattr(variant, part) if variant else ""
    data["variants-TOTAL_FORMS"] = str(len(variants) + 1)
    data["variants-INITIAL_FORMS"] = str(len(variants))
    data.update(changes)
    return data


def template_rows():
    return [
        list(MessageTemplate.unscoped.order_by("pk").values()),
        list(MessageTemplateVersion.unscoped.order_by("pk").values()),
        list(MessageTemplateVariant.unscoped.order_by("pk").values()),
    ]


def page_ids(response) -> list[int]:
    return [m.pk for m in response.context["log_messages"]]


# --- every page, for the demo merchant -------------------------------------------------------


def test_every_message_page_renders_for_the_demo_merchant(db, signed_in):
    # given: the demo store, with its default templates, and a test message in the log
    call_command(
        "seed_demo",
        "--customers=3",
        "--orders=6",
        "--today=2026-06-01",
        "--no-progress",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    merchant = Merchant.objects.get(slug="demo")
    client = signed_in(User.objects.get(email="demo@example.com"))
    templates = list(MessageTemplate.unscoped.filter(merchant=merchant).order_by("pk"))
    sent = message_template_send_test(
        merchant=merchant, template=templates[0], to="demo@example.com"
    )
    urls = [
        reverse("dashboard:message_list"),
        reverse("dashboard:message_detail", args=[sent.pk]),
        reverse("dashboard:message_template_list"),
        reverse("dashboard:message_template_create") + "?channel=email",
        reverse("dashboard:message_template_create") + "?channel=sms",
        reverse("dashboard:settings_messages"),
        *(reverse("dashboard:message_template_detail", args=[t.pk]) for t in templates),
        *(
            reverse("dashboard:message_template_version", args=[t.current_version_id])
            for t in templates
        ),
    ]
    # when
    responses = {url: client.get(url) for url in urls}
    # then: every page answers, and every default template previews without a problem
    assert {url: r.status_code for url, r in responses.items()} == dict.fromkeys(urls, 200)
    for template in templates:
        page = responses[reverse("dashboard:message_template_detail", args=[template.pk])]
        assert page.context["preview"].problems == [], template.key
    assert len(templates) == len(DEFAULT_TEMPLATES)


# --- the log ----------------------------------------------------------------------------------


@pytest.fixture
def log_rows(merchant_a, merchant_b):
    shipped, sms = email_template(merchant_a), sms_template(merchant_a)
    return {
        "ada": message(
            merchant_a,
            template=shipped,
            created_at=datetime(2026, 3, 1, 15, 0, tzinfo=UTC),
        ),
        "sms": message(
            merchant_a,
            channel="sms",
            status="sent",
            to="+14155550123",
            template=sms,
            created_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        ),
        # 23:30 on March 3 in New York (the merchant's zone) is March 4 in UTC.
        "late": message(
            merchant_a,
            status="failed",
            reason="render",
            to="bob@example.org",
            created_at=datetime(2026, 3, 4, 4, 30, tzinfo=UTC),
        ),
        "other": message(merchant_b, to="ada@example.net", template=email_template(merchant_b)),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["late", "sms", "ada"]),
        ({"channel": "sms"}, ["sms"]),
        ({"channel": "email"}, ["late", "ada"]),
        ({"status": "failed"}, ["late"]),
        ({"status": "delivered"}, []),
        ({"customer": "ADA@"}, ["ada"]),
        ({"customer": "555"}, ["sms"]),
        ({"date_from": "2026-03-02"}, ["late", "sms"]),
        ({"date_to": "2026-03-03"}, ["late", "sms", "ada"]),
        ({"date_to": "2026-03-02"}, ["sms", "ada"]),
        ({"date_from": "2026-03-04"}, []),
        ({"channel": "email", "date_from": "2026-03-02", "date_to": "2026-03-03"}, ["late"]),
    ],
)
def test_log_filters_return_exactly_the_matching_messages(owner, log_rows, query, expected):
    # when
    response = owner.get(reverse("dashboard:message_list"), query)
    # then
    assert response.status_code == 200
    assert page_ids(response) == [log_rows[name].pk for name in expected]


def test_log_filters_by_one_of_the_merchants_templates(owner, log_rows):
    # given
    template_id = log_rows["sms"].template_id
    # when
    response = owner.get(reverse("dashboard:message_list"), {"template": template_id})
    # then
    assert page_ids(response) == [log_rows["sms"].pk]


def test_log_refuses_another_merchants_template_as_a_filter(owner, log_rows):
    # when
    response = owner.get(
        reverse("dashboard:message_list"), {"template": log_rows["other"].template_id}
    )
    # then: the filter is refused and only the merchant's own messages are listed
    assert response.context["filter_form"].errors["template"]
    assert page_ids(response) == [log_rows[n].pk for n in ("late", "sms", "ada")]


def test_log_pages_newest_first_without_gaps_or_repeats(owner, merchant_a, monkeypatch):
    # given: five messages, three created at the same instant
    monkeypatch.setattr(log, "MESSAGES_PER_PAGE", 2)
    made = [message(merchant_a, created_at=T0) for _ in range(3)]
    made += [message(merchant_a, created_at=datetime(2026, 3, 5, tzinfo=UTC)) for _ in range(2)]
    # when
    seen, query = [], "status=queued"
    for _ in range(3):
        response = owner.get(f"{reverse('dashboard:message_list')}?{query}")
        seen.append(page_ids(response))
        query = response.context["next_page_query"]
    # then
    newest_first = [made[4].pk, made[3].pk, made[2].pk, made[1].pk, made[0].pk]
    assert seen == [newest_first[:2], newest_first[2:4], newest_first[4:]]
    assert query == ""
    assert response.context["first_page_query"] == "status=queued"


def test_message_detail_shows_its_metadata_content_and_timeline(owner, merchant_a):
    # given
    template = email_template(merchant_a)
    sent = message(
        merchant_a,
        template=template,
        template_version=template.current_version,
        status="deferred",
        reason="quiet_hours",
        deferred_until=datetime(2026, 3, 5, 13, 0, tzinfo=UTC),
        attempts=2,
        provider="anymail:postmark",
        provider_message_id="pm-123",
        subject="Order #1001 is on its way",
        html='<p>Hi "Ada" &amp; co</p><script>alert(1)</script>',
        text="Hi Ada",
    )
    for status, reason in (("queued", ""), ("deferred", "quiet_hours")):
        MessageEvent.unscoped.create(
            merchant=merchant_a, message=sent, status=status, reason=reason, occurred_at=T0
        )
    # when
    response = owner.get(reverse("dashboard:message_detail", args=[sent.pk]))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    for fact in ("ada@example.net", "quiet_hours", "Mar 5, 2026, 08:00", "anymail:postmark"):
        assert fact in html
    assert "pm-123" in html
    assert "version 1" in html
    assert (
        '<iframe sandbox="" referrerpolicy="no-referrer" title="Email as sent" srcdoc="'
        "&lt;p&gt;Hi &quot;Ada&quot; &amp;amp; co&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        '"' in html
    )
    assert "<script>alert(1)" not in html
    assert [event.status for event in response.context["events"]] == ["queued", "deferred"]


def test_sms_detail_shows_the_body_and_its_segments(owner, merchant_a):
    # given: 161 GSM characters, one over a single segment
    sent = message(merchant_a, channel="sms", to="+14155550123", sms="x" * 161)
    # when
    response = owner.get(reverse("dashboard:message_detail", args=[sent.pk]))
    # then
    html = response.content.decode()
    assert "2 segments" in html
    assert "GSM-7" in html
    assert "This message is sent as 2 segments, each billed." in html


# --- settings ---------------------------------------------------------------------------------

CHANNELS = {
    "email_provider": "postmark",
    "postmark__server_token": SECRET,
    "postmark__message_stream": "outbound",
    "twilio_account_sid": SID,
    "twilio_auth_token": TOKEN,
    "sms_from_number": "+1 415 555 0123",
    "sms_messaging_service_sid": "",
    "sms_help_text": "Alpha help: help@alpha.example",
}
POLICY = {
    "send_from": "09:00",
    "send_until": "20:30",
    "quiet_hours_for_email": "on",
    "marketing_cap": "4",
    "cap_window_hours": "48",
    "cap_mode": "skip",
}


def settings_rows():
    return [
        list(ChannelSettings.unscoped.order_by("pk").values()),
        list(SendingPolicy.unscoped.order_by("pk").values()),
    ]


def test_channel_settings_are_saved_and_secrets_never_shown(owner, merchant_a):
    # when
    response = owner.post(reverse("dashboard:settings_messages_channels"), CHANNELS)
    page = owner.get(reverse("dashboard:settings_messages"))
    # then
    assert response["Location"] == reverse("dashboard:settings_messages")
    row = ChannelSettings.unscoped.get(merchant=merchant_a)
    assert (row.email_provider, row.sms_from_number) == ("postmark", "+14155550123")
    assert (json.loads(row.email_credentials), row.twilio_auth_token) == (
        {"server_token": SECRET, "message_stream": "outbound"},
        TOKEN,
    )
    html = page.content.decode()
    assert SECRET not in html and TOKEN not in html
    assert '<span class="field__optional" data-token-state>set</span>' in html
    assert '<span class="field__optional" data-secret-state="server_token">set</span>' in html
    assert 'name="postmark__message_stream" value="outbound"' in html  # not a secret
    assert SID in html  # an account id, not a secret


def test_a_refused_channel_form_names_the_field_keeps_nothing_and_echoes_no_secret(
    owner, merchant_a
):
    # given
    before = settings_rows()
    # when
    response = owner.post(
        reverse("dashboard:settings_messages_channels"), {**CHANNELS, "twilio_account_sid": "AC1"}
    )
    # then
    assert response.status_code == 200
    errors = response.context["channels_form"].errors
    assert errors == {"twilio_account_sid": ["must be AC followed by 32 hexadecimal characters"]}
    html = response.content.decode()
    assert SECRET not in html and TOKEN not in html
    assert settings_rows() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email_provider": "pigeon"}, "email_provider"),
        ({"postmark__api_url": "https://evil.example/"}, "postmark__api_url"),
        ({"postmark__server_token": ""}, "postmark__server_token"),
        ({"twilio_auth_token": "short"}, "twilio_auth_token"),
        ({"sms_from_number": "123"}, "sms_from_number"),
        ({"sms_messaging_service_sid": "MG1"}, "sms_messaging_service_sid"),
        ({"sms_help_text": "x" * 321}, "sms_help_text"),
    ],
)
def test_each_bad_channel_field_is_shown_next_to_it(owner, merchant_a, change, field):
    # given
    before = settings_rows()
    # when
    response = owner.post(reverse("dashboard:settings_messages_channels"), {**CHANNELS, **change})
    # then
    assert list(response.context["channels_form"].errors) == [field]
    assert settings_rows() == before


def test_the_sending_policy_is_saved(owner, merchant_a):
    # when
    response = owner.post(reverse("dashboard:settings_messages_policy"), POLICY)
    # then
    assert response.status_code == 302
    policy = SendingPolicy.unscoped.get(merchant=merchant_a)
    assert (str(policy.send_from), str(policy.send_until)) == ("09:00:00", "20:30:00")
    assert (policy.quiet_hours_for_email, policy.transactional_anytime) == (True, False)
    assert (policy.marketing_cap, policy.cap_window_hours, policy.cap_mode) == (4, 48, "skip")


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"send_until": "09:00"}, "send_until", "must differ from the start of sending hours"),
        ({"marketing_cap": "101"}, "marketing_cap", "must be from 0 to 100"),
        ({"cap_window_hours": "0"}, "cap_window_hours", "must be from 1 to 720"),
        ({"cap_window_hours": "1000"}, "cap_window_hours", "must be from 1 to 720"),
        (
            {"cap_mode": "drop"},
            "cap_mode",
            "Select a valid choice. drop is not one of the available choices.",
        ),
    ],
)
def test_a_bad_policy_field_is_shown_and_nothing_changes(owner, merchant_a, change, field, error):
    # given
    before = settings_rows()
    # when
    response = owner.post(reverse("dashboard:settings_messages_policy"), {**POLICY, **change})
    # then
    assert response.context["policy_form"].errors == {field: [error]}
    assert settings_rows() == before


def test_channel_send_test_queues_a_message_and_opens_it(owner, merchant_a):
    # given: a number the team verified
    VerifiedPhone.unscoped.create(
        merchant=merchant_a, phone="+14155550199", verified_at=datetime(2026, 6, 1, tzinfo=UTC)
    )
    # when
    response = owner.post(
        reverse("dashboard:settings_messages_test"), {"channel": "sms", "to": "+1 415 555 0199"}
    )
    # then
    sent = Message.unscoped.get(merchant=merchant_a)
    assert response["Location"] == reverse("dashboard:message_detail", args=[sent.pk])
    assert (sent.channel, sent.status, sent.reason, sent.to) == (
        "sms",
        "queued",
        "test",
        "+14155550199",
    )


def test_channel_send_test_to_a_bad_number_is_shown_on_the_field(owner, merchant_a):
    # when
    response = owner.post(
        reverse("dashboard:settings_messages_test"), {"channel": "sms", "to": "12"}
    )
    # then
    assert response.status_code == 200
    assert response.context["sms_test_form"].errors["to"]
    assert Message.unscoped.count() == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_members_who_may_not_change_settings_read_them_only(merchant_a, member_of, signed_in, role):
    # given
    channel_settings_save(
        merchant=merchant_a,
        data={"email_provider": "postmark", "email_credentials": {"server_token": SECRET}},
    )
    client = signed_in(member_of(merchant_a, role))
    before = (settings_rows(), list(Message.unscoped.values()))
    # when
    page = client.get(reverse("dashboard:settings_messages"))
    posts = [
        client.post(reverse("dashboard:settings_messages_channels"), CHANNELS),
        client.post(reverse("dashboard:settings_messages_policy"), POLICY),
        client.post(
            reverse("dashboard:settings_messages_test"), {"channel": "email", "to": "a@b.example"}
        ),
    ]
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "only owners and admins can change them" in html
    assert "Save channel settings" not in html and "Send a test email" not in html
    assert SECRET not in html
    assert [r.status_code for r in posts] == [403, 403, 403]
    assert (settings_rows(), list(Message.unscoped.values())) == before


def test_navigation_links_the_message_pages(owner):
    # when
    response = owner.get(reverse("dashboard:message_template_list"))
    # then
    sections = {s.title: s.links for s in response.context["dashboard_navigation"]}
    messages = next(link for link in sections[""] if link.label == "Messages")
    assert (messages.url, messages.is_active, messages.is_soon) == ("/app/messages/", True, False)
    assert sections["Settings"][-1].url == "/app/settings/messages/"
