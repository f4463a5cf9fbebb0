"""A shopper opens the preference centre from a message's link on a phone, unticks a topic and
saves, in Chromium, on the shopper shell (its Content Security Policy: the ``page`` fixture fails
the test on any violation)."""

import pytest
from django.urls import reverse

from notifications.links import preferences_token
from notifications.models import ContactPreference
from orders.models import Customer
from postpurchase.shopper.views import SHOPPER_CSP
from tests.factories import CustomerFactory, MerchantFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ada():
    merchant = MerchantFactory(
        slug="alpha", name="Alpha Apparel", primary_colour="#112233", accent_colour="#aa5500"
    )
    return CustomerFactory(
        merchant=merchant,
        email="ada@example.net",
        first_name="Ada",
        phone="+14155550123",
        email_marketing_consent=True,
        sms_marketing_consent=True,
    )


def test_shopper_unticks_a_topic_and_saves(page, live_server, ada):
    # given: the link from a message, opened on a phone-sized screen
    token = preferences_token(merchant_id=ada.merchant_id, customer_id=ada.pk)
    path = reverse(
        "shopper_notifications:preferences", kwargs={"merchant_slug": "alpha", "token": token}
    )
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{live_server.url}{path}")
    assert response.headers["content-security-policy"] == SHOPPER_CSP
    assert response.headers["referrer-policy"] == "same-origin"
    assert page.text_content("h1").strip() == "Ada, choose what Alpha Apparel sends you"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.is_checked("input[value=feedback]")

    # when
    page.uncheck("input[value=feedback]")
    page.click("text=Save preferences")

    # then
    page.wait_for_selector("[data-saved]")
    assert page.text_content("[data-saved]").strip() == "Your preferences are saved."
    assert not page.is_checked("input[value=feedback]")
    assert page.is_checked("input[value=onboarding]")
    preference = ContactPreference.unscoped.get(customer=ada)
    assert preference.muted_kinds == ["feedback"]
    customer = Customer.unscoped.get(pk=ada.pk)
    assert (customer.email_marketing_consent, customer.sms_marketing_consent) == (True, True)
    assert (customer.email_consent_source, customer.sms_consent_source) == ("", "")
