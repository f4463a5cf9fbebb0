"""The shopper's claim pages, reached with the tracking page's signed link: the form offers the
kinds the parcel may take now, files a claim (multipart, CSRF-checked), refuses with the
shopper's words, and the claim's page says where it stands."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from postpurchase.shopper.views import SHOPPER_CSP
from tests.tracking.claims.conftest import png_bytes
from tests.tracking.claims.test_filing import LOST_FROM, WINDOW_CLOSED, WINDOW_LAST_MOMENT
from tracking.claims import shopper_views
from tracking.claims.models import Claim
from tracking.links import tracking_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def at(monkeypatch):
    """``at(moment)``: the pages' clock stands at ``moment``."""
    return lambda moment: monkeypatch.setattr(shopper_views, "clock", lambda: moment)


def file_url(merchant, order, shipment=None):
    token = tracking_token(merchant_id=merchant.pk, order_id=order.pk)
    path = reverse("shopper_claims:file", kwargs={"merchant_slug": merchant.slug, "token": token})
    return f"{path}?parcel={shipment.pk}" if shipment else path


def kinds_offered(response) -> list[str]:
    return re.findall(r'name="kind" value="(\w+)"', response.content.decode())


def test_a_delivered_parcel_offers_damage_and_theft(client, merchant, parcel, at):
    # given
    order, shipment = parcel()
    at(WINDOW_LAST_MOMENT)

    # when
    response = client.get(file_url(merchant, order, shipment))

    # then
    assert response.status_code == 200
    assert kinds_offered(response) == ["damaged", "stolen"]
    assert response["Content-Security-Policy"] == SHOPPER_CSP
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cache-Control"] == "no-store"
    assert 'enctype="multipart/form-data"' in response.content.decode()


def test_an_idle_parcel_offers_lost_alone(client, merchant, parcel, at):
    order, shipment = parcel(delivered=False)
    at(LOST_FROM)
    assert kinds_offered(client.get(file_url(merchant, order, shipment))) == ["lost"]


def test_a_closed_window_shows_why_and_no_form(client, merchant, parcel, at):
    order, shipment = parcel()
    at(WINDOW_CLOSED)
    body = client.get(file_url(merchant, order, shipment)).content.decode()
    assert "data-claim-form" not in body
    assert "Claims can be made up to 15 days after delivery; that time has passed." in body


def test_filing_goes_to_the_claims_page(merchant, parcel, at):
    # given: a browser that sends its CSRF token, as a real one does
    order, shipment = parcel()
    at(WINDOW_LAST_MOMENT)
    client = Client(enforce_csrf_checks=True)
    url = file_url(merchant, order, shipment)
    page = client.get(url).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    # when
    response = client.post(
        url,
        {
            "csrfmiddlewaretoken": csrf,
            "kind": "damaged",
            "statement": "The box was crushed.",
            "photos": [SimpleUploadedFile("box.png", png_bytes(), content_type="image/png")],
        },
    )

    # then
    claim = Claim.unscoped.get()
    assert (claim.kind, claim.statement, claim.photos.count()) == (
        "damaged",
        "The box was crushed.",
        1,
    )
    assert response.status_code == 303
    assert response["Location"].endswith(f"/claim/status/?parcel={shipment.pk}")
    status = client.get(response["Location"]).content.decode()
    assert "We’ve got your claim" in status
    assert "C-1" in status
    # filed at 06:59:59 UTC on 20 March: still the 19th in Los Angeles, the shopper's zone
    assert claim.filed_at == WINDOW_LAST_MOMENT
    assert "<dd>19 March 2026</dd>" in status
    # the form again now leads to the claim
    assert client.get(url)["Location"] == response["Location"]


def test_a_post_without_csrf_is_refused_and_files_nothing(merchant, parcel, at):
    order, shipment = parcel()
    at(WINDOW_LAST_MOMENT)
    client = Client(enforce_csrf_checks=True)
    response = client.post(file_url(merchant, order, shipment), {"kind": "stolen"})
    assert response.status_code == 403
    assert Claim.unscoped.count() == 0


def test_a_file_that_is_not_a_photo_is_shown_by_the_photos(client, merchant, parcel, at):
    order, shipment = parcel()
    at(WINDOW_LAST_MOMENT)
    response = client.post(
        file_url(merchant, order, shipment),
        {
            "kind": "damaged",
            "photos": [SimpleUploadedFile("box.png", b"<svg/>", content_type="image/png")],
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"data-photo-error>Photo 1 is not a photo we can read\.", body)
    assert Claim.unscoped.count() == 0


def test_a_kind_the_parcel_cannot_take_is_refused_by_the_form(client, merchant, parcel, at):
    order, shipment = parcel()
    at(WINDOW_LAST_MOMENT)
    response = client.post(file_url(merchant, order, shipment), {"kind": "lost"})
    assert "data-kind-error" in response.content.decode()
    assert Claim.unscoped.count() == 0


def test_a_parcel_of_another_order_is_no_parcel(client, merchant, parcel, at):
    (order, _), (_, other_parcel) = parcel("ord-1"), parcel("ord-2")
    at(WINDOW_LAST_MOMENT)
    response = client.get(file_url(merchant, order, other_parcel))
    body = response.content.decode()
    assert response.status_code == 200
    assert "We couldn’t find that parcel in this order." in body
    assert "data-claim-form" not in body
    response = client.post(file_url(merchant, order, other_parcel), {"kind": "stolen"})
    assert Claim.unscoped.count() == 0


def test_another_merchants_slug_is_the_branded_404(client, merchant, merchant_b, parcel, at):
    order, shipment = parcel()
    at(WINDOW_LAST_MOMENT)
    token = tracking_token(merchant_id=merchant.pk, order_id=order.pk)
    path = reverse("shopper_claims:file", kwargs={"merchant_slug": "bravo", "token": token})
    assert client.get(f"{path}?parcel={shipment.pk}").status_code == 404


def test_an_upload_past_the_requests_limit_is_stopped_before_it_is_kept(
    client, merchant, parcel, at, monkeypatch
):
    # given: a limit of 1 kB for the whole request (5 photos of 8 MB, and the words, in life)
    from tracking.claims import photos

    monkeypatch.setattr(photos, "REQUEST_MAX_BYTES", 1024)
    order, shipment = parcel()
    at(WINDOW_LAST_MOMENT)

    # when
    response = client.post(
        file_url(merchant, order, shipment),
        {
            "kind": "damaged",
            "photos": [SimpleUploadedFile("big.png", png_bytes() + b"\0" * 2048)],
        },
    )

    # then
    assert response.status_code == 400
    assert Claim.unscoped.count() == 0


def test_posts_are_counted_before_the_body_is_read(client, merchant, parcel, at, settings):
    # given: two posts an hour, from an address or for an order
    settings.SHOPPER_LOOKUP_RATE_PER_IP = "2/h"
    order, shipment = parcel()

    # when
    codes = [
        client.post(file_url(merchant, order, shipment), {"kind": "lost"}).status_code
        for _ in range(3)
    ]

    # then
    assert codes == [200, 200, 429]
    assert Claim.unscoped.count() == 0
