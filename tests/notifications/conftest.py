"""Fixtures shared by the provider callback test files (test_provider_callbacks_*.py). A test
file that defines a fixture of the same name keeps its own."""

from __future__ import annotations

import pytest
from django.core import mail

from notifications.models import ChannelSettings
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.provider_callbacks import (
    PLATFORM_NUMBER,
    PLATFORM_SID,
    PLATFORM_TOKEN,
    SHOP_NUMBER,
    SHOPPER_NUMBER,
    SITE,
    WEBHOOK_SECRET,
)
from tests.notifications.twilio_http import ACCOUNT_SID, AUTH_TOKEN, RecordingHttpClient, recording


@pytest.fixture
def provider_settings(settings):
    """Our site, the platform's Twilio account and Postmark's webhook secret, with Twilio's API
    recorded. Not autouse here, where it would reach every notifications test: the provider
    callback test files ask for it with ``pytestmark``."""
    settings.SITE_URL = SITE
    settings.TWILIO_ACCOUNT_SID = PLATFORM_SID
    settings.TWILIO_AUTH_TOKEN = PLATFORM_TOKEN
    settings.TWILIO_FROM_NUMBER = PLATFORM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.SMS_LOG_ONLY = False
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    mail.outbox = []
    with recording(settings):
        yield


@pytest.fixture
def twilio():
    """What was sent to Twilio's API (and what it will answer)."""
    return RecordingHttpClient


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(  # in the US: our Twilio texts only the merchant's countries
        name="Demo Outfitters", support_email="help@demo.example", timezone="UTC", country="US"
    )
    customer = CustomerFactory(
        merchant=merchant,
        email="ada@example.com",
        phone=SHOPPER_NUMBER,
        timezone="UTC",
        email_marketing_consent=True,
        sms_marketing_consent=True,
    )
    return merchant, customer


@pytest.fixture
def own_account(shop):
    merchant, _ = shop
    return ChannelSettings.unscoped.create(
        merchant=merchant,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        sms_from_number=SHOP_NUMBER,
    )
