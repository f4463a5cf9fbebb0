"""message_send: the one way out. Consent, suppression, the frequency cap and sending hours are
decided before the outbox row is written; one row per idempotency key, even under races."""

import threading
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection

from notifications.models import (
    Message,
    MessageEvent,
    SendingPolicy,
    Suppression,
)
from notifications.rendering import sample_context
from notifications.services import message_send, message_template_save
from tests.factories import CustomerFactory, MerchantFactory

# 15:00 UTC on a June Tuesday: 11:00 in New York, 17:00 in Paris.
NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


def template(merchant, *, key, channel="email", category="transactional"):
    variant = (
        {"locale": "en", "subject": "Hi {{ customer.first_name }}", "html_body": "<p>Hi</p>"}
        if channel == "email"
        else {"locale": "en", "sms_body": "{{ merchant.name }}: {{ tracking_url }}"}
    )
    payload = {"key": key, "name": key, "channel": channel, "category": category}
    return message_template_save(merchant=merchant, payload={**payload, "variants": [variant]})


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(timezone="Europe/Paris")
    customer = CustomerFactory(
        merchant=merchant,
        email="Ada@Example.com",
        phone="+14155550123",
        timezone="America/New_York",
        email_marketing_consent=True,
        sms_marketing_consent=True,
    )
    return merchant, customer


def send(merchant, customer, tmpl, key, now=NOON, **kwargs):
    return message_send(
        merchant=merchant,
        template=tmpl,
        customer=customer,
        context=sample_context(),
        idempotency_key=key,
        now=now,
        **kwargs,
    )


def test_a_transactional_email_is_queued_rendered_with_its_event(shop):
    # given
    merchant, customer = shop
    tmpl = template(merchant, key="confirmation")

    # when
    message = send(merchant, customer, tmpl, "order:1:confirmation")

    # then
    message.refresh_from_db()
    assert (message.status, message.reason, message.to, message.channel) == (
        "queued",
        "",
        "ada@example.com",
        "email",
    )
    assert message.subject == "Hi Ada"
    assert "<p>Hi</p>" in message.html and message.html.startswith("<!DOCTYPE html>")
    assert message.text.startswith("Hi\n\n--\nDemo Outfitters\n")
    assert message.template_version_id == tmpl.current_version_id
    assert list(MessageEvent.unscoped.filter(message=message).values_list("status", "reason")) == [
        ("queued", "")
    ]


def test_the_same_idempotency_key_returns_the_first_message_and_sends_nothing_more(shop):
    merchant, customer = shop
    tmpl = template(merchant, key="confirmation")
    first = send(merchant, customer, tmpl, "k-1")
    second = send(merchant, customer, tmpl, "k-1", now=NOON + timedelta(hours=1))
    assert second.pk == first.pk
    assert (Message.unscoped.count(), MessageEvent.unscoped.count()) == (1, 1)


def test_marketing_needs_consent_on_that_channel(shop):
    merchant, customer = shop
    customer.sms_marketing_consent = False
    customer.save()
    tmpl = template(merchant, key="winback-sms", channel="sms", category="marketing")

    message = send(merchant, customer, tmpl, "k-1")

    assert (message.status, message.reason, message.sms) == ("suppressed", "no_consent", "")


def test_a_suppressed_address_gets_nothing_not_even_transactional(shop):
    merchant, customer = shop
    Suppression.unscoped.create(
        merchant=merchant, channel="email", address="ada@example.com", reason="bounce"
    )
    message = send(merchant, customer, template(merchant, key="confirmation"), "k-1")
    assert (message.status, message.reason) == ("suppressed", "suppressed_bounce")


def test_no_address_is_suppressed_with_the_reason(shop):
    merchant, customer = shop
    customer.phone = ""
    customer.save()
    message = send(merchant, customer, template(merchant, key="s", channel="sms"), "k-1")
    assert (message.status, message.reason) == ("suppressed", "no_address")


def test_over_the_cap_a_marketing_message_waits_for_the_window(shop):
    # given: at most two marketing messages a day
    merchant, customer = shop
    SendingPolicy.unscoped.create(merchant=merchant, marketing_cap=2, cap_window_hours=24)
    promo = template(merchant, key="promo", category="marketing")
    receipt = template(merchant, key="receipt")
    send(merchant, customer, promo, "p-1", now=NOON - timedelta(hours=5))
    send(merchant, customer, promo, "p-2", now=NOON - timedelta(hours=1))

    # when
    third = send(merchant, customer, promo, "p-3")
    transactional = send(merchant, customer, receipt, "r-1")

    # then: the third waits until the first leaves the window; receipts are never capped
    assert (third.status, third.reason) == ("deferred", "frequency_cap")
    assert third.deferred_until == NOON - timedelta(hours=5) + timedelta(hours=24)
    assert transactional.status == "queued"


def test_over_the_cap_a_merchant_may_skip_instead(shop):
    merchant, customer = shop
    SendingPolicy.unscoped.create(merchant=merchant, marketing_cap=1, cap_mode="skip")
    promo = template(merchant, key="promo", category="marketing")
    send(merchant, customer, promo, "p-1")
    skipped = send(merchant, customer, promo, "p-2")
    assert (skipped.status, skipped.reason) == ("suppressed", "frequency_cap")


def test_an_sms_outside_sending_hours_waits_for_the_shoppers_morning(shop):
    # given: 03:00 UTC is 23:00 in New York (the shopper) and 05:00 in Paris (the merchant)
    merchant, customer = shop
    promo = template(merchant, key="promo-sms", channel="sms", category="marketing")
    late = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)

    # when
    message = send(merchant, customer, promo, "k-1", now=late)

    # then: 08:00 in New York, 12:00 UTC
    assert (message.status, message.reason) == ("deferred", "quiet_hours")
    assert message.deferred_until == datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
    assert message.sms == "Demo Outfitters: https://t.example/s/demo/t/abc"  # rendered already


def test_sending_hours_fall_back_to_the_merchants_zone(shop):
    merchant, customer = shop
    customer.timezone = ""
    customer.save()
    promo = template(merchant, key="promo-sms", channel="sms", category="marketing")
    message = send(merchant, customer, promo, "k-1", now=datetime(2026, 6, 2, 3, 0, tzinfo=UTC))
    assert message.deferred_until == datetime(2026, 6, 2, 6, 0, tzinfo=UTC)  # 08:00 in Paris


def test_transactional_and_email_go_at_night_unless_the_merchant_says_otherwise(shop):
    merchant, customer = shop
    night = datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
    shipped_sms = template(merchant, key="shipped-sms", channel="sms")
    promo_email = template(merchant, key="promo", category="marketing")
    assert send(merchant, customer, shipped_sms, "a", now=night).status == "queued"
    assert send(merchant, customer, promo_email, "b", now=night).status == "queued"

    SendingPolicy.unscoped.create(
        merchant=merchant,
        transactional_anytime=False,
        quiet_hours_for_email=True,
        send_from=time(9),
        send_until=time(20),
    )
    held = [
        send(merchant, customer, t, k, now=night)
        for t, k in ((shipped_sms, "c"), (promo_email, "d"))
    ]
    assert {(m.status, m.deferred_until) for m in held} == {
        ("deferred", datetime(2026, 6, 2, 13, 0, tzinfo=UTC))  # 09:00 in New York
    }


def test_a_template_that_fails_on_real_data_is_a_failed_message_with_the_reason(shop):
    merchant, customer = shop
    tmpl = template(merchant, key="confirmation")
    context = sample_context()
    del context["customer"]
    message = message_send(
        merchant=merchant,
        template=tmpl,
        customer=customer,
        context=context,
        idempotency_key="k-1",
        now=NOON,
    )
    assert (message.status, message.reason) == ("failed", "render")
    assert message.detail == (
        "subject: line 1: unknown variable 'customer': this message has no value for it"
    )


def run_together(targets):
    barrier = threading.Barrier(len(targets))
    errors, results = [], []

    def wrap(target):
        def go():
            try:
                barrier.wait(timeout=10)
                results.append(target())
            except Exception as exc:  # reported by the test
                errors.append(exc)
            finally:
                connection.close()

        return go

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.mark.django_db(transaction=True)
def test_two_sends_at_once_cannot_both_slip_under_the_cap():
    merchant = MerchantFactory()
    customer = CustomerFactory(merchant=merchant, email_marketing_consent=True)
    SendingPolicy.unscoped.create(merchant=merchant, marketing_cap=1)
    promo = template(merchant, key="promo", category="marketing")

    results, errors = run_together(
        [lambda k=k: send(merchant, customer, promo, k) for k in ("a", "b", "c")]
    )

    assert errors == []
    assert sorted(m.status for m in results) == ["deferred", "deferred", "queued"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_customer", [True, False])
def test_two_calls_at_once_with_one_key_make_one_message(with_customer):
    merchant = MerchantFactory()
    customer = CustomerFactory(merchant=merchant) if with_customer else None
    tmpl = template(merchant, key="confirmation")

    results, errors = run_together(
        [lambda: send(merchant, customer, tmpl, "same", to="ada@example.com") for _ in range(4)]
    )

    assert errors == []
    assert len({m.pk for m in results}) == 1
    assert (Message.unscoped.count(), MessageEvent.unscoped.count()) == (1, 1)


def test_a_template_that_sent_messages_cannot_be_deleted_an_unused_one_can(shop):
    from django.db.models import ProtectedError

    merchant, customer = shop
    used, unused = template(merchant, key="used"), template(merchant, key="unused")
    send(merchant, customer, used, "k-1")

    with pytest.raises(ProtectedError):
        used.delete()
    unused.delete()
    assert list(merchant_templates(merchant)) == ["used"]


def merchant_templates(merchant):
    from notifications.models import MessageTemplate

    return MessageTemplate.unscoped.filter(merchant=merchant).values_list("key", flat=True)


def test_deferred_messages_count_when_they_go_so_the_cap_holds_in_every_window(shop):
    # given: one marketing message a day; four asked for within three hours
    merchant, customer = shop
    SendingPolicy.unscoped.create(merchant=merchant, marketing_cap=1, cap_window_hours=24)
    promo = template(merchant, key="promo", category="marketing")

    # when
    sent = [
        send(merchant, customer, promo, f"p-{h}", now=NOON + timedelta(hours=h)) for h in range(4)
    ]

    # then: a day apart, not a burst when the first window ends
    assert [(m.status, m.deferred_until) for m in sent] == [
        ("queued", None),
        ("deferred", NOON + timedelta(hours=24)),
        ("deferred", NOON + timedelta(hours=48)),
        ("deferred", NOON + timedelta(hours=72)),
    ]


def test_the_template_must_be_the_merchants_and_the_recipient_valid(shop, merchant_b):
    from postpurchase.errors import DomainError

    merchant, customer = shop
    theirs = template(merchant_b, key="confirmation")
    with pytest.raises(DomainError) as caught:
        send(merchant, customer, theirs, "k-1")
    assert (caught.value.code, caught.value.field) == ("not_found", "template")

    sms = template(merchant, key="s", channel="sms")
    with pytest.raises(DomainError) as caught:
        send(merchant, None, sms, "k-2", to="not a number")
    assert caught.value.field == "to"
    message = send(merchant, None, sms, "k-3", to="+1 (415) 555-0123")
    assert message.to == "+14155550123"
    assert Message.unscoped.count() == 1


def test_a_template_cannot_change_the_senders_context(shop):
    merchant, customer = shop
    tmpl = template(merchant, key="confirmation")
    context = sample_context()
    send(merchant, customer, tmpl, "k-1")
    message_send(
        merchant=merchant,
        template=tmpl,
        customer=customer,
        context=context,
        idempotency_key="k-2",
        now=NOON,
    )
    assert context == sample_context()
