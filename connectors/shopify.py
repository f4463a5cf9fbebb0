"""Shopify's webhook payloads (REST Admin API resources: Order, Fulfillment, Refund) mapped onto
our ingestion payloads. Pure functions: no database, so each mapping is tested on its own.

What we read is what Shopify documents; what we do not know we leave out rather than guess, and
the orders services validate the result like any other ingestion path.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from orders.models import FinancialStatus, FulfillmentStatus, ShipmentStatus
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.validation import check_email, to_e164

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/cancelled", "orders/fulfilled"}
)
FULFILLMENT_TOPICS = frozenset({"fulfillments/create", "fulfillments/update"})
REFUND_TOPIC = "refunds/create"
PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
TOPICS = ORDER_TOPICS | FULFILLMENT_TOPICS | {REFUND_TOPIC} | PRIVACY_TOPICS

# Shopify's financial_status values; "expired" (an authorisation never captured) is ours "voided".
FINANCIAL_STATUSES = {
    "pending": FinancialStatus.PENDING,
    "authorized": FinancialStatus.AUTHORIZED,
    "partially_paid": FinancialStatus.PARTIALLY_PAID,
    "paid": FinancialStatus.PAID,
    "partially_refunded": FinancialStatus.PARTIALLY_REFUNDED,
    "refunded": FinancialStatus.REFUNDED,
    "voided": FinancialStatus.VOIDED,
    "expired": FinancialStatus.VOIDED,
}
# null means nothing is fulfilled; "restocked" is a cancelled order whose items went back.
FULFILLMENT_STATUSES = {
    None: FulfillmentStatus.UNFULFILLED,
    "unfulfilled": FulfillmentStatus.UNFULFILLED,
    "partial": FulfillmentStatus.PARTIALLY_FULFILLED,
    "fulfilled": FulfillmentStatus.FULFILLED,
    "restocked": FulfillmentStatus.UNFULFILLED,
}
# A fulfillment's shipment_status (the carrier's word, as Shopify relays it).
SHIPMENT_STATUSES = {
    "label_printed": ShipmentStatus.LABEL_CREATED,
    "label_purchased": ShipmentStatus.LABEL_CREATED,
    "confirmed": ShipmentStatus.LABEL_CREATED,
    "carrier_picked_up": ShipmentStatus.IN_TRANSIT,
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "out_for_delivery": ShipmentStatus.OUT_FOR_DELIVERY,
    "ready_for_pickup": ShipmentStatus.OUT_FOR_DELIVERY,
    "attempted_delivery": ShipmentStatus.EXCEPTION,
    "failure": ShipmentStatus.EXCEPTION,
    "delayed": ShipmentStatus.EXCEPTION,
    "picked_up": ShipmentStatus.DELIVERED,
    "delivered": ShipmentStatus.DELIVERED,
}
# Fulfillments in these states never left (or were taken back): nothing to track.
DEAD_FULFILLMENTS = frozenset({"cancelled", "error", "failure"})
CONSENT_SOURCE = "shopify"


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, f"{field}: {message}", field=field)


def _object(data: Any, field: str) -> dict:
    if not isinstance(data, dict):
        raise _invalid(field, "must be a JSON object")
    return data


def _id(data: dict, key: str = "id", *, field: str | None = None) -> str:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise _invalid(field or key, "must be Shopify's id (a number)")
    return str(value).strip()


def _text(value: Any, limit: int) -> str:
    return str(value).strip()[:limit] if value not in (None, "") else ""


def _money(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        raise _invalid(field, f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise _invalid(field, f"{value!r} is not an amount")
    return amount


def _shop_money(data: dict, key: str) -> Any:
    """``total_shipping_price_set.shop_money.amount``: amounts in the shop's currency."""
    money_set = data.get(key)
    if isinstance(money_set, dict) and isinstance(money_set.get("shop_money"), dict):
        return money_set["shop_money"].get("amount")
    return None


def _consent(data: Any) -> tuple[bool | None, str | None]:
    """(subscribed?, when) from ``email_marketing_consent`` / ``sms_marketing_consent``; a
    redacted or absent state says nothing."""
    if not isinstance(data, dict) or data.get("state") in (None, "redacted"):
        return None, None
    return data.get("state") == "subscribed", data.get("consent_updated_at")


def shopify_customer(data: Any, *, order_email: Any = "", region: str = "") -> dict | None:
    """A ``CustomerIn`` payload from an order's ``customer`` (or, for a guest, its email)."""
    if not isinstance(data, dict) or data.get("id") in (None, ""):
        email = _clean_email(order_email)
        return {"email": email} if email else None
    customer: dict[str, Any] = {
        "external_id": _id(data, field="customer.id"),
        "email": _clean_email(data.get("email") or order_email),
        "phone": _clean_phone(data.get("phone"), region),
        "first_name": _text(data.get("first_name"), 100),
        "last_name": _text(data.get("last_name"), 100),
    }
    email_ok, email_at = _consent(data.get("email_marketing_consent"))
    sms_ok, sms_at = _consent(data.get("sms_marketing_consent"))
    if email_ok is not None:
        customer["accepts_email_marketing"] = email_ok
    if sms_ok is not None:
        customer["accepts_sms_marketing"] = sms_ok
    if email_ok is not None or sms_ok is not None:
        customer["consent_source"] = CONSENT_SOURCE
        stamps = [_moment(stamp) for stamp in (email_at, sms_at)]
        stamps = [stamp for stamp in stamps if stamp is not None]
        if stamps:
            # One stamp for both channels (our payload has one); the later one is the truer.
            customer["consent_updated_at"] = max(stamps)
    return customer


def _moment(value: Any) -> datetime | None:
    """An aware time from Shopify's ISO 8601 text; anything else is no time at all."""
    if not isinstance(value, str):
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


def _clean_email(value: Any) -> str:
    try:
        return check_email(_text(value, 254))
    except ValueError:
        return ""  # an address we could never write to is no reason to refuse the order


def _clean_phone(value: Any, region: str) -> str:
    try:
        return to_e164(_text(value, 32), region or None)
    except ValueError:
        return ""


def _line_discount(item: dict, field: str) -> Decimal:
    allocations = item.get("discount_allocations")
    if isinstance(allocations, list) and allocations:
        return sum(
            (_money(a.get("amount"), f"{field}.discount_allocations") for a in allocations),
            Decimal(0),
        )
    return _money(item.get("total_discount"), f"{field}.total_discount")


def shopify_lines(items: Any) -> list[dict]:
    if not isinstance(items, list):
        raise _invalid("line_items", "must be a list")
    lines = []
    for index, raw in enumerate(items):
        field = f"line_items[{index}]"
        item = _object(raw, field)
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 1:
            continue  # removed by an order edit
        line: dict[str, Any] = {
            "external_id": _id(item, field=f"{field}.id"),
            "title": _text(item.get("title") or item.get("name"), 255),
            "sku": _text(item.get("sku"), 100),
            "quantity": quantity,
            "unit_price": _money(item.get("price"), f"{field}.price"),
            "discount": _line_discount(item, field),
        }
        if item.get("product_id") not in (None, ""):
            line["product"] = {
                "external_id": _id(item, "product_id", field=f"{field}.product_id"),
                "title": line["title"] or "Untitled product",
            }
        lines.append(line)
    return lines


def shopify_order(data: Any, *, region: str = "") -> dict:
    """An ``OrderIn`` payload from a Shopify Order."""
    order = _object(data, "order")
    payload: dict[str, Any] = {
        "external_id": _id(order),
        "number": _text(order.get("name") or order.get("order_number") or order.get("id"), 64),
        "placed_at": order.get("created_at"),
        "updated_at": order.get("updated_at"),
        "currency": _text(order.get("currency"), 3),
        "subtotal": _money(order.get("subtotal_price"), "subtotal_price"),
        "discount": _money(order.get("total_discounts"), "total_discounts"),
        "shipping": _money(
            _shop_money(order, "total_shipping_price_set"), "total_shipping_price_set"
        ),
        "tax": _money(order.get("total_tax"), "total_tax"),
        "total": _money(order.get("total_price"), "total_price"),
        "fulfillment_status": FULFILLMENT_STATUSES.get(
            order.get("fulfillment_status"), FulfillmentStatus.UNFULFILLED
        ),
        "cancelled_at": order.get("cancelled_at"),
        "cancel_reason": _text(order.get("cancel_reason"), 100),
        "source": "shopify",
        "lines": shopify_lines(order.get("line_items")),
    }
    financial = FINANCIAL_STATUSES.get(order.get("financial_status"))
    if financial is not None:
        payload["financial_status"] = financial
    customer = shopify_customer(
        order.get("customer"), order_email=order.get("email") or "", region=region
    )
    if customer is not None:
        payload["customer"] = customer
    return payload


def _first(data: dict, single: str, many: str) -> str:
    if data.get(single):
        return str(data[single])
    values = data.get(many)
    if isinstance(values, list) and values and values[0]:
        return str(values[0])
    return ""


def shopify_fulfillment(data: Any) -> dict | None:
    """A ``ShipmentIn`` payload from a Shopify Fulfillment, or ``None`` for a fulfillment that
    was cancelled or failed (nothing to track)."""
    fulfillment = _object(data, "fulfillment")
    if fulfillment.get("status") in DEAD_FULFILLMENTS:
        return None
    url = _first(fulfillment, "tracking_url", "tracking_urls")
    payload: dict[str, Any] = {
        "external_id": _id(fulfillment),
        "order_external_id": _id(fulfillment, "order_id"),
        "carrier": _text(fulfillment.get("tracking_company"), 100),
        "tracking_number": _first(fulfillment, "tracking_number", "tracking_numbers")[:100],
        "tracking_url": url if url.startswith(("http://", "https://")) and len(url) <= 500 else "",
        "lines": [],
    }
    for index, raw in enumerate(fulfillment.get("line_items") or []):
        item = _object(raw, f"line_items[{index}]")
        if isinstance(item.get("quantity"), int) and item["quantity"] > 0:
            payload["lines"].append(
                {
                    "line_external_id": _id(item, field=f"line_items[{index}].id"),
                    "quantity": item["quantity"],
                }
            )
    status = SHIPMENT_STATUSES.get(fulfillment.get("shipment_status"))
    if status is not None:
        payload["status"] = status
        # The fulfillment's own last change dates the status, so an older re-delivery never
        # moves the shipment backwards.
        if fulfillment.get("updated_at"):
            payload["status_at"] = fulfillment["updated_at"]
    return payload


def shopify_order_fulfillments(data: Any) -> list[dict]:
    """The live fulfillments embedded in an order payload, as ``ShipmentIn`` payloads."""
    order = _object(data, "order")
    found = []
    for raw in order.get("fulfillments") or []:
        fulfillment = _object(raw, "fulfillments[]")
        mapped = shopify_fulfillment({"order_id": order.get("id"), **fulfillment})
        if mapped is not None:
            found.append(mapped)
    return found


def shopify_refund(data: Any) -> dict:
    """The figures of a Shopify Refund we keep on the ``order.refunded`` event."""
    refund = _object(data, "refund")
    amount = Decimal(0)
    for index, raw in enumerate(refund.get("transactions") or []):
        transaction = _object(raw, f"transactions[{index}]")
        if transaction.get("kind") == "refund" and transaction.get("status") == "success":
            amount += _money(transaction.get("amount"), f"transactions[{index}].amount")
    lines = []
    for index, raw in enumerate(refund.get("refund_line_items") or []):
        item = _object(raw, f"refund_line_items[{index}]")
        lines.append(
            {
                "line_external_id": _id(
                    item, "line_item_id", field=f"refund_line_items[{index}].line_item_id"
                ),
                "quantity": item.get("quantity") if isinstance(item.get("quantity"), int) else 0,
                "subtotal": str(_money(item.get("subtotal"), f"refund_line_items[{index}]")),
            }
        )
    return {
        "refund_id": _id(refund),
        "order_external_id": _id(refund, "order_id"),
        "amount": amount,
        "occurred_at": refund.get("processed_at") or refund.get("created_at"),
        "note": _text(refund.get("note"), 500),
        "lines": lines,
    }
