"""Saving a merchant's channel settings and sending policy: every field checked, secrets kept
when left blank, one row per merchant, and nothing written when anything is wrong."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

import pytest

from notifications.models import ChannelSettings, SendingPolicy
from notifications.settings_services import channel_settings_save, sending_policy_save
from postpurchase.errors import DomainError

NOW = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
SID = "AC" + "0123456789abcdef" * 2
TOKEN = "fedcba9876543210" * 2
SERVICE = "MG" + "abcdef0123456789" * 2
OWN_SMS = {
    "twilio_account_sid": SID,
    "twilio_auth_token": TOKEN,
    "sms_from_number": "(415) 555-0123",
}


def rows(model) -> list[dict]:
    return list(model.unscoped.order_by("pk").values())


def test_channel_settings_are_saved_checked_and_normalised(merchant_a):
    # given
    data = {
        "email_provider": "postmark",
        "email_credentials": '{ "server_token": "pm-token" }',
        **OWN_SMS,
        "sms_help_text": "  Alpha Apparel: help@alpha.example. Reply STOP to opt out.  ",
    }
    # when
    saved = channel_settings_save(merchant=merchant_a, data=data, now=NOW)
    # then
    row = ChannelSettings.unscoped.get(merchant=merchant_a)
    assert row.pk == saved.pk
    assert row.email_provider == "postmark"
    assert json.loads(row.email_credentials) == {"server_token": "pm-token"}
    assert row.twilio_account_sid == SID
    assert row.twilio_auth_token == TOKEN
    assert row.sms_from_number == "+14155550123"  # read in the merchant's country (US)
    assert row.sms_help_text == "Alpha Apparel: help@alpha.example. Reply STOP to opt out."
    assert row.updated_at == NOW
    assert row.has_own_sms


def test_secrets_left_blank_keep_what_is_stored(merchant_a):
    # given
    channel_settings_save(
        merchant=merchant_a,
        data={"email_provider": "postmark", "email_credentials": '{"server_token": "pm"}'}
        | OWN_SMS,
    )
    # when: the form is saved again with empty secret boxes and a new help text
    channel_settings_save(
        merchant=merchant_a,
        data={
            "email_provider": "postmark",
            "email_credentials": "",
            "twilio_account_sid": SID,
            "twilio_auth_token": "",
            "sms_from_number": "+14155550123",
            "sms_help_text": "Help!",
        },
    )
    # then
    row = ChannelSettings.unscoped.get(merchant=merchant_a)
    assert json.loads(row.email_credentials) == {"server_token": "pm"}
    assert row.twilio_auth_token == TOKEN
    assert row.sms_help_text == "Help!"
    assert ChannelSettings.unscoped.count() == 1


def test_switching_back_to_the_platform_drops_the_stored_secrets(merchant_a):
    # given
    channel_settings_save(
        merchant=merchant_a,
        data={"email_provider": "postmark", "email_credentials": {"server_token": "pm"}} | OWN_SMS,
    )
    # when
    channel_settings_save(
        merchant=merchant_a,
        data={
            "email_provider": "",
            "email_credentials": "",
            "twilio_account_sid": "",
            "twilio_auth_token": "",
            "sms_from_number": "",
            "sms_messaging_service_sid": "",
        },
    )
    # then
    row = ChannelSettings.unscoped.get(merchant=merchant_a)
    assert (row.email_provider, row.email_credentials) == ("", "")
    assert (row.twilio_account_sid, row.twilio_auth_token) == ("", "")
    assert not row.has_own_sms


def test_a_messaging_service_may_replace_the_from_number(merchant_a):
    # when
    channel_settings_save(
        merchant=merchant_a,
        data={
            "twilio_account_sid": SID,
            "twilio_auth_token": TOKEN,
            "sms_messaging_service_sid": SERVICE,
        },
    )
    # then
    row = ChannelSettings.unscoped.get(merchant=merchant_a)
    assert (row.sms_from_number, row.sms_messaging_service_sid) == ("", SERVICE)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email_provider": "pigeon"}, "email_provider", "'pigeon' is not an email provider"),
        ({"email_provider": 3}, "email_provider", "must be text"),
        (
            {"email_provider": "postmark", "email_credentials": "{not json"},
            "email_credentials",
            "is not valid JSON",
        ),
        (
            {"email_provider": "postmark", "email_credentials": '["a", "b"]'},
            "email_credentials",
            "must be an object of the provider's settings",
        ),
        (
            {"email_provider": "postmark", "email_credentials": '{"Server-Token": "x"}'},
            "email_credentials",
            "'Server-Token' is not a setting name",
        ),
        (
            {"email_provider": "postmark", "email_credentials": '{"server_token": 42}'},
            "email_credentials.server_token",
            "must be text",
        ),
        (
            {
                "email_provider": "postmark",
                "email_credentials": json.dumps({"server_token": "x" * 4100}),
            },
            "email_credentials",
            "must be at most 4 KB",
        ),
        (
            {
                "email_provider": "postmark",
                "email_credentials": json.dumps({"server_token": "x" * 513}),
            },
            "email_credentials.server_token",
            "must be at most 512 characters",
        ),
        (
            {"email_provider": "postmark"},
            "email_credentials.server_token",
            "enter your Postmark server API token",
        ),
        (
            {"email_provider": "scaleway", "email_credentials": '{"secret_key": "s"}'},
            "email_credentials.project_id",
            "enter your Scaleway TEM project ID",
        ),
        (
            {"email_provider": "postmark", "email_credentials": '{"server_token": "t", "x": "1"}'},
            "email_credentials.x",
            "is not a Postmark setting (it takes server_token, message_stream, api_url)",
        ),
        (
            {"email_provider": "", "email_credentials": '{"server_token": "x"}'},
            "email_credentials",
            "choose the email provider these are for",
        ),
        (
            {**OWN_SMS, "twilio_account_sid": "AC123"},
            "twilio_account_sid",
            "must be AC followed by 32 hexadecimal characters",
        ),
        (
            {**OWN_SMS, "twilio_account_sid": "XX" + "0" * 32},
            "twilio_account_sid",
            "must be AC followed by 32 hexadecimal characters",
        ),
        (
            {**OWN_SMS, "twilio_auth_token": "not a token"},
            "twilio_auth_token",
            "must be 32 hexadecimal characters",
        ),
        (
            {"twilio_account_sid": SID, "sms_from_number": "+14155550123"},
            "twilio_auth_token",
            f"enter the auth token of account {SID}",
        ),
        (
            {"twilio_auth_token": TOKEN},
            "twilio_account_sid",
            "enter the Account SID this auth token belongs to",
        ),
        (
            {"twilio_account_sid": SID, "twilio_auth_token": TOKEN},
            "sms_from_number",
            "enter the number texts go from, or a Messaging Service SID",
        ),
        ({**OWN_SMS, "sms_from_number": "12"}, "sms_from_number", "must be a phone number"),
        (
            {"sms_from_number": "+14155550123"},
            "sms_from_number",
            "texts go from your number only through your own Twilio account",
        ),
        (
            {**OWN_SMS, "sms_messaging_service_sid": "MG12"},
            "sms_messaging_service_sid",
            "must be MG followed by 32 hexadecimal characters",
        ),
        ({"sms_help_text": "x" * 321}, "sms_help_text", "must be at most 320 characters"),
        ({"sms_help_text": "a\x00b"}, "sms_help_text", "must not contain a NUL character"),
        ({"sms_pigeon": "x"}, "sms_pigeon", "not a setting"),
    ],
)
def test_a_wrong_channel_setting_is_named_and_nothing_is_written(merchant_a, data, field, message):
    # given: settings already saved
    channel_settings_save(
        merchant=merchant_a,
        data={"email_provider": "sendgrid", "email_credentials": '{"api_key": "sg"}'},
        now=NOW,
    )
    before = rows(ChannelSettings)
    # when
    with pytest.raises(DomainError) as raised:
        channel_settings_save(merchant=merchant_a, data=data)
    # then
    assert field in raised.value.fields
    assert message in raised.value.fields[field][0]["message"]
    assert rows(ChannelSettings) == before


def test_a_refused_first_save_leaves_no_row(merchant_a):
    # when
    with pytest.raises(DomainError) as raised:
        channel_settings_save(merchant=merchant_a, data={"twilio_auth_token": TOKEN})
    # then
    assert list(raised.value.fields) == ["twilio_account_sid"]
    assert rows(ChannelSettings) == []


def test_every_wrong_field_is_reported_at_once(merchant_a):
    # when
    with pytest.raises(DomainError) as raised:
        channel_settings_save(
            merchant=merchant_a,
            data={"email_provider": "pigeon", "sms_help_text": "x" * 400},
        )
    # then
    assert set(raised.value.fields) == {"email_provider", "sms_help_text"}


def test_each_merchant_has_its_own_channel_settings(merchant_a, merchant_b):
    # given
    channel_settings_save(merchant=merchant_b, data={"sms_help_text": "Bravo help"})
    # when
    channel_settings_save(merchant=merchant_a, data={"sms_help_text": "Alpha help"})
    # then
    texts = dict(ChannelSettings.unscoped.values_list("merchant__slug", "sms_help_text"))
    assert texts == {"alpha": "Alpha help", "bravo": "Bravo help"}


# --- sending policy ---------------------------------------------------------------------------

POLICY = {
    "send_from": "09:30",
    "send_until": time(20, 0),
    "quiet_hours_for_email": True,
    "transactional_anytime": False,
    "marketing_cap": 5,
    "cap_window_hours": 48,
    "cap_mode": "skip",
}


def test_the_sending_policy_is_saved_once_per_merchant(merchant_a):
    # given
    sending_policy_save(merchant=merchant_a, data=POLICY)
    # when
    saved = sending_policy_save(merchant=merchant_a, data={"marketing_cap": 0})
    # then
    row = SendingPolicy.unscoped.get(merchant=merchant_a)
    assert row.pk == saved.pk
    assert (row.send_from, row.send_until) == (time(9, 30), time(20, 0))
    assert (row.quiet_hours_for_email, row.transactional_anytime) == (True, False)
    assert (row.marketing_cap, row.cap_window_hours, row.cap_mode) == (0, 48, "skip")


def test_sending_hours_may_run_overnight(merchant_a):
    # when
    sending_policy_save(merchant=merchant_a, data={"send_from": "22:00", "send_until": "07:00"})
    # then
    row = SendingPolicy.unscoped.get(merchant=merchant_a)
    assert (row.send_from, row.send_until) == (time(22), time(7))


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"send_from": "08:00", "send_until": "08:00"}, "send_until", "must differ"),
        ({"send_from": "21:00"}, "send_from", "must differ from the end"),  # stored end 21:00
        ({"send_from": "25:00"}, "send_from", "must be a time of day"),
        ({"send_until": 8}, "send_until", "must be a time of day"),
        ({"marketing_cap": 101}, "marketing_cap", "must be from 0 to 100"),
        ({"marketing_cap": -1}, "marketing_cap", "must be from 0 to 100"),
        ({"marketing_cap": True}, "marketing_cap", "must be a whole number"),
        ({"marketing_cap": "3"}, "marketing_cap", "must be a whole number"),
        ({"cap_window_hours": 0}, "cap_window_hours", "must be from 1 to 720"),
        ({"cap_window_hours": 721}, "cap_window_hours", "must be from 1 to 720"),
        ({"cap_mode": "drop"}, "cap_mode", "must be one of defer, skip"),
        ({"quiet_hours_for_email": "yes"}, "quiet_hours_for_email", "must be true or false"),
        ({"transactional_anytime": 1}, "transactional_anytime", "must be true or false"),
        ({"frequency": 3}, "frequency", "not a setting"),
    ],
)
def test_a_wrong_policy_field_is_named_and_nothing_is_written(merchant_a, data, field, message):
    # given: the defaults saved (08:00 to 21:00)
    sending_policy_save(merchant=merchant_a, data={"marketing_cap": 3})
    before = rows(SendingPolicy)
    # when
    with pytest.raises(DomainError) as raised:
        sending_policy_save(merchant=merchant_a, data=data)
    # then
    assert field in raised.value.fields
    assert message in raised.value.fields[field][0]["message"]
    assert rows(SendingPolicy) == before


def test_a_refused_first_policy_leaves_no_row(merchant_a):
    # when
    with pytest.raises(DomainError):
        sending_policy_save(merchant=merchant_a, data={"send_from": "21:00"})
    # then
    assert rows(SendingPolicy) == []


def test_settings_must_be_an_object(merchant_a):
    # when / then
    with pytest.raises(DomainError, match="must be a JSON object"):
        sending_policy_save(merchant=merchant_a, data=["send_from"])
