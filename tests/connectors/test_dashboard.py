"""The integrations settings page: who may use it, the URLs to paste, secrets that are never
shown back (Shopify's, our tracking webhook's, EasyPost's, AfterShip's and Shippo's token),
deliveries and privacy requests, and exports that stay within their merchant."""

from __future__ import annotations

import hashlib
import json
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from connectors.models import InboundConfig, PrivacyRequest
from orders.models import Shipment
from postpurchase.tenancy.permissions import Role
from tests.connectors import feed_payloads, payloads
from tests.connectors.conftest import SHOPIFY_SECRET_A, SHOPIFY_SECRET_B, deliveries
from tests.connectors.test_tracking_feeds import (
    AFTERSHIP_SECRET_A,
    EASYPOST_SECRET_A,
    EASYPOST_SECRET_B,
    feed_post,
)

PAGE = "/app/settings/integrations/"


def config_state() -> list[dict]:
    return list(
        InboundConfig.unscoped.order_by("pk").values(
            "merchant_id",
            "shopify_secret",
            "shopify_secret_hint",
            "tracking_secret",
            "easypost_secret",
            "aftership_secret",
            "shippo_secret",
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


def test_the_shopify_secret_is_kept_out_of_error_reports(owner_a, client_for):
    # Django's error reports (an exception mailed to the operators) replace it with stars
    response = client_for(owner_a).post(
        f"{PAGE}shopify-secret/", {"secret": SHOPIFY_SECRET_A, "shop_domain": "alpha.myshopify.com"}
    )
    assert response.wsgi_request.sensitive_post_parameters == ("secret",)


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
        ("easypost-secret/", {"secret": EASYPOST_SECRET_A}),
        ("aftership-secret/", {"secret": AFTERSHIP_SECRET_A}),
        ("shippo-token/", {}),
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


# --- the tracking services: EasyPost, AfterShip, Shippo ----------------------------------------

SITE = settings.SITE_URL.rstrip("/")
SECRET_RULE = "Paste the webhook secret exactly as {} has it (8 to 255 characters, no spaces)."
NAMES = {"easypost": "EasyPost", "aftership": "AfterShip"}
SECRETS_A = {"easypost": EASYPOST_SECRET_A, "aftership": AFTERSHIP_SECRET_A}


def code(element_id: str, text: str) -> str:
    return f'<code class="secret__value" id="{element_id}">{text}</code>'


def shown(when) -> str:
    """A time as the page shows it, in merchant A's zone ("M j, Y, H:i")."""
    local = when.astimezone(ZoneInfo("America/New_York"))
    return f"{local:%b} {local.day}, {local:%Y, %H:%M}"


def feed_form(response, vendor: str):
    """The form the page rendered for ``vendor``'s secret."""
    return next(feed["form"] for feed in response.context["feeds"] if feed["vendor"] == vendor)


def test_the_page_shows_each_services_url_and_no_secret_yet(owner_a, client_for):
    # when
    html = client_for(owner_a).get(PAGE).content.decode()
    # then
    feeds = f"{SITE}/webhooks/tracking/alpha"
    assert code("easypost-url", f"{feeds}/easypost/") in html
    assert code("aftership-url", f"{feeds}/aftership/") in html
    assert code("shippo-url", f"{feeds}/shippo/?token=&lt;token&gt;") in html
    assert "No secret yet: every EasyPost delivery is refused until you paste one." in html
    assert "No secret yet: every AfterShip delivery is refused until you paste one." in html
    assert "No token yet: generate one, then paste the full URL into Shippo." in html
    assert "Generate token" in html
    assert "Generate a new Shippo token?" not in html
    # one field per form, each with its own id, none of them holding a value
    for field_id in ("id_secret", "id_easypost_secret", "id_aftership_secret"):
        assert html.count(f'id="{field_id}"') == 1
    assert '<label for="id_easypost_secret">EasyPost webhook secret</label>' in html
    assert '<label for="id_aftership_secret">AfterShip webhook secret</label>' in html
    assert html.count('type="password" name="secret" autocomplete="off"') == 3


def test_an_owner_sets_the_easypost_secret_and_easypost_deliveries_then_verify(
    shopify, connected_a, owner_a, client, client_for, eager
):
    # given: order #1001 with its UPS parcel
    shopify(connected_a, "orders/create", payloads.order(), "wh-1")
    shopify(connected_a, "fulfillments/create", payloads.fulfillment(), "wh-2")
    refused = feed_post(client, "alpha", "easypost", feed_payloads.easypost(), secret="x" * 8)
    # when
    saved = client_for(owner_a).post(f"{PAGE}easypost-secret/", {"secret": EASYPOST_SECRET_A})
    with eager():
        sent = feed_post(
            client, "alpha", "easypost", feed_payloads.easypost(), secret=EASYPOST_SECRET_A
        )
    # then
    assert refused.status_code == 401
    assert (saved.status_code, saved["Location"]) == (302, PAGE)
    assert (sent.status_code, sent.json()) == (200, {"status": "received"})
    assert deliveries()[-1] == (
        "alpha",
        "tracking",
        "easypost:evt_8c3f0e1a5b2d4e6f9a7b",
        "tracking/easypost",
        "processed",
        1,
        "",
    )
    assert Shipment.unscoped.get().status == "out_for_delivery"


@pytest.mark.parametrize("vendor", ["easypost", "aftership"])
def test_saving_a_services_secret_never_shows_it_back(vendor, owner_a, client_for):
    # when
    response = client_for(owner_a).post(
        f"{PAGE}{vendor}-secret/", {"secret": f"  {SECRETS_A[vendor]} "}, follow=True
    )
    # then
    html = response.content.decode()
    assert response.redirect_chain == [(PAGE, 302)]
    assert f"{NAMES[vendor]} secret saved. New deliveries are verified with it." in html
    assert SECRETS_A[vendor] not in html
    config = InboundConfig.unscoped.get()
    assert getattr(config, f"{vendor}_secret") == SECRETS_A[vendor]
    set_at = getattr(config, f"{vendor}_secret_set_at")
    assert f"Set on {shown(set_at)}." in html
    assert "Replace secret" in html


def test_replacing_a_services_secret_says_until_when_the_old_one_works(owner_a, client_for):
    # given
    client = client_for(owner_a)
    client.post(f"{PAGE}easypost-secret/", {"secret": EASYPOST_SECRET_A})
    # when
    html = client.post(
        f"{PAGE}easypost-secret/", {"secret": "ep-alpha-next-secret-9d3f"}, follow=True
    ).content.decode()
    # then
    config = InboundConfig.unscoped.get()
    until = config.easypost_previous_expires_at
    assert (config.easypost_secret, config.easypost_previous_secret) == (
        "ep-alpha-next-secret-9d3f",
        EASYPOST_SECRET_A,
    )
    assert f"The previous one keeps working until {shown(until)}." in html
    assert "ep-alpha-next-secret-9d3f" not in html and EASYPOST_SECRET_A not in html


@pytest.mark.parametrize("vendor", ["easypost", "aftership"])
@pytest.mark.parametrize("secret", ["", "   ", "seven77", "x" * 256, "has a space"])
def test_a_blank_too_short_too_long_or_spaced_secret_is_refused_on_its_field(
    vendor, secret, owner_a, client_for
):
    # when
    response = client_for(owner_a).post(f"{PAGE}{vendor}-secret/", {"secret": secret})
    # then
    message = SECRET_RULE.format(NAMES[vendor])
    assert response.status_code == 200
    assert feed_form(response, vendor).errors == {"secret": [message]}
    other = "aftership" if vendor == "easypost" else "easypost"
    assert feed_form(response, other).errors == {}
    html = response.content.decode()
    assert f'<p class="field__error">{message}</p>' in html
    assert 'aria-invalid="true"' in html
    assert secret.strip() == "" or secret not in html
    assert config_state() == []


def test_a_new_shippo_token_is_shown_once_in_its_url(owner_a, client, client_for, eager):
    # given
    page = client_for(owner_a)
    # when
    created = page.post(f"{PAGE}shippo-token/")
    later = page.get(PAGE)
    # then
    token = InboundConfig.unscoped.get().shippo_secret
    assert token.startswith("shp_")
    url = f"{SITE}/webhooks/tracking/alpha/shippo/?token={token}"
    assert created.status_code == 200
    assert f'<code class="secret__value" id="new-shippo-url" data-new-shippo-url>{url}</code>' in (
        created.content.decode()
    )
    assert "no-store" in created["Cache-Control"]
    assert token not in later.content.decode()
    assert "Rotate token" in later.content.decode()
    assert (
        'data-confirm="Generate a new Shippo token? The current one keeps working for 24 hours."'
        in (later.content.decode())
    )
    # and Shippo's deliveries to that URL verify
    assert feed_post(client, "alpha", "shippo", feed_payloads.shippo(), token=token).json() == {
        "status": "received"
    }


def test_rotating_the_shippo_token_shows_only_the_new_one(owner_a, client_for):
    # given
    page = client_for(owner_a)
    page.post(f"{PAGE}shippo-token/")
    first = InboundConfig.unscoped.get().shippo_secret
    # when
    html = page.post(f"{PAGE}shippo-token/").content.decode()
    # then
    config = InboundConfig.unscoped.get()
    assert (config.shippo_previous_secret, config.shippo_secret != first) == (first, True)
    assert config.shippo_secret in html
    assert first not in html
    until = config.shippo_previous_expires_at
    assert f"The previous token keeps working until {shown(until)}." in html


def test_another_merchants_member_sets_only_their_own_merchants_secret(
    connected_a, merchant_b, owner_b, client, client_for
):
    # given
    before = config_state()
    # when
    response = client_for(owner_b).post(f"{PAGE}easypost-secret/", {"secret": EASYPOST_SECRET_B})
    # then
    assert response.status_code == 302
    after = {row["merchant_id"]: row for row in config_state()}
    assert after[connected_a.pk] == next(r for r in before if r["merchant_id"] == connected_a.pk)
    assert after[merchant_b.pk]["easypost_secret"] == EASYPOST_SECRET_B
    signed_by_b = feed_post(
        client, "alpha", "easypost", feed_payloads.easypost(), secret=EASYPOST_SECRET_B
    )
    assert signed_by_b.status_code == 401


@pytest.mark.parametrize("path", ["easypost-secret/", "aftership-secret/", "shippo-token/"])
def test_a_get_of_the_services_forms_changes_nothing(path, owner_a, client_for):
    # when
    response = client_for(owner_a).get(PAGE + path)
    # then
    assert response.status_code == 405
    assert config_state() == []
