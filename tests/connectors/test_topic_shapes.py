"""Shopify signs the body, not the X-Shopify-Topic or X-Shopify-Shop-Domain headers: a body that
is not the topic's resource, or that names another shop, is refused before anything is stored."""

from __future__ import annotations

import json

import pytest

from connectors.models import InboundConfig, InboundDelivery
from orders.models import Customer
from tests.connectors import payloads
from tests.connectors.conftest import SHOPIFY_SECRET_A, shopify_hmac, shopify_post

BODIES = {
    "order": payloads.order,
    "fulfillment": payloads.fulfillment,
    "refund": payloads.refund,
    "customer_redact": payloads.customer_redact,
    "data_request": payloads.data_request,
    "shop_redact": payloads.shop_redact,
}
OWN = {
    "orders/create": "order",
    "orders/updated": "order",
    "orders/cancelled": "order",
    "orders/fulfilled": "order",
    "fulfillments/create": "fulfillment",
    "fulfillments/update": "fulfillment",
    "refunds/create": "refund",
    "customers/redact": "customer_redact",
    "customers/data_request": "data_request",
    "shop/redact": "shop_redact",
}
MISMATCHES = [(topic, body) for topic, own in OWN.items() for body in BODIES if body != own]


def test_a_signed_order_body_replayed_as_shop_redact_is_refused_and_erases_nothing(
    shopify, client, eager, connected_a
):
    # given: an attacker holds one signed orders/create body and its signature
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    raw = json.dumps(payloads.order()).encode()
    headers = {
        "X-Shopify-Topic": "shop/redact",
        "X-Shopify-Webhook-Id": "attacker-1",
        "X-Shopify-Hmac-Sha256": shopify_hmac(SHOPIFY_SECRET_A, raw),
    }
    # when
    with eager():
        response = client.post(
            "/webhooks/shopify/alpha/", data=raw, content_type="application/json", headers=headers
        )
    # then
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert {k: response.json()[k] for k in ("status", "code", "detail")} == {
        "status": 400,
        "code": "topic_mismatch",
        "detail": "The body is not a shop/redact payload.",
    }
    assert list(InboundDelivery.unscoped.values_list("delivery_id", flat=True)) == ["wh-1"]
    assert list(Customer.unscoped.values_list("email", "first_name")) == [
        ("jon@example.com", "Jon")
    ]
    config = InboundConfig.unscoped.get()
    assert (config.shopify_secret, config.shopify_disconnected_at) == (SHOPIFY_SECRET_A, None)


@pytest.mark.parametrize(("topic", "body"), MISMATCHES)
def test_a_body_of_another_resource_is_refused_with_400_naming_the_topic(
    client, connected_a, topic, body
):
    # when
    response = shopify_post(
        client, "alpha", topic, BODIES[body](), webhook_id="wh-1", secret=SHOPIFY_SECRET_A
    )
    # then
    assert (response.status_code, response.json()["code"], response.json()["detail"]) == (
        400,
        "topic_mismatch",
        f"The body is not a {topic} payload.",
    )
    assert InboundDelivery.unscoped.count() == 0


@pytest.mark.parametrize(("topic", "body"), OWN.items())
def test_each_topic_takes_its_own_resource(client, connected_a, topic, body):
    # when
    response = shopify_post(
        client, "alpha", topic, BODIES[body](), webhook_id="wh-1", secret=SHOPIFY_SECRET_A
    )
    # then
    assert (response.status_code, response.json()) == (200, {"status": "received"})
    assert list(InboundDelivery.unscoped.values_list("topic", flat=True)) == [topic]


def test_a_privacy_request_naming_another_shop_than_its_header_is_refused(client, connected_a):
    # given
    body = payloads.customer_redact(shop_domain="charlie.myshopify.com")
    # when
    response = shopify_post(
        client, "alpha", "customers/redact", body, webhook_id="wh-1", secret=SHOPIFY_SECRET_A
    )
    # then
    assert (response.status_code, response.json()["code"], response.json()["detail"]) == (
        400,
        "topic_mismatch",
        "The customers/redact body names another shop than X-Shopify-Shop-Domain.",
    )
    assert InboundDelivery.unscoped.count() == 0


def test_without_the_shop_domain_header_the_delivery_is_refused(client, connected_a):
    # given: a signed body, its X-Shopify-Shop-Domain header taken off
    raw = json.dumps(payloads.shop_redact(shop_domain="charlie.myshopify.com")).encode()
    headers = {
        "X-Shopify-Topic": "shop/redact",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Hmac-Sha256": shopify_hmac(SHOPIFY_SECRET_A, raw),
    }
    # when
    response = client.post(
        "/webhooks/shopify/alpha/", data=raw, content_type="application/json", headers=headers
    )
    # then: the connection is alpha's store, and nothing says this is alpha's
    assert (response.status_code, response.json()["code"]) == (403, "shop_mismatch")
    assert InboundDelivery.unscoped.count() == 0
