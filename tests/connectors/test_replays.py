"""Replays of signed Shopify deliveries. Shopify signs the body only: the webhook id, the topic
and the shop domain are headers anyone who captured a delivery can change. So a body we hold is
a duplicate under any webhook id, a connection takes bodies from its own store only, and no two
merchants may share a secret (whose bodies would then verify at both)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from connectors.models import InboundConfig, InboundDelivery
from connectors.services import shopify_secret_set
from connectors.shopify import shopify_shop_domain
from connectors.signatures import shopify_secret_fingerprints
from orders.models import Customer, Order
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.connectors import payloads
from tests.connectors.conftest import (
    SHOPIFY_SECRET_A,
    SHOPIFY_SECRET_B,
    deliveries,
    shopify_post,
)
from tests.factories import MerchantFactory

PAGE = "/app/settings/integrations/"


def stored() -> tuple[int, int, int, int]:
    return (
        InboundDelivery.unscoped.count(),
        Order.unscoped.count(),
        Customer.unscoped.count(),
        Event.unscoped.count(),
    )


def bound_domain(merchant) -> str:
    return InboundConfig.unscoped.get(merchant=merchant).shopify_shop_domain


# --- the body's digest ------------------------------------------------------------------------


def test_a_signed_body_sent_again_under_a_new_webhook_id_is_a_duplicate(shopify, connected_a):
    # given: a delivery Shopify made, captured on its way
    first = shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    # when: it is sent again under a webhook id of the sender's choosing
    replay = shopify(connected_a, "orders/create", payloads.order(), "wh-replayed")
    # then
    assert (first.json(), replay.json()) == ({"status": "received"}, {"status": "duplicate"})
    assert deliveries() == [("alpha", "shopify", "wh-1", "orders/create", "processed", 1, "")]
    assert stored() == (1, 1, 1, 1)


def test_a_signed_body_replayed_under_another_topic_is_a_duplicate(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", payloads.order(cancelled_at=None), "wh-1")
    # when: the same body, now claimed to be a cancellation
    replay = shopify(connected_a, "orders/cancelled", payloads.order(cancelled_at=None), "wh-2")
    # then
    assert replay.json() == {"status": "duplicate"}
    assert [d[2:4] for d in deliveries()] == [("wh-1", "orders/create")]


def test_the_digest_is_the_sha256_of_the_raw_body_as_signed(client, connected_a):
    # given: the body's own bytes, spaced as the sender spaced them
    raw = b'{"id": 1, "title": "Shoe"}'
    # when
    shopify_post(
        client,
        "alpha",
        "products/update",
        None,
        webhook_id="wh-1",
        secret=SHOPIFY_SECRET_A,
        raw=raw,
    )
    # then: printf '{"id": 1, "title": "Shoe"}' | sha256sum
    assert InboundDelivery.unscoped.get().body_sha256 == (
        "b4bb2a8ba8fd1f824d87de1e4ef9e3f303782b116571e12d84d9518676ffdbc4"
    )


def test_the_same_body_at_two_merchants_is_two_deliveries(shopify, connected_a, connected_b):
    # given: two stores that happen to send byte-identical bodies (each signed with its secret)
    body = {"id": 7, "title": "Gift card"}
    # when
    a = shopify(connected_a, "products/update", body, "wh-1")
    b = shopify(connected_b, "products/update", body, "wh-1", SHOPIFY_SECRET_B)
    # then
    assert (a.json(), b.json()) == ({"status": "ignored"}, {"status": "ignored"})
    assert [(d[0], d[2]) for d in deliveries()] == [("alpha", "wh-1"), ("bravo", "wh-1")]


# --- the shop domain --------------------------------------------------------------------------


@pytest.mark.parametrize("shop", ["charlie.myshopify.com", "not a domain", ""])
def test_a_body_signed_with_the_secret_from_another_shop_is_refused_with_403(
    client, connected_a, shop
):
    # given: alpha's connection is for alpha.myshopify.com
    # when: a body signed with alpha's secret comes from another store (or from none)
    response = shopify_post(
        client,
        "alpha",
        "orders/create",
        payloads.order(),
        webhook_id="wh-1",
        secret=SHOPIFY_SECRET_A,
        shop=shop,
    )
    # then
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://postpurchase.dev/problems/shop_mismatch",
        "title": "Shop mismatch",
        "status": 403,
        "detail": "X-Shopify-Shop-Domain does not name the store this connection is for.",
        "code": "shop_mismatch",
    }
    assert stored() == (0, 0, 0, 0)
    assert bound_domain(connected_a) == "alpha.myshopify.com"


def test_the_shop_domain_header_is_compared_without_regard_to_case(shopify, client, connected_a):
    # when
    response = shopify_post(
        client,
        "alpha",
        "orders/create",
        payloads.order(),
        webhook_id="wh-1",
        secret=SHOPIFY_SECRET_A,
        shop="Alpha.MyShopify.com",
    )
    # then
    assert (response.status_code, response.json()) == (200, {"status": "received"})


def test_a_connection_made_before_the_domain_was_asked_binds_to_its_first_delivery(
    client, connected_a
):
    # given: a connection saved before shop domains were asked for (as the migration leaves it)
    InboundConfig.unscoped.filter(merchant=connected_a).update(shopify_shop_domain="")
    # when: a wrongly signed delivery from another shop, then alpha's own, then another shop's
    forged = shopify_post(
        client,
        "alpha",
        "orders/create",
        payloads.order(),
        webhook_id="wh-0",
        secret="shpss_not_alphas_secret",
        shop="charlie.myshopify.com",
    )
    unbound_after_forged = bound_domain(connected_a)
    own = shopify_post(
        client,
        "alpha",
        "orders/create",
        payloads.order(),
        webhook_id="wh-1",
        secret=SHOPIFY_SECRET_A,
        shop="alpha.myshopify.com",
    )
    other = shopify_post(
        client,
        "alpha",
        "orders/updated",
        payloads.order(updated_at="2026-03-01T07:00:09-05:00"),
        webhook_id="wh-2",
        secret=SHOPIFY_SECRET_A,
        shop="charlie.myshopify.com",
    )
    # then
    assert (forged.status_code, unbound_after_forged) == (401, "")
    assert (own.status_code, other.status_code) == (200, 403)
    assert bound_domain(connected_a) == "alpha.myshopify.com"
    assert [d[2] for d in deliveries()] == ["wh-1"]


def test_a_refused_first_delivery_binds_nothing(client, connected_a):
    # given
    InboundConfig.unscoped.filter(merchant=connected_a).update(shopify_shop_domain="")
    # when: signed, from charlie, but not the topic's resource (refused before it is stored)
    response = shopify_post(
        client,
        "alpha",
        "shop/redact",
        payloads.order(),
        webhook_id="wh-1",
        secret=SHOPIFY_SECRET_A,
        shop="charlie.myshopify.com",
    )
    # then
    assert (response.status_code, response.json()["code"]) == (400, "topic_mismatch")
    assert bound_domain(connected_a) == ""


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("alpha.myshopify.com", "alpha.myshopify.com"),
        ("  https://Alpha-Store.myshopify.com/admin  ", "alpha-store.myshopify.com"),
        ("https://admin.shopify.com/store/alpha-store/orders", "alpha-store.myshopify.com"),
        ("alpha-store", "alpha-store.myshopify.com"),
        ("alpha.example.com", ""),
        ("evil.com/.myshopify.com", ""),
        ("alpha.myshopify.com.evil.com", ""),
        ("-alpha.myshopify.com", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_the_shop_domain_is_read_from_what_a_merchant_may_paste(typed, domain):
    # when / then
    assert shopify_shop_domain(typed) == domain


def test_connecting_asks_for_the_shops_domain(merchant_a):
    # when
    with pytest.raises(DomainError) as refused:
        shopify_secret_set(
            merchant=merchant_a, secret=SHOPIFY_SECRET_A, shop_domain="alpha.example.com"
        )
    # then
    assert (refused.value.code, refused.value.field) == ("invalid", "shop_domain")
    assert InboundConfig.unscoped.count() == 0


# --- one secret, one merchant -----------------------------------------------------------------


def test_a_secret_another_merchant_uses_is_refused_with_a_field_error(connected_a, merchant_b):
    # when
    with pytest.raises(DomainError) as refused:
        shopify_secret_set(
            merchant=merchant_b, secret=SHOPIFY_SECRET_A, shop_domain="bravo.myshopify.com"
        )
    # then
    assert (refused.value.code, refused.value.field) == ("secret_in_use", "secret")
    assert refused.value.message == (
        "Another store on this platform uses this secret. Paste the secret Shopify shows for "
        "this store's own webhooks or app."
    )
    assert list(InboundConfig.unscoped.values_list("merchant__slug", flat=True)) == ["alpha"]


def test_the_merchant_holding_a_secret_may_save_it_again(connected_a):
    # when: the same secret, the store's domain corrected
    config = shopify_secret_set(
        merchant=connected_a, secret=SHOPIFY_SECRET_A, shop_domain="alpha-store.myshopify.com"
    )
    # then
    assert (config.shopify_secret, config.shopify_shop_domain) == (
        SHOPIFY_SECRET_A,
        "alpha-store.myshopify.com",
    )
    assert config.shopify_previous_expires_at is None


def test_a_secret_is_still_refused_after_secret_key_rotation(settings, connected_a, merchant_b):
    # given: SECRET_KEY rotated; the old one kept in SECRET_KEY_FALLBACKS
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    # when
    with pytest.raises(DomainError) as refused:
        shopify_secret_set(
            merchant=merchant_b, secret=SHOPIFY_SECRET_A, shop_domain="bravo.myshopify.com"
        )
    # then
    assert refused.value.code == "secret_in_use"


def test_a_secret_freed_by_shop_redact_may_be_used_again(shopify, connected_a, merchant_b):
    # given: alpha's store uninstalled the app
    shopify(connected_a, "shop/redact", payloads.shop_redact(), "wh-1")
    # when
    config = shopify_secret_set(
        merchant=merchant_b, secret=SHOPIFY_SECRET_A, shop_domain="bravo.myshopify.com"
    )
    # then
    assert config.shopify_secret == SHOPIFY_SECRET_A
    alpha = InboundConfig.unscoped.get(merchant=connected_a)
    assert (alpha.shopify_secret_fingerprint, alpha.shopify_shop_domain) == ("", "")


def test_the_dashboard_shows_a_secret_in_use_on_its_field(connected_a, owner_b, client_for):
    # when
    response = client_for(owner_b).post(
        f"{PAGE}shopify-secret/",
        {"secret": SHOPIFY_SECRET_A, "shop_domain": "bravo.myshopify.com"},
    )
    # then
    assert response.status_code == 200
    form = response.context["shopify_form"]
    assert form.errors == {
        "secret": [
            "Another store on this platform uses this secret. Paste the secret Shopify shows "
            "for this store's own webhooks or app."
        ]
    }
    assert SHOPIFY_SECRET_A not in response.content.decode()
    assert list(InboundConfig.unscoped.values_list("merchant__slug", flat=True)) == ["alpha"]


def test_the_dashboard_asks_for_the_store_domain(owner_a, client_for):
    # when
    response = client_for(owner_a).post(
        f"{PAGE}shopify-secret/", {"secret": SHOPIFY_SECRET_A, "shop_domain": "alpha.example.com"}
    )
    # then
    assert response.context["shopify_form"].errors == {
        "shop_domain": ["Enter your store's Shopify domain, such as your-store.myshopify.com."]
    }
    assert InboundConfig.unscoped.count() == 0


# --- the migration for connections made before ------------------------------------------------


def test_the_migration_fingerprints_saved_secrets_and_leaves_a_shared_one_to_its_first(
    connected_a, connected_b
):
    # given: connections saved before fingerprints, a later one sharing alpha's secret
    InboundConfig.unscoped.update(shopify_secret_fingerprint="")
    InboundConfig.unscoped.create(
        merchant=MerchantFactory(slug="charlie"),
        shopify_secret=SHOPIFY_SECRET_A,
        shopify_secret_set_at=timezone.now() + timedelta(minutes=1),
    )
    migration = importlib.import_module(
        "connectors.migrations.0002_shopify_shop_domain_secret_fingerprint_body_digest"
    )
    # when
    migration.fingerprint_existing_secrets(apps, None)
    # then
    assert dict(
        InboundConfig.unscoped.values_list("merchant__slug", "shopify_secret_fingerprint")
    ) == {
        "alpha": shopify_secret_fingerprints(SHOPIFY_SECRET_A)[0],
        "bravo": shopify_secret_fingerprints(SHOPIFY_SECRET_B)[0],
        "charlie": "",
    }
