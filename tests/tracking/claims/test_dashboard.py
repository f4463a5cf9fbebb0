"""The merchant's claim pages: the list by state, a claim with its photos and its parcel's
timeline, the decision and the resolution, photos served to members alone, and the settings
page refusing a value naming its field."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orders.models import Order
from postpurchase.tenancy.permissions import Role
from tests.tracking.claims.conftest import png_bytes
from tests.tracking.claims.test_filing import WINDOW_LAST_MOMENT, file
from tracking.claims.models import Claim, ProtectionSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim(merchant, parcel):
    return file(merchant, *parcel(), now=WINDOW_LAST_MOMENT)


@pytest.fixture
def owner(merchant, member_of):
    client = Client()
    client.force_login(member_of(merchant, Role.OWNER))
    return client


def test_the_list_filters_by_state(owner, claim):
    filed = owner.get(reverse("dashboard:claim_list") + "?state=filed").content.decode()
    rejected = owner.get(reverse("dashboard:claim_list") + "?state=rejected").content.decode()
    assert filed.count("data-claim-row") == 1
    assert "C-1" in filed
    assert rejected.count("data-claim-row") == 0


def test_the_detail_shows_the_statement_photos_timeline_and_value(owner, claim):
    photo = claim.photos.get()
    body = owner.get(reverse("dashboard:claim_detail", kwargs={"pk": claim.pk})).content.decode()
    assert "Crushed" in body
    assert reverse("dashboard:claim_photo", kwargs={"pk": photo.pk}) in body
    assert "Delivered" in body and "In transit" in body
    assert "data-parcel-value>$57.50<" in body


def test_a_photo_is_served_to_members_only(owner, claim, client, merchant_b, member_of):
    url = reverse("dashboard:claim_photo", kwargs={"pk": claim.photos.get().pk})
    # a member of the merchant
    response = owner.get(url)
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")
    assert b"".join(response.streaming_content) == png_bytes()
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("inline; filename=")
    # nobody signed in
    assert client.get(url).status_code == 302
    # a member of another merchant
    other = Client()
    other.force_login(member_of(merchant_b, Role.OWNER))
    assert other.get(url).status_code == 404


def test_approve_then_reship_from_the_page(owner, claim):
    decide = reverse("dashboard:claim_decide", kwargs={"pk": claim.pk})
    resolve = reverse("dashboard:claim_resolve", kwargs={"pk": claim.pk})
    assert owner.post(decide, {"decision": "approve", "message": ""}).status_code == 302
    response = owner.post(resolve, {"resolution": "reship"})
    assert response.status_code == 302
    claim.refresh_from_db()
    replacement = Order.unscoped.get(external_id="claim-1")
    assert (claim.state, claim.resolution, claim.replacement_order_id) == (
        "resolved",
        "reship",
        replacement.pk,
    )
    body = owner.get(reverse("dashboard:claim_detail", kwargs={"pk": claim.pk})).content.decode()
    assert "Reshipped:" in body and replacement.number in body


def test_a_rejection_without_a_message_shows_the_error_and_changes_nothing(owner, claim):
    decide = reverse("dashboard:claim_decide", kwargs={"pk": claim.pk})
    response = owner.post(decide, {"decision": "reject", "message": ""})
    assert response.status_code == 400
    assert "message: tell the shopper why" in response.content.decode()
    assert Claim.unscoped.get(pk=claim.pk).state == "filed"


def test_an_illegal_step_on_the_page_names_the_state(owner, claim):
    resolve = reverse("dashboard:claim_resolve", kwargs={"pk": claim.pk})
    response = owner.post(resolve, {"resolution": "refund"})
    assert response.status_code == 400
    assert "Claim C-1 is filed: it cannot be resolved." in response.content.decode()
    assert Claim.unscoped.get(pk=claim.pk).state == "filed"


def test_settings_save_and_refuse_naming_the_field(owner, merchant):
    url = reverse("dashboard:settings_protection")
    base = {
        "offered": "on",
        "protection_products": "SHIP-PROTECT\nroute-product-1",
        "claim_window_days": "20",
        "lost_after_days": "14",
        "claims_per_customer": "3",
        "limit_period_days": "180",
    }
    assert owner.post(url, base).status_code == 302
    saved = ProtectionSettings.unscoped.get(merchant=merchant)
    assert (saved.offered, saved.protection_products, saved.claim_window_days) == (
        True,
        ["SHIP-PROTECT", "route-product-1"],
        20,
    )
    assert (saved.lost_after_days, saved.damage_photo_required) == (14, False)
    # out of range: refused on its field, nothing saved
    response = owner.post(url, {**base, "claim_window_days": "91"})
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 90." in response.content.decode()
    # offered without any protection product
    response = owner.post(url, {**base, "protection_products": ""})
    assert "protection_products: name the SKU or product id" in response.content.decode()
    assert ProtectionSettings.unscoped.get(merchant=merchant).claim_window_days == 20
