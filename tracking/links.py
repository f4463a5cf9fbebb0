"""The tracking page's signed link: what a shipping message's ``tracking_url`` and the shell's
order lookup send a shopper to.

The token names the order (``"o"``); the page shows each of the order's parcels in its own tab,
chosen with ``?parcel=<shipment id>`` (a shipment of another order, or of no order of this
merchant, falls back to the first parcel: the token, not the query, is the proof). Links expire
after ``ORDER_LINK_MAX_AGE`` like every page that shows an order.
"""

from __future__ import annotations

from django.urls import reverse

from postpurchase.shopper.tokens import ORDER_LINK_MAX_AGE, LinkPurpose, link_token, link_url

TRACKING_PAGE = LinkPurpose("tracking.page", fields={"o": int}, max_age=ORDER_LINK_MAX_AGE)
VIEW_NAME = "shopper_tracking:page"


def tracking_token(*, merchant_id: int, order_id: int, now: float | None = None) -> str:
    return link_token(purpose=TRACKING_PAGE, merchant_id=merchant_id, now=now, o=order_id)


def tracking_page_url(
    *, merchant, order_id: int, shipment_id: int | None = None, now: float | None = None
) -> str:
    """The page's absolute address, as put in a message; ``shipment_id`` opens that parcel's
    tab."""
    token = tracking_token(merchant_id=merchant.pk, order_id=order_id, now=now)
    url = link_url(merchant=merchant, view_name=VIEW_NAME, token=token)
    return f"{url}?parcel={shipment_id}" if shipment_id is not None else url


def tracking_page_path(*, merchant, order_id: int) -> str:
    """The page's path on this site, where the order lookup sends the shopper."""
    token = tracking_token(merchant_id=merchant.pk, order_id=order_id)
    return reverse(VIEW_NAME, kwargs={"merchant_slug": merchant.slug, "token": token})


def tracking_url_make(*, merchant, customer, order, shipment, memo=None, **about) -> str | None:
    """The ``tracking_url`` of a message (``journeys.links``): this page for the message's
    order, opened on its parcel when the message is about one."""
    order_id = order.pk if order is not None else getattr(shipment, "order_id", None)
    if order_id is None:
        return None
    shipment_id = shipment.pk if shipment is not None else None
    return tracking_page_url(merchant=merchant, order_id=order_id, shipment_id=shipment_id)
