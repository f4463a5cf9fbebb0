"""Receiving Shopify webhooks: the signature, the 401s that store nothing, dedupe on the webhook
id, topics we do not use, secret rotation and tenant isolation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.models import InboundDelivery
from connectors.services import shopify_secret_set
from orders.models import Customer, Order
from postpurchase.events.models import Event
from tests.connectors import payloads
from tests.connectors.conftest import (
    SHOPIFY_SECRET_A,
    SHOPIFY_SECRET_B,
    deliveries,
    shop_domain,
    shopify_hmac,
    shopify_post,
)

UNAUTHORIZED = {
    "type": "https://postpurchase.dev/problems/signature_invalid",
    "title": "Invalid webhook signature",
    "status": 401,
    "detail": "The webhook signature is missing or invalid.",
    "code": "signature_invalid",
}


def stored() -> tuple[int, int, int, int]:
    return (
        InboundDelivery.unscoped.count(),
        Order.unscoped.count(),
        Customer.unscoped.count(),
        Event.unscoped.count(),
    )


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body():
    # given: the value openssl gives:
    #   printf '{"id":1}' | openssl dgst -sha256 -hmac hush -binary | base64
    body = b'{"id":1}'
    # when
    signature = shopify_hmac("hush", body)
    # then
    assert signature == "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY="


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "",
        "not-base64",
        shopify_hmac("another secret", b"{}"),
        shopify_hmac(SHOPIFY_SECRET_A, b'{"id": 1}'),  # a valid signature of another body
    ],
)
def test_a_bad_or_missing_signature_is_refused_with_401_and_nothing_is_stored(
    client, connected_a, signature
):
    # when
    response = shopify_post(
        client,
        "alpha",
        "orders/create",
        payloads.order(),
        webhook_id="wh-1",
        signature=signature,
    )
    # then
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == UNAUTHORIZED
    assert stored() == (0, 0, 0, 0)


def test_an_unknown_merchant_or_one_without_a_secret_gets_the_same_401(client, merchant_a):
    # given: alpha exists but has pasted no secret yet; "nobody" does not exist
    body = payloads.order()
    # when
    no_secret = shopify_post(
        client, "alpha", "orders/create", body, webhook_id="wh-1", secret=SHOPIFY_SECRET_A
    )
    unknown = shopify_post(
        client, "nobody", "orders/create", body, webhook_id="wh-2", secret=SHOPIFY_SECRET_A
    )
    # then
    assert (no_secret.status_code, no_secret.json()) == (401, UNAUTHORIZED)
    assert (unknown.status_code, unknown.json()) == (401, UNAUTHORIZED)
    assert stored() == (0, 0, 0, 0)


def test_merchant_as_secret_cannot_post_to_merchant_b(client, connected_a, connected_b):
    # when
    response = shopify_post(
        client,
        "bravo",
        "orders/create",
        payloads.order(),
        webhook_id="wh-1",
        secret=SHOPIFY_SECRET_A,
    )
    # then
    assert response.status_code == 401
    assert stored() == (0, 0, 0, 0)


def test_a_signed_delivery_is_recorded_processed_and_answered_200(shopify, connected_a):
    # when
    response = shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # then
    assert (response.status_code, response.json()) == (200, {"status": "received"})
    assert deliveries() == [("alpha", "shopify", "wh-1", "orders/create", "processed", 1, "")]
    delivery = InboundDelivery.unscoped.get()
    assert delivery.body == payloads.order()
    assert delivery.headers == {
        "X-Shopify-Shop-Domain": "alpha.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
    }
    assert Order.unscoped.get().number == "#1001"


def test_the_same_webhook_id_twice_gives_one_delivery_one_order_one_event(shopify, connected_a):
    # given
    first = shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # when
    second = shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # then
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"status": "duplicate"}
    assert stored() == (1, 1, 1, 1)
    assert list(Event.unscoped.values_list("type", flat=True)) == ["order.placed"]


def test_the_same_webhook_id_of_another_merchant_is_another_delivery(
    shopify, connected_a, connected_b
):
    # when
    shopify(connected_a, "orders/create", payloads.order(currency="USD"), "wh-1")
    shopify(connected_b, "orders/create", payloads.order(currency="EUR"), "wh-1", SHOPIFY_SECRET_B)
    # then
    assert [(d[0], d[2], d[4]) for d in deliveries()] == [
        ("alpha", "wh-1", "processed"),
        ("bravo", "wh-1", "processed"),
    ]
    assert sorted(Order.unscoped.values_list("merchant__slug", "currency")) == [
        ("alpha", "USD"),
        ("bravo", "EUR"),
    ]


def test_a_topic_we_do_not_use_is_answered_200_and_recorded_as_ignored(shopify, connected_a):
    # when
    response = shopify(connected_a, "products/update", {"id": 1, "title": "Shoe"}, "wh-9")
    # then
    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert deliveries() == [
        (
            "alpha",
            "shopify",
            "wh-9",
            "products/update",
            "ignored",
            0,
            "products/update is not a topic we use.",
        )
    ]


@pytest.mark.parametrize(
    ("raw", "headers_ok"),
    [
        (b"not json", True),
        (b"[1, 2]", True),
        (b'{"a": NaN}', True),
        (b'{"id": 1, "line_items": [], "a": "nul \\u0000"}', True),  # text PostgreSQL cannot store
        (b"\xff\xfe", True),
        (b"{}", False),
    ],
)
def test_a_signed_but_malformed_delivery_is_refused_with_400_and_nothing_stored(
    client, connected_a, raw, headers_ok
):
    # when
    response = shopify_post(
        client,
        "alpha",
        "orders/create",
        None,
        webhook_id="wh-1" if headers_ok else "",
        secret=SHOPIFY_SECRET_A,
        raw=raw,
    )
    # then
    assert response.status_code == 400
    # titled as the docs' table titles the code, like the API's problems
    assert (response.json()["code"], response.json()["title"]) == (
        "body_invalid",
        "Invalid webhook body",
    )
    assert stored() == (0, 0, 0, 0)


def test_a_get_is_not_allowed(client, connected_a):
    # when
    response = client.get("/webhooks/shopify/alpha/")
    # then
    assert response.status_code == 405


def test_the_previous_secret_verifies_until_its_grace_period_ends(client, connected_a):
    # given: the merchant pasted a new secret
    shop = shop_domain("alpha")
    shopify_secret_set(merchant=connected_a, secret="shpss_alpha_new_secret_0001", shop_domain=shop)
    # Three updates of the order (three bodies: one body is one delivery, whatever its id).
    bodies = [payloads.order(updated_at=f"2026-03-01T07:00:0{n}-05:00") for n in (5, 6, 7)]
    # when
    old = shopify_post(
        client, "alpha", "orders/updated", bodies[0], webhook_id="wh-1", secret=SHOPIFY_SECRET_A
    )
    new = shopify_post(
        client,
        "alpha",
        "orders/updated",
        bodies[1],
        webhook_id="wh-2",
        secret="shpss_alpha_new_secret_0001",
    )
    shopify_secret_set(
        merchant=connected_a,
        secret="shpss_alpha_newer_secret_02",
        shop_domain=shop,
        now=timezone.now() - timedelta(hours=25),
    )
    expired = shopify_post(
        client,
        "alpha",
        "orders/updated",
        bodies[2],
        webhook_id="wh-3",
        secret="shpss_alpha_new_secret_0001",
    )
    # then
    assert (old.status_code, new.status_code, expired.status_code) == (200, 200, 401)
    assert InboundDelivery.unscoped.count() == 2


def test_a_signed_body_nested_too_deeply_to_parse_is_400_and_nothing_is_stored(client, connected_a):
    # given: correctly signed, but 100,000 "[" is past what Python's JSON parser can read
    raw = b"[" * 100_000

    # when
    response = shopify_post(
        client, "alpha", "orders/create", None, webhook_id="wh-1", secret=SHOPIFY_SECRET_A, raw=raw
    )

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "body_invalid"
    assert stored() == (0, 0, 0, 0)
