"""The plain data a template is rendered with, made from the merchant's own rows.

``message_context`` gives exactly the variables ``notifications.rendering.VARIABLES`` documents,
in the same shapes as their samples (a test holds the two together): dicts, lists, strings,
numbers and dates, never a model instance. Amounts are strings with the currency's minor-unit
digits. The shopper links (tracking, returns, survey, loyalty, preferences, unsubscribe) are
signed per shopper by the pages that serve them, so the caller passes them in: the outbox adds
the preference and unsubscribe links, and a journey's send the links whose makers apps
registered with journeys (``journeys/links.py``), which may fill only the names of ``LINKS``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from notifications.rendering import sample_context
from orders.models import Customer, Order, Shipment
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import money_str

LINKS = (
    "tracking_url",
    "return_url",
    "survey_url",
    "loyalty_url",
    "preferences_url",
    "unsubscribe_url",
)


def _absolute(url: str) -> str:
    """An uploaded logo's ``/media/…`` path made absolute (emails are read elsewhere)."""
    if url.startswith("/"):
        return settings.SITE_URL.rstrip("/") + url
    return url


def merchant_context(merchant: Merchant) -> dict[str, Any]:
    return {
        "merchant": {
            "name": merchant.name,
            "address": merchant.postal_address,
            "support_email": merchant.support_email,
            "support_url": merchant.support_url,
            "country": merchant.country,
        },
        "brand": {
            "logo_url": _absolute(merchant.brand_logo_url),
            "primary_colour": merchant.primary_colour,
            "accent_colour": merchant.accent_colour,
            "sender_name": merchant.sender_name or merchant.name,
        },
    }


def merchant_sample_context(merchant: Merchant) -> dict[str, Any]:
    """What a preview and a test send render with: the sample shopper, order and parcel, but
    the merchant's own name, postal address, support links and brand (its logo, colours and
    sender name), so what the merchant is shown is what its shoppers get."""
    return {**sample_context(), **merchant_context(merchant)}


def customer_context(customer: Customer, currency: str) -> dict[str, Any]:
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email,
        "phone": customer.phone,
        "locale": customer.locale,
        "timezone": customer.timezone,
        "orders_count": customer.orders_count,
        "total_spent": money_str(Decimal(customer.total_spent), currency),
        "tags": list(customer.tags),
    }


def order_context(order: Order) -> dict[str, Any]:
    def money(value) -> str:
        return money_str(Decimal(value), order.currency)  # an unsaved default may be an int

    lines = []
    # loaded with the order for a batch (orders.selectors.orders_for_messages), else read here
    rows = getattr(order, "lines_in_order", None)
    if rows is None:
        rows = order.lines.select_related("product").order_by("position", "id")
    for line in rows:
        product = line.product
        lines.append(
            {
                "title": line.title,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price),
                "discount": money(line.discount),
                "product": {
                    "title": product.title if product else line.title,
                    "category": product.category if product else "",
                    "image_url": product.image_url if product else "",
                    "url": product.url if product else "",
                },
            }
        )
    return {
        "number": order.number,
        "placed_at": order.placed_at,
        "currency": order.currency,
        "subtotal": money(order.subtotal),
        "discount": money(order.discount),
        "shipping": money(order.shipping),
        "tax": money(order.tax),
        "total": money(order.total),
        "financial_status": str(order.financial_status),
        "fulfillment_status": str(order.fulfillment_status),
        "lines": lines,
    }


def shipment_context(shipment: Shipment) -> dict[str, Any]:
    return {
        "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number,
        "status": str(shipment.status),
        "shipped_at": shipment.shipped_at,
        "estimated_delivery": shipment.estimated_delivery,
        "delivered_at": shipment.delivered_at,
    }


def message_context(
    *,
    merchant: Merchant,
    customer: Customer | None = None,
    order: Order | None = None,
    shipment: Shipment | None = None,
    links: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The context for a message about ``customer`` (and ``order``, ``shipment``): only the
    variables there is data for, so a template naming one that is missing fails on send with
    the reason, rather than printing nothing."""
    unknown = set(links or {}) - set(LINKS)
    if unknown:
        raise ValueError(f"not a shopper link: {', '.join(sorted(unknown))}")
    context: dict[str, Any] = merchant_context(merchant)
    if customer is not None:
        context["customer"] = customer_context(customer, merchant.currency)
    if order is not None:
        context["order"] = order_context(order)
    if shipment is not None:
        context["shipment"] = shipment_context(shipment)
    context.update(links or {})
    return context
