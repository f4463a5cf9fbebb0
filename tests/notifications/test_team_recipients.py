"""Test sends go only to the team: members' sign-in addresses, and numbers a member verified
with a texted code; a merchant makes only a few an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from notifications.models import Message, VerifiedPhone
from notifications.services import channel_send_test
from notifications.team_recipients import verified_phone_add, verified_phone_confirm
from postpurchase.errors import DomainError
from tests.notifications.twilio_http import recording

NOW = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
PLATFORM_SID = "AC" + "ffeeddccbbaa99887766554433221100"
PHONE = "+14155550199"


@pytest.fixture
def platform_twilio(settings):
    settings.TWILIO_ACCOUNT_SID = PLATFORM_SID
    settings.TWILIO_AUTH_TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    with recording(settings) as twilio:
        yield twilio


def texted_code(twilio) -> str:
    return twilio.requests[-1].data["Body"][:6]


def test_a_test_email_to_someone_outside_the_team_is_refused(merchant_a, owner_a):
    # when
    with pytest.raises(DomainError) as raised:
        channel_send_test(merchant=merchant_a, channel="email", to="stranger@example.com", now=NOW)
    # then
    assert raised.value.code == "recipient_not_verified"
    assert raised.value.fields == {
        "to": [
            {
                "code": "recipient_not_verified",
                "message": "Test emails go only to your team's own addresses "
                "(a member's sign-in email).",
            }
        ]
    }
    assert Message.unscoped.count() == 0


def test_a_test_email_to_a_members_sign_in_address_goes(merchant_a, owner_a):
    # when
    message = channel_send_test(
        merchant=merchant_a, channel="email", to="OWNER@alpha.example", now=NOW
    )
    # then
    assert (message.to, message.status, message.reason) == ("owner@alpha.example", "queued", "test")


def test_another_merchants_member_is_not_this_teams_address(merchant_a, owner_a, owner_b):
    # when
    with pytest.raises(DomainError):
        channel_send_test(merchant=merchant_a, channel="email", to=owner_b.email, now=NOW)
    # then
    assert Message.unscoped.count() == 0


def test_a_test_text_to_a_number_nobody_verified_is_refused(merchant_a, owner_a):
    # given: a code was sent but never typed back
    VerifiedPhone.unscoped.create(merchant=merchant_a, phone=PHONE, code_hash="x", code_sent_at=NOW)
    # when
    with pytest.raises(DomainError) as raised:
        channel_send_test(merchant=merchant_a, channel="sms", to=PHONE, now=NOW)
    # then
    assert raised.value.fields["to"][0]["message"] == (
        "Test texts go only to numbers your team verified: add this one under "
        "Settings › Messages › Test phones first."
    )
    assert Message.unscoped.count() == 0


def test_a_number_is_verified_by_the_code_texted_to_it(merchant_a, owner_a, platform_twilio):
    # when
    pending = verified_phone_add(merchant=merchant_a, phone="(415) 555-0199", by=owner_a, now=NOW)
    code = texted_code(platform_twilio)
    verified = verified_phone_confirm(
        merchant=merchant_a, phone=PHONE, code=code, now=NOW + timedelta(minutes=9)
    )
    message = channel_send_test(merchant=merchant_a, channel="sms", to=PHONE, now=NOW)
    # then
    [request] = platform_twilio.requests
    assert request.data["To"] == PHONE
    assert request.data["Body"] == (
        f"{code} is your code to receive test texts from Alpha Apparel. It expires in 10 minutes."
    )
    assert "StatusCallback" not in request.data
    assert code.isdigit() and pending.code_hash and code not in pending.code_hash
    assert (verified.phone, verified.verified_at, verified.code_hash) == (
        PHONE,
        NOW + timedelta(minutes=9),
        "",
    )
    assert verified.added_by == owner_a
    assert (message.to, message.status) == (PHONE, "queued")


def test_wrong_codes_are_counted_and_the_fifth_locks_the_code(merchant_a, platform_twilio):
    # given
    verified_phone_add(merchant=merchant_a, phone=PHONE, now=NOW)
    code = texted_code(platform_twilio)
    wrong = "000000" if code != "000000" else "111111"
    # when
    messages = []
    for _ in range(5):
        with pytest.raises(DomainError) as raised:
            verified_phone_confirm(merchant=merchant_a, phone=PHONE, code=wrong, now=NOW)
        messages.append(raised.value.message)
    with pytest.raises(DomainError) as locked:
        verified_phone_confirm(merchant=merchant_a, phone=PHONE, code=code, now=NOW)
    # then
    assert messages == [f"That is not the code ({n} tries left)." for n in (4, 3, 2, 1, 0)]
    assert locked.value.message == "This code was guessed wrong too often: ask for a new one."
    assert VerifiedPhone.unscoped.get(merchant=merchant_a).verified_at is None


def test_a_code_expires_after_ten_minutes(merchant_a, platform_twilio):
    # given
    verified_phone_add(merchant=merchant_a, phone=PHONE, now=NOW)
    code = texted_code(platform_twilio)
    # when
    with pytest.raises(DomainError) as raised:
        verified_phone_confirm(
            merchant=merchant_a, phone=PHONE, code=code, now=NOW + timedelta(minutes=10, seconds=1)
        )
    # then
    assert raised.value.fields == {
        "code": [
            {
                "code": "verification_code_expired",
                "message": "This code has expired: ask for a new one.",
            }
        ]
    }


def test_codes_for_one_number_wait_a_minute_and_stop_at_five_a_day(merchant_a, platform_twilio):
    # given
    verified_phone_add(merchant=merchant_a, phone=PHONE, now=NOW)
    # when: again 30 s later
    with pytest.raises(DomainError) as too_soon:
        verified_phone_add(merchant=merchant_a, phone=PHONE, now=NOW + timedelta(seconds=30))
    for minutes in range(1, 5):  # four more, a minute apart
        verified_phone_add(merchant=merchant_a, phone=PHONE, now=NOW + timedelta(minutes=minutes))
    with pytest.raises(DomainError) as sixth:
        verified_phone_add(merchant=merchant_a, phone=PHONE, now=NOW + timedelta(minutes=5))
    verified_phone_add(merchant=merchant_a, phone=PHONE, now=NOW + timedelta(days=1))
    # then
    assert too_soon.value.message == "Wait 30 s before asking for another code."
    assert sixth.value.message == "At most 5 codes a day for one number."
    assert len(platform_twilio.requests) == 6


def test_a_number_outside_the_merchants_countries_cannot_be_verified_on_our_twilio(
    merchant_a, platform_twilio
):
    # when
    with pytest.raises(DomainError) as raised:
        verified_phone_add(merchant=merchant_a, phone="+447400123456", now=NOW)
    # then
    assert raised.value.code == "country_not_allowed"
    assert raised.value.message == (
        "Texts through our Twilio account go to numbers in US only; +447400123456 is in GB. "
        "Use your own Twilio account to text other countries."
    )
    assert platform_twilio.requests == []
    assert VerifiedPhone.unscoped.count() == 0


def test_test_sends_are_limited_per_merchant_per_hour(merchant_a, owner_a, merchant_b, settings):
    # given
    settings.TEST_SENDS_PER_HOUR = 2
    for minute in (0, 1):
        channel_send_test(
            merchant=merchant_a,
            channel="email",
            to=owner_a.email,
            now=NOW + timedelta(minutes=minute),
        )
    # when
    with pytest.raises(DomainError) as raised:
        channel_send_test(
            merchant=merchant_a, channel="email", to=owner_a.email, now=NOW + timedelta(minutes=2)
        )
    later = channel_send_test(
        merchant=merchant_a, channel="email", to=owner_a.email, now=NOW + timedelta(minutes=61)
    )
    # then
    assert (raised.value.code, raised.value.message) == (
        "throttled",
        "At most 2 test sends an hour; try again later.",
    )
    assert later.status == "queued"
    assert Message.unscoped.filter(merchant=merchant_a).count() == 3


def test_the_dashboard_verifies_a_number_then_sends_a_test_text_to_it(
    client, merchant_a, owner_a, platform_twilio
):
    # given
    client.force_login(owner_a)
    # when
    asked = client.post(reverse("dashboard:settings_messages_phone_add"), {"phone": PHONE})
    page = client.get(asked["Location"]).content.decode()
    code = texted_code(platform_twilio)
    confirmed = client.post(
        reverse("dashboard:settings_messages_phone_confirm"), {"phone": PHONE, "code": code}
    )
    sent = client.post(reverse("dashboard:settings_messages_test"), {"channel": "sms", "to": PHONE})
    # then
    assert (
        asked["Location"]
        == reverse("dashboard:settings_messages") + "?verify=%2B14155550199#test-phones"
    )
    assert f"Verify {PHONE}" in page
    assert confirmed.status_code == 302
    message = Message.unscoped.get(merchant=merchant_a)
    assert sent["Location"] == reverse("dashboard:message_detail", args=[message.pk])
    assert (message.channel, message.to, message.reason) == ("sms", PHONE, "test")


def test_a_refused_test_send_is_shown_on_the_field(client, merchant_a, owner_a):
    # given
    client.force_login(owner_a)
    # when
    response = client.post(
        reverse("dashboard:settings_messages_test"), {"channel": "email", "to": "x@example.com"}
    )
    # then
    assert response.status_code == 200
    assert response.context["email_test_form"].errors == {
        "to": ["Test emails go only to your team's own addresses (a member's sign-in email)."]
    }
    assert Message.unscoped.count() == 0
