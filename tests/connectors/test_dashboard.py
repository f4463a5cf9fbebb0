"""The integrations settings page: who may use it, the URLs to paste, secrets that are never
shown back, deliveries and privacy requests, and exports that stay within their merchant."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from connectors.models import InboundConfig, PrivacyRequest
from postpurchase.tenancy.permissions import Role
from tests.connectors import payloads
from tests.connectors.conftest import SHOPIFY_SECRET_A, SHOPIFY_SECRET_B

PAGE = "/app/settings/integrations/"


def config_state() -> list[dict]:
    return list(
        InboundConfig.unscoped.order_by("pk").values(
            "merchant_id", "shopify_secret", "shopify_secret_hint", "tracking_secret"
        )
    )


@pytest.fixture
def export_b(shopify, connected_b):
    """A data request of merchant B with its export."""
    body = payloads.data_request(shop_domain="bravo.myshopify.com")
    shopify(connected_b, "customers/data_request", body, "wh-b", SHOPIFY_SECRET_B)
    return PrivacyRequest.unscoped.get(merchant=connected_b)


def test_the_page_is_named_and_linked_from_the_navigation(owner_a, client_for):
    # when
    response = client_for(owner_a).get(reverse("dashboard:settings_integrations"))
    # then
    assert reverse("dashboard:settings_integrations") == PAGE
    assert response.status_code == 200
    settings_links = {
        link.label: link
        for section in response.context["dashboard_navigation"]
        for link in section.links
    }
    assert (settings_links["Integrations"].url, settings_links["Integrations"].is_active) == (
        PAGE,
        True,
    )


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.OWNER, 200), (Role.ADMIN, 200), (Role.EDITOR, 403), (Role.VIEWER, 403)],
)
def test_the_page_is_for_roles_that_manage_settings(
    role, status, merchant_a, member_of, client_for
):
    # when
    response = client_for(member_of(merchant_a, role)).get(PAGE)
    # then
    assert response.status_code == status


def test_the_page_shows_both_webhook_urls_to_paste(owner_a, client_for):
    # when
    html = client_for(owner_a).get(PAGE).content.decode()
    # then
    site = settings.SITE_URL.rstrip("/")
    assert f"{site}/webhooks/shopify/alpha/" in html
    assert f"{site}/webhooks/tracking/alpha/" in html
    assert "No secret yet" in html


def test_saving_the_shopify_secret_never_shows_it_back(owner_a, client_for):
    # given
    client = client_for(owner_a)
    # when
    response = client.post(
        f"{PAGE}shopify-secret/",
        {"secret": SHOPIFY_SECRET_A, "shop_domain": "https://Alpha.myshopify.com/"},
        follow=True,
    )
    # then
    html = response.content.decode()
    assert response.redirect_chain == [(PAGE, 302)]
    assert "Shopify secret saved." in html
    assert "A secret ending in <code>…8e6f</code> is set" in html
    assert ", for <code>alpha.myshopify.com</code>." in html
    assert SHOPIFY_SECRET_A not in html
    config = InboundConfig.unscoped.get()
    assert (config.shopify_secret, config.shopify_secret_hint, config.shopify_shop_domain) == (
        SHOPIFY_SECRET_A,
        "8e6f",
        "alpha.myshopify.com",
    )


def test_a_bad_shopify_secret_is_refused_and_not_echoed(owner_a, client_for):
    # when
    response = client_for(owner_a).post(
        f"{PAGE}shopify-secret/", {"secret": "short 1", "shop_domain": "alpha.myshopify.com"}
    )
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Paste the secret exactly as Shopify shows it" in html
    assert "short 1" not in html
    assert config_state() == []


def test_a_new_tracking_secret_is_shown_once(owner_a, client_for):
    # given
    client = client_for(owner_a)
    # when
    created = client.post(f"{PAGE}tracking-secret/")
    later = client.get(PAGE)
    # then
    secret = InboundConfig.unscoped.get().tracking_secret
    assert secret.startswith("trk_")
    assert secret in created.content.decode()
    assert "no-store" in created["Cache-Control"]
    assert secret not in later.content.decode()
    assert "Rotate secret" in later.content.decode()


def test_recent_deliveries_and_privacy_requests_are_listed(
    shopify, connected_a, owner_a, client_for
):
    # given
    shopify(connected_a, "orders/create", payloads.order(total_price="-1"), "wh-bad")
    shopify(connected_a, "customers/data_request", payloads.data_request(), "wh-dr")
    request = PrivacyRequest.unscoped.get()
    # when
    html = client_for(owner_a).get(PAGE).content.decode()
    # then
    assert "wh-bad" in html
    assert "total: Input should be greater than or equal to 0" in html
    assert "Customer data request" in html
    assert f'href="{PAGE}privacy-requests/{request.pk}/export/"' in html


def test_the_export_downloads_as_json(shopify, connected_a, owner_a, client_for):
    # given
    shopify(connected_a, "customers/data_request", payloads.data_request(), "wh-dr")
    request = PrivacyRequest.unscoped.get()
    # when
    response = client_for(owner_a).get(f"{PAGE}privacy-requests/{request.pk}/export/")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == (
        f'attachment; filename="privacy-request-{request.pk}.json"'
    )
    assert json.loads(response.content) == request.export


def test_another_merchants_export_answers_404(export_b, owner_a, client_for):
    # when
    response = client_for(owner_a).get(f"{PAGE}privacy-requests/{export_b.pk}/export/")
    # then
    assert response.status_code == 404


def test_the_export_is_refused_to_roles_without_the_settings_permission(
    shopify, connected_a, member_of, client_for
):
    # given
    shopify(connected_a, "customers/data_request", payloads.data_request(), "wh-dr")
    request = PrivacyRequest.unscoped.get()
    # when
    response = client_for(member_of(connected_a, Role.EDITOR)).get(
        f"{PAGE}privacy-requests/{request.pk}/export/"
    )
    # then
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("shopify-secret/", {"secret": SHOPIFY_SECRET_A, "shop_domain": "alpha.myshopify.com"}),
        ("tracking-secret/", {}),
    ],
)
def test_posts_without_a_csrf_token_or_the_permission_change_nothing(
    path, body, merchant_a, owner_a, member_of, client_for
):
    # given
    forged = Client(enforce_csrf_checks=True)
    forged.force_login(owner_a)
    editor = client_for(member_of(merchant_a, Role.EDITOR))
    # when
    no_token = forged.post(PAGE + path, body)
    no_perm = editor.post(PAGE + path, body)
    anonymous = Client().post(PAGE + path, body)
    # then
    assert (no_token.status_code, no_perm.status_code, anonymous.status_code) == (403, 403, 302)
    assert config_state() == []


def test_secrets_are_stored_encrypted(owner_a, client_for):
    # given
    client_for(owner_a).post(
        f"{PAGE}shopify-secret/", {"secret": SHOPIFY_SECRET_A, "shop_domain": "alpha.myshopify.com"}
    )
    # when
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT shopify_secret, shopify_secret_fingerprint FROM connectors_inboundconfig"
        )
        (stored, fingerprint) = cursor.fetchone()
    # then
    assert stored.startswith("fernet:")
    assert SHOPIFY_SECRET_A not in stored
    assert len(fingerprint) == 64
    assert SHOPIFY_SECRET_A not in fingerprint
    assert fingerprint != hashlib.sha256(SHOPIFY_SECRET_A.encode()).hexdigest()  # keyed
