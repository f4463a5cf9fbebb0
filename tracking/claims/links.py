"""Where a shopper files and follows a claim: pages under the tracking page's own signed link
(``tracking.links.TRACKING_PAGE``: the token names the order), so the link a shopper already
holds opens them and no second kind of token exists."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from postpurchase.shopper.tokens import link_url
from tracking.links import tracking_token

FILE_VIEW = "shopper_claims:file"
CLAIM_VIEW = "shopper_claims:claim"


def claim_file_url(*, merchant, order_id: int, shipment_id: int, now: float | None = None) -> str:
    """The claim form for one parcel, as an absolute address."""
    token = tracking_token(merchant_id=merchant.pk, order_id=order_id, now=now)
    return f"{link_url(merchant=merchant, view_name=FILE_VIEW, token=token)}?parcel={shipment_id}"


def claim_file_path(*, merchant, order_id: int, shipment_id: int, token: str | None = None) -> str:
    """The claim form for one parcel, as a path on this site (the tracking page links it, with
    the token it was opened with: a page's links never renew an expiring link)."""
    token = token or tracking_token(merchant_id=merchant.pk, order_id=order_id)
    path = reverse(FILE_VIEW, kwargs={"merchant_slug": merchant.slug, "token": token})
    return f"{path}?parcel={shipment_id}"


def claim_page_path(*, merchant, claim, token: str | None = None) -> str:
    """The page of the parcel's claim (its latest, should one have been rejected and another
    filed), as a path on this site."""
    token = token or tracking_token(merchant_id=merchant.pk, order_id=claim.order_id)
    path = reverse(CLAIM_VIEW, kwargs={"merchant_slug": merchant.slug, "token": token})
    return f"{path}?parcel={claim.shipment_id}"


def claim_page_url(*, merchant, claim) -> str:
    """The claim's status page, as an absolute address (the claim events carry it)."""
    return settings.SITE_URL.rstrip("/") + claim_page_path(merchant=merchant, claim=claim)
