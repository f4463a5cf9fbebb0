"""Dashboard fixtures: signed-in clients, an order with a shipment in each merchant, API keys,
and a snapshot of the rows a settings page could change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from orders.services import order_ingest, shipment_ingest
from postpurchase.tenancy.models import ApiKey, Membership, Merchant
from postpurchase.tenancy.scoping import merchant_scope
from postpurchase.tenancy.services import api_key_create
from tests.factories import order_payload

PASSWORD = "correct-horse-battery"  # tests.factories.UserFactory's password
INGESTED_AT = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)


@pytest.fixture
def client_for():
    """``client_for(user)`` → a test client signed in as ``user``."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def shipment_payload(**overrides) -> dict:
    """A shipment of both units of ``order_payload()``'s line, out for delivery."""
    payload = {
        "external_id": "shp-1",
        "order_external_id": "ord-1001",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": "https://track.example/1Z999AA10123456784",
        "estimated_delivery": "2026-03-05",
        "lines": [{"line_external_id": "line-1", "quantity": 2}],
        "checkpoints": [
            {
                "status": "in_transit",
                "occurred_at": "2026-03-02T09:30:00Z",
                "description": "Departed facility",
                "location": "Newark, NJ",
            },
            {
                "status": "out_for_delivery",
                "occurred_at": "2026-03-04T13:15:00Z",
                "description": "On the van",
                "location": "Brooklyn, NY",
            },
        ],
    }
    payload.update(overrides)
    return payload


def ingest_order_with_shipment(merchant: Merchant):
    payload = order_payload(currency=merchant.currency)
    order = order_ingest(merchant=merchant, payload=payload, now=INGESTED_AT).instance
    shipment_ingest(merchant=merchant, payload=shipment_payload(), now=INGESTED_AT)
    return order


@pytest.fixture
def order_a(merchant_a):
    return ingest_order_with_shipment(merchant_a)


@pytest.fixture
def order_b(merchant_b):
    return ingest_order_with_shipment(merchant_b)


@pytest.fixture
def api_key_a(merchant_a, owner_a):
    return api_key_create(merchant=merchant_a, name="Shop sync", created_by=owner_a).api_key


@pytest.fixture
def api_key_b(merchant_b, owner_b):
    return api_key_create(merchant=merchant_b, name="Bravo sync", created_by=owner_b).api_key


@pytest.fixture
def db_state():
    """``db_state()`` → every row a dashboard POST could change, to compare before and after."""

    def snapshot() -> dict[str, list[dict]]:
        from connectors.models import InboundConfig
        from orders.models import Order
        from webhooks.models import WebhookDelivery, WebhookEndpoint

        state = {
            "merchants": list(Merchant.objects.order_by("pk").values()),
            "memberships": list(Membership.objects.order_by("pk").values()),
            "api_keys": list(ApiKey.objects.order_by("pk").values()),
            "webhook_endpoints": list(WebhookEndpoint.unscoped.order_by("pk").values()),
            "webhook_deliveries": list(WebhookDelivery.unscoped.order_by("pk").values()),
        }
        for merchant in Merchant.objects.all():
            with merchant_scope(merchant):
                state[f"orders:{merchant.slug}"] = list(Order.objects.order_by("pk").values())
                state[f"inbound:{merchant.slug}"] = list(
                    InboundConfig.objects.order_by("pk").values()
                )
        return state

    return snapshot
