"""Signed shopper links: a purpose, the merchant bound in, an expiry where the purpose asks for
one, and one answer (``None``) for every way a token can be wrong."""

import time
from datetime import timedelta

import pytest
from django.core import signing
from django.urls import reverse

from notifications.links import PREFERENCES, UNSUBSCRIBE, token_read
from orders.shopper_views import ORDER_STATUS
from postpurchase.shopper.tokens import (
    ORDER_LINK_MAX_AGE,
    LinkPurpose,
    link_read,
    link_token,
    link_url,
)
from tests.shopper.sent_links import (
    OLD_KEY,
    OLD_PREFERENCES,
    OLD_UNSUBSCRIBE_EMAIL,
    OLD_UNSUBSCRIBE_SMS,
)

T0 = 1_780_000_000.0  # 2026-05-28, any fixed instant
EXPIRING = LinkPurpose("tests.expiring", fields={"o": int}, max_age=timedelta(days=90))


def test_a_token_reads_back_what_it_was_made_with():
    # when
    token = link_token(purpose=EXPIRING, merchant_id=7, now=T0, o=42)

    # then
    assert link_read(token, purpose=EXPIRING, merchant_id=7, now=T0) == {"m": 7, "o": 42}


def test_a_token_of_another_purpose_is_refused():
    # given: the same fields, another purpose's salt
    other = LinkPurpose("tests.other", fields={"o": int})
    token = link_token(purpose=other, merchant_id=7, now=T0, o=42)

    # when / then
    assert link_read(token, purpose=EXPIRING, merchant_id=7, now=T0) is None
    assert link_read(token, purpose=other, merchant_id=7, now=T0) == {"m": 7, "o": 42}


def test_a_token_of_another_merchant_is_refused():
    # given
    token = link_token(purpose=EXPIRING, merchant_id=7, now=T0, o=42)

    # when / then
    assert link_read(token, purpose=EXPIRING, merchant_id=8, now=T0) is None


def test_an_expiring_token_is_accepted_up_to_its_max_age_and_refused_a_second_later():
    # given
    token = link_token(purpose=EXPIRING, merchant_id=7, now=T0, o=42)
    max_age = timedelta(days=90).total_seconds()

    # when / then
    assert link_read(token, purpose=EXPIRING, merchant_id=7, now=T0 + max_age) == {"m": 7, "o": 42}
    assert link_read(token, purpose=EXPIRING, merchant_id=7, now=T0 + max_age + 1) is None


def test_the_order_link_expires_after_90_days_and_message_links_never():
    # then
    assert (ORDER_LINK_MAX_AGE.days, ORDER_STATUS.max_age.days) == (90, 90)
    assert (UNSUBSCRIBE.max_age, PREFERENCES.max_age) == (None, None)


def test_a_preference_link_ten_years_old_still_reads():
    # given
    token = link_token(purpose=PREFERENCES, merchant_id=7, now=T0, c=9)

    # when
    data = link_read(token, purpose=PREFERENCES, merchant_id=7, now=T0 + 10 * 365 * 86400)

    # then
    assert data == {"m": 7, "c": 9}


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "eyJtIjo3LCJvIjo0Mn0",  # a payload without signature
        "eyJtIjo3LCJvIjo0Mn0:1tSxOK:forged-signature",
        "::",
        "e" * 5000,
    ],
    ids=["empty", "words", "unsigned", "forged", "separators", "long"],
)
def test_a_malformed_token_is_refused(token):
    # when / then
    assert link_read(token, purpose=EXPIRING, merchant_id=7, now=T0) is None


def test_a_well_signed_token_whose_signature_is_moved_onto_another_payload_is_refused():
    # given
    seven = link_token(purpose=EXPIRING, merchant_id=7, now=T0, o=42)
    eight = link_token(purpose=EXPIRING, merchant_id=8, now=T0, o=42)
    forged = eight.split(":")[0] + ":" + seven.split(":", 1)[1]

    # when / then
    assert link_read(forged, purpose=EXPIRING, merchant_id=8, now=T0) is None


@pytest.mark.parametrize(
    "payload",
    [
        ["m", 7],
        {"o": 42},
        {"m": "7", "o": 42},
        {"m": True, "o": 42},
        {"m": 7},
        {"m": 7, "o": "42"},
        {"m": 7, "o": True},
        {"m": 7, "o": None},
    ],
    ids=[
        "list",
        "no-merchant",
        "text-merchant",
        "bool-merchant",
        "no-field",
        "text",
        "bool",
        "null",
    ],
)
def test_a_signed_payload_of_the_wrong_shape_is_refused(payload):
    # given: signed by us with the purpose's salt, but not what the purpose carries
    token = signing.dumps(payload, salt=EXPIRING.salt)

    # when / then
    assert link_read(token, purpose=EXPIRING, merchant_id=7) is None


def test_a_token_is_made_only_with_the_purposes_fields():
    # when / then
    with pytest.raises(ValueError, match=r"tests.expiring takes \['o'\], got \['c'\]"):
        link_token(purpose=EXPIRING, merchant_id=7, c=42)


def test_tokens_are_what_signing_dumps_makes_so_either_reads_the_other():
    # given
    ours = link_token(purpose=EXPIRING, merchant_id=7, o=42)
    djangos = signing.dumps({"m": 7, "o": 42}, salt=EXPIRING.salt)

    # when / then
    assert signing.loads(ours, salt=EXPIRING.salt, max_age=60) == {"m": 7, "o": 42}
    assert link_read(djangos, purpose=EXPIRING, merchant_id=7) == {"m": 7, "o": 42}


def test_a_token_signed_now_is_read_with_the_wall_clock():
    # given
    token = link_token(purpose=EXPIRING, merchant_id=7, o=42)

    # when / then
    assert link_read(token, purpose=EXPIRING, merchant_id=7) == {"m": 7, "o": 42}
    assert link_read(token, purpose=EXPIRING, merchant_id=7, now=time.time() + 91 * 86400) is None


def test_links_sent_before_the_shell_still_read(settings):
    # given
    settings.SECRET_KEY = OLD_KEY

    # when / then
    assert link_read(OLD_PREFERENCES, purpose=PREFERENCES, merchant_id=7001) == {
        "m": 7001,
        "c": 8001,
    }
    assert link_read(OLD_UNSUBSCRIBE_EMAIL, purpose=UNSUBSCRIBE, merchant_id=7001) == {
        "m": 7001,
        "c": 8001,
        "ch": "email",
    }
    # the mailto reply path reads without knowing the merchant first
    assert token_read(OLD_UNSUBSCRIBE_SMS, salt=UNSUBSCRIBE.salt) == {
        "m": 7001,
        "c": 8001,
        "ch": "sms",
    }
    assert link_read(OLD_PREFERENCES, purpose=UNSUBSCRIBE, merchant_id=7001) is None


def test_an_unsubscribe_token_naming_no_channel_of_ours_is_refused():
    # given
    token = link_token(purpose=UNSUBSCRIBE, merchant_id=7, c=9, ch="pigeon")

    # when / then
    assert link_read(token, purpose=UNSUBSCRIBE, merchant_id=7) == {"m": 7, "c": 9, "ch": "pigeon"}
    assert token_read(token, salt=UNSUBSCRIBE.salt) is None


def test_a_link_url_is_the_site_address_of_the_named_page(settings, merchant_a):
    # given
    settings.SITE_URL = "https://shop.example/"

    # when
    url = link_url(merchant=merchant_a, view_name="shopper_orders:order", token="abc:def:ghi")

    # then
    assert url == "https://shop.example/s/alpha/order/abc:def:ghi/"


@pytest.mark.parametrize(
    "view_name",
    [
        "shopper_notifications:unsubscribe",
        "shopper_notifications:preferences",
        "shopper_orders:order",
    ],
)
def test_a_link_url_is_what_reverse_makes(settings, merchant_a, view_name):
    # given: a real token (letters, digits, "-", "_" and ":")
    settings.SITE_URL = "https://shop.example"
    token = link_token(purpose=EXPIRING, merchant_id=merchant_a.pk, o=-1)

    # when
    url = link_url(merchant=merchant_a, view_name=view_name, token=token)

    # then
    assert url == "https://shop.example" + reverse(
        view_name, kwargs={"merchant_slug": "alpha", "token": token}
    )
