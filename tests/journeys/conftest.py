"""Fixtures shared by the journeys test files split by subject (the API's, the dashboard's, the
engine's and the blueprints'). A test file that defines a fixture of the same name keeps its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from journeys.links import links
from journeys.services import journey_publish, journey_save
from notifications.services import message_template_save
from tests.factories import CustomerFactory, MerchantFactory
from tests.journeys.api_helpers import DEFINITION, T0, fire
from tests.journeys.engine_helpers import hello


@pytest.fixture
def follow_up(merchant_a):
    """A live journey and four customers through it:
    ada (vip) waited for her review, got it, was thanked and converted: completed;
    bob (no email) was not sent the confirmation and waits out the delay: active;
    cy (vip) waits for her review: waiting; dee cancelled her order: exited."""
    hello(merchant_a)
    journey = journey_save(
        merchant=merchant_a,
        key="follow-up",
        name="Follow-up",
        description="Thanks, then a review.",
        definition=DEFINITION,
        now=T0 - timedelta(days=1),
    )
    journey_publish(journey=journey, now=T0)
    ada, cy = (CustomerFactory(merchant=merchant_a, tags=["vip"], timezone="UTC") for _ in range(2))
    bob = CustomerFactory(merchant=merchant_a, email="", timezone="UTC")
    dee = CustomerFactory(merchant=merchant_a, timezone="UTC")
    for customer in (ada, bob, cy, dee):
        fire(merchant_a, customer, "order.placed", T0, order_id=customer.pk)
    fire(merchant_a, ada, "review.submitted", T0 + timedelta(hours=1), total="10.00")
    fire(merchant_a, dee, "order.cancelled", T0 + timedelta(hours=1))
    journey.refresh_from_db()
    return journey


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


@pytest.fixture
def templates_a(merchant_a):
    for key in ("hello", "reminder"):
        message_template_save(
            merchant=merchant_a,
            payload={
                "key": key,
                "name": key.title(),
                "channel": "email",
                "category": "transactional",
                "variants": [{"locale": "en", "subject": key, "html_body": "<p>Hi</p>"}],
            },
        )


@pytest.fixture
def shop(db):
    merchant = MerchantFactory(timezone="UTC", name="Demo Outfitters")
    for key in ("hello", "reminder", "thanks", "fallback_sms"):
        message_template_save(
            merchant=merchant,
            payload={
                "key": key,
                "name": key,
                "channel": "sms" if key.endswith("sms") else "email",
                "category": "transactional",
                "variants": [
                    {"locale": "en", "sms_body": "Hi from {{ merchant.name }}"}
                    if key.endswith("sms")
                    else {"locale": "en", "subject": key, "html_body": "<p>{{ merchant.name }}</p>"}
                ],
            },
        )
    customer = CustomerFactory(
        merchant=merchant, email="ada@example.com", phone="+14155550123", timezone="UTC"
    )
    return merchant, customer


@pytest.fixture
def blueprint_links():
    """Feedback and Loyalty, as they will register their links: with them, every blueprint
    publishes (without them, see test_blueprint_needs.py). Not autouse here, where it would reach
    every journeys test: the blueprints' test files ask for it with ``pytestmark``."""
    for name in ("survey_url", "loyalty_url", "return_url"):
        links.register(name, lambda *, customer, **about: f"https://t.example/{customer.pk}")
    yield
    for name in ("survey_url", "loyalty_url", "return_url"):
        links.unregister(name)


@pytest.fixture
def merchant(db):
    """The blueprints' merchant (a file that defines its own ``merchant`` keeps it)."""
    return MerchantFactory(
        timezone="UTC", name="Demo Outfitters", support_url="https://demo.example/help"
    )


@pytest.fixture
def customer(merchant):
    return CustomerFactory(
        merchant=merchant,
        first_name="Ada",
        email="ada@example.com",
        phone="+14155550123",
        timezone="UTC",
        email_marketing_consent=True,
    )
