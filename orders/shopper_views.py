"""The shopper's order page, on the shopper shell: what was ordered, where it stands, and each
parcel with its carrier's tracking link. Reached by a signed link that expires
(``ORDER_STATUS``, ``postpurchase.shopper.tokens.ORDER_LINK_MAX_AGE``), made for a shopper who
found the order through the shell's order lookup (registered in ``orders.apps``). The branded
tracking page (``tracking/shopper_views.py``) is the lookup's default destination now; this
page stays for ``?for=order`` and the links already sent.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from orders.models import FulfillmentStatus, Order, Shipment, ShipmentStatus
from orders.selectors import order_detail, order_for_lookup
from postpurchase.shopper.lookup import (
    LookupDestination,
    lookup_destination_register,
    lookup_finder_register,
)
from postpurchase.shopper.tokens import ORDER_LINK_MAX_AGE, LinkPurpose, link_token, link_url
from postpurchase.shopper.views import ShopperTokenView, shopper_render

ORDER_STATUS = LinkPurpose("orders.status", fields={"o": int}, max_age=ORDER_LINK_MAX_AGE)

# What a shopper reads for where the order stands, furthest parcel first.
PARCEL_PROGRESS = (
    (ShipmentStatus.EXCEPTION, "There’s a problem with a delivery"),
    (ShipmentStatus.FAILED_ATTEMPT, "The carrier tried to deliver"),
    (ShipmentStatus.EXPIRED, "We’ve lost sight of a parcel"),
    (ShipmentStatus.RETURNED_TO_SENDER, "A parcel is on its way back to us"),
    (ShipmentStatus.AVAILABLE_FOR_PICKUP, "Ready to collect"),
    (ShipmentStatus.OUT_FOR_DELIVERY, "Out for delivery"),
    (ShipmentStatus.IN_TRANSIT, "On its way"),
    (ShipmentStatus.INFO_RECEIVED, "Ready to ship"),
    (ShipmentStatus.PENDING, "Ready to ship"),
)


def order_status_token(*, merchant_id: int, order_id: int, now: float | None = None) -> str:
    return link_token(purpose=ORDER_STATUS, merchant_id=merchant_id, now=now, o=order_id)


def order_status_url(*, merchant, order_id: int, now: float | None = None) -> str:
    """The page's address, as put in a message."""
    token = order_status_token(merchant_id=merchant.pk, order_id=order_id, now=now)
    return link_url(merchant=merchant, view_name="shopper_orders:order", token=token)


def order_status_path(*, merchant, order_id: int) -> str:
    """The page's path on this site, where the order lookup sends the shopper."""
    token = order_status_token(merchant_id=merchant.pk, order_id=order_id)
    return reverse("shopper_orders:order", kwargs={"merchant_slug": merchant.slug, "token": token})


def order_progress(order: Order, shipments: list[Shipment]) -> str:
    """One line for where the order stands, as the shopper would say it."""
    if order.is_cancelled:
        return "Cancelled"
    statuses = {shipment.status for shipment in shipments}
    if statuses and statuses == {ShipmentStatus.DELIVERED}:
        return (
            "Delivered"
            if order.fulfillment_status == FulfillmentStatus.FULFILLED
            else ("Partly delivered")
        )
    for status, words in PARCEL_PROGRESS:
        if status in statuses:
            return words
    return "We’re preparing your order"


def tracking_link(shipment: Shipment) -> str:
    """The carrier's tracking page, when it is a web address (never another scheme)."""
    url = shipment.tracking_url
    return url if url.startswith(("https://", "http://")) else ""


class OrderStatusView(ShopperTokenView):
    purpose = ORDER_STATUS
    order: Order

    def link_accept(self, link: dict[str, Any]) -> None:
        try:
            self.order = order_detail(order_id=link["o"])  # the merchant's orders only
        except Order.DoesNotExist:
            raise Http404("no such order of this merchant") from None

    def get(self, request: HttpRequest) -> HttpResponse:
        shipments = list(self.order.shipments.all())
        context = self.page_context(
            order=self.order,
            progress=order_progress(self.order, shipments),
            lines=list(self.order.lines.all()),
            parcels=[
                {"shipment": shipment, "tracking_link": tracking_link(shipment)}
                for shipment in shipments
            ],
        )
        return shopper_render(request, "shopper/orders/order.html", context)


def lookup_register() -> None:
    """Called from ``OrdersConfig.ready()``: the shell's order lookup finds orders here and
    sends the shopper to this page (priority 0: a tracking page registers above it)."""
    lookup_finder_register(order_for_lookup)
    lookup_destination_register(
        LookupDestination(name="order", path_for=order_status_path, priority=0)
    )
