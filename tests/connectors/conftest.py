"""Connectors fixtures: merchants with their webhook secrets, signed posts computed here with the
documented algorithms (not with the code under test), and Celery run eagerly after commit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from connectors.models import InboundDelivery
from connectors.services import shopify_secret_set, tracking_secret_rotate
from postpurchase.celery import app

SHOPIFY_SECRET_A = "shpss_alpha_5f0c2a7e9b1d4c3a8e6f"
SHOPIFY_SECRET_B = "shpss_bravo_0a1b2c3d4e5f60718293"


def shopify_hmac(secret: str, body: bytes) -> str:
    """Shopify's documented signature: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def tracking_signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Our documented tracking signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def shop_domain(slug: str) -> str:
    """The store each test merchant is connected to: its slug under myshopify.com."""
    return f"{slug}.myshopify.com"


def shopify_post(
    client, slug, topic, body, *, webhook_id, secret=None, signature=None, raw=None, shop=None
):
    raw = raw if raw is not None else json.dumps(body).encode()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Shop-Domain": shop_domain(slug) if shop is None else shop,
        "X-Shopify-API-Version": "2025-10",
    }
    if signature is None and secret is not None:
        signature = shopify_hmac(secret, raw)
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    return client.post(
        f"/webhooks/shopify/{slug}/", data=raw, content_type="application/json", headers=headers
    )


def tracking_post(client, slug, body, *, secret=None, header=None, timestamp=None):
    raw = json.dumps(body).encode()
    headers = {}
    if header is None and secret is not None:
        header = tracking_signature_header(secret, raw, timestamp)
    if header is not None:
        headers["X-Tracking-Signature"] = header
    return client.post(
        f"/webhooks/tracking/{slug}/", data=raw, content_type="application/json", headers=headers
    )


@pytest.fixture
def connected_a(merchant_a):
    """Merchant A with its Shopify secret pasted and a tracking secret generated."""
    shopify_secret_set(
        merchant=merchant_a, secret=SHOPIFY_SECRET_A, shop_domain=shop_domain(merchant_a.slug)
    )
    _, tracking_secret = tracking_secret_rotate(merchant=merchant_a)
    merchant_a.tracking_secret = tracking_secret
    return merchant_a


@pytest.fixture
def connected_b(merchant_b):
    shopify_secret_set(
        merchant=merchant_b, secret=SHOPIFY_SECRET_B, shop_domain=shop_domain(merchant_b.slug)
    )
    _, tracking_secret = tracking_secret_rotate(merchant=merchant_b)
    merchant_b.tracking_secret = tracking_secret
    return merchant_b


@pytest.fixture
def client_for():
    """``client_for(user)`` → a test client signed in as ``user``."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def eager(django_capture_on_commit_callbacks):
    """Run Celery tasks in-process; ``with eager():`` also runs the after-commit callbacks (the
    enqueues) when the block ends, as a real commit would."""
    app.conf.task_always_eager = True
    try:
        yield lambda: django_capture_on_commit_callbacks(execute=True)
    finally:
        app.conf.task_always_eager = False


@pytest.fixture
def shopify(client, eager):
    """``shopify(merchant, topic, body, webhook_id)`` → the response, the delivery processed."""

    def send(merchant, topic, body, webhook_id, secret=SHOPIFY_SECRET_A):
        with eager():
            return shopify_post(
                client, merchant.slug, topic, body, webhook_id=webhook_id, secret=secret
            )

    return send


def deliveries() -> list[tuple]:
    return list(
        InboundDelivery.unscoped.order_by("id").values_list(
            "merchant__slug", "source", "delivery_id", "topic", "status", "attempts", "last_error"
        )
    )
