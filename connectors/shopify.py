"""Shopify's webhook payloads (REST Admin API resources: Order, Fulfillment, Refund) mapped onto
our ingestion payloads. Pure functions: no database, so each mapping is tested on its own.

What we read is what Shopify documents; what we do not know we leave out rather than guess, and
the orders services validate the result like any other ingestion path.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.dateparse import parse_datetime

from connectors.errors import ConnectorsErrorCode
from connectors.tracking_vocabularies import SHOPIFY_STATUS, snake
from orders.models import FinancialStatus, FulfillmentStatus
from postpurchase.errors import DomainError
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
# Fulfillments in these states never left (or were taken back): nothing to track.
DEAD_FULFILLMENTS = frozenset({"cancelled", "error", "failure"})
CONSENT_SOURCE = "shopify"
# A store's own domain: its handle (letters, digits, hyphens) under myshopify.com.
SHOP_HANDLE = r"[a-z0-9][a-z0-9-]{0,59}"
SHOP_DOMAIN = re.compile(SHOP_HANDLE + r"\.myshopify\.com")
ADMIN_STORE_URL = re.compile(r"admin\.shopify\.com/store/(" + SHOP_HANDLE + ")")


def shopify_shop_domain(value: Any) -> str:
    """The store's ``<handle>.myshopify.com`` from an ``X-Shopify-Shop-Domain`` header or what a
    merchant pasted (that domain, its URL, the admin's ``admin.shopify.com/store/<handle>``, or the
    bare handle), lowercased; ``""`` when it names no store."""
    text = str(value or "").strip().lower()
    text = text.removeprefix("https://").removeprefix("http://").rstrip("/")
    admin = ADMIN_STORE_URL.match(text)
    text = admin.group(1) if admin is not None else text.split("/", 1)[0]
    if re.fullmatch(SHOP_HANDLE, text):
        text += ".myshopify.com"
    return text if SHOP_DOMAIN.fullmatch(text) else ""


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(ConnectorsErrorCode.INVALID, f"{field}: {message}", field=field)


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
    customer: dict[str, Any] = {"external_id": _id(data, field="customer.id")}
    # A field Shopify leaves out or sends as null (an app without protected customer data
    # access, a field removed) says nothing, so it never blanks what we hold; an address or a
    # number we could never use is left out the same way.
    email = data.get("email")
    if email in (None, "") and order_email not in (None, ""):
        email = order_email
    if email is not None:
        cleaned = _clean_email(email)
        if cleaned or not str(email).strip():
            customer["email"] = cleaned
    if data.get("phone") is not None:
        phone = _clean_phone(data["phone"], region)
        if phone or not str(data["phone"]).strip():
            customer["phone"] = phone
    for name in ("first_name", "last_name"):
        if data.get(name) is not None:
            customer[name] = _text(data[name], 100)
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


def shopify_address(data: Any) -> dict | None:
    """A ``ShippingAddressIn`` payload from a Shopify MailingAddress (``zip`` is the postal
    code; the name, when Shopify leaves it out, is first and last), or ``None`` for none. Cut to
    the lengths the payload takes; a country code that is not two letters is left out rather
    than refusing the order."""
    if not isinstance(data, dict):
        return None
    name = _text(data.get("name"), 255) or _text(
        " ".join(_text(data.get(key), 100) for key in ("first_name", "last_name")), 255
    )
    country = _text(data.get("country_code"), 3)
    return {
        "name": name,
        "company": _text(data.get("company"), 255),
        "address1": _text(data.get("address1"), 255),
        "address2": _text(data.get("address2"), 255),
        "city": _text(data.get("city"), 100),
        "province_code": _text(data.get("province_code"), 16),
        "postal_code": _text(data.get("zip"), 20),
        "country_code": country
        if len(country) == 2 and country.isascii() and country.isalpha()
        else "",
        "phone": _text(data.get("phone"), 32),
    }


def shopify_order(data: Any, *, region: str = "") -> dict:
    """An ``OrderIn`` payload from a Shopify Order."""
    order = _object(data, "order")
    payload: dict[str, Any] = {
        "external_id": _id(order),
        "number": _text(order.get("name") or order.get("order_number") or order.get("id"), 64),
        # processed_at is when the order was placed (it differs from created_at for imported
        # orders); created_at is the fallback Shopify documents.
        "placed_at": order.get("processed_at") or order.get("created_at"),
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
        "shipping_address": shopify_address(order.get("shipping_address")),
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
    # the carrier's word, as Shopify relays it (docs/tracking.md); one we do not know is no news
    mapped = SHOPIFY_STATUS.get(snake(str(fulfillment.get("shipment_status") or "")))
    if mapped is not None:
        payload["status"], payload["substatus"] = mapped
        # The fulfillment's own last change dates the status, so an older re-delivery never
        # moves the shipment backwards.
        if fulfillment.get("updated_at"):
            payload["status_at"] = fulfillment["updated_at"]
    return payload


def shopify_dead_fulfillment_id(data: Any) -> str | None:
    """The id of a fulfillment that was cancelled or failed, ``None`` for a live one."""
    fulfillment = _object(data, "fulfillment")
    if fulfillment.get("status") not in DEAD_FULFILLMENTS:
        return None
    return _id(fulfillment)


def shopify_order_fulfillments(data: Any) -> tuple[list[str], list[dict]]:
    """The fulfillments embedded in an order payload: the ids of the dead ones, and the live
    ones as ``ShipmentIn`` payloads."""
    order = _object(data, "order")
    dead, live = [], []
    for raw in order.get("fulfillments") or []:
        fulfillment = {"order_id": order.get("id"), **_object(raw, "fulfillments[]")}
        dead_id = shopify_dead_fulfillment_id(fulfillment)
        if dead_id is not None:
            dead.append(dead_id)
        else:
            live.append(shopify_fulfillment(fulfillment))
    return dead, live


def _transaction_shop_amount(transaction: dict, field: str, currency: str) -> Decimal | None:
    """A refund transaction's amount in the shop's currency: ``amount_set.shop_money`` when
    Shopify sends it, else ``amount`` when the transaction is in the order's (shop) currency,
    which is what a transaction without a currency is in (Shopify's own refunds/create sample
    sends ``"currency": null``); ``None`` when it is in another currency (the shopper's, on a
    multi-currency order)."""
    shop_amount = _shop_money(transaction, "amount_set")
    if shop_amount is not None:
        return _money(shop_amount, f"{field}.amount_set.shop_money.amount")
    transaction_currency = str(transaction.get("currency") or currency)
    if currency and transaction_currency.upper() == currency.upper():
        return _money(transaction.get("amount"), f"{field}.amount")
    return None


def _refund_lines_shop_amount(refund: dict) -> Decimal:
    """What the refund's line items come to in the shop's currency (subtotal plus tax)."""
    total = Decimal(0)
    for index, raw in enumerate(refund.get("refund_line_items") or []):
        item = _object(raw, f"refund_line_items[{index}]")
        for key in ("subtotal_set", "total_tax_set"):
            total += _money(_shop_money(item, key), f"refund_line_items[{index}].{key}")
    return total


def shopify_refund(data: Any, *, currency: str = "") -> dict:
    """The figures of a Shopify Refund we keep on the ``order.refunded`` event, with amounts in
    the shop's currency (``currency``, the order's): the successful refund transactions, or,
    when one of them is only in another currency, the refunded line items' shop money."""
    refund = _object(data, "refund")
    amounts: list[Decimal | None] = []
    for index, raw in enumerate(refund.get("transactions") or []):
        transaction = _object(raw, f"transactions[{index}]")
        if transaction.get("kind") == "refund" and transaction.get("status") == "success":
            amounts.append(
                _transaction_shop_amount(transaction, f"transactions[{index}]", currency)
            )
    if None in amounts:
        amount = _refund_lines_shop_amount(refund)
    else:
        amount = sum((a for a in amounts if a is not None), Decimal(0))
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


# --- does the body fit the topic? -------------------------------------------------------------

# Keys only an order carries at its top level, and only the privacy requests.
ORDER_KEYS = frozenset({"line_items", "financial_status", "order_number", "total_price"})
PRIVACY_KEYS = frozenset({"customer", "orders_to_redact", "orders_requested", "data_request"})


def _has(body: dict, *keys: str) -> bool:
    return all(body.get(key) not in (None, "") for key in keys)


def _shape_shop_redact(body: dict) -> bool:
    others = ORDER_KEYS | PRIVACY_KEYS | {"id", "order_id", "refund_line_items", "transactions"}
    return (_has(body, "shop_id") or _has(body, "shop_domain")) and not others & body.keys()


def _shape_customer_request(body: dict, orders_key: str) -> bool:
    return (
        isinstance(body.get("customer"), dict)
        and isinstance(body.get(orders_key), list)
        and not ORDER_KEYS & body.keys()
    )


def _shape_order(body: dict) -> bool:
    # A fulfillment or a refund names its order (order_id); an order does not.
    return (
        _has(body, "id")
        and isinstance(body.get("line_items"), list)
        and not {"order_id", "refund_line_items", *PRIVACY_KEYS - {"customer"}} & body.keys()
    )


def _shape_fulfillment(body: dict) -> bool:
    # A fulfillment carries line_items too, but none of an order's or a refund's own keys.
    return (
        _has(body, "id", "order_id")
        and "status" in body
        and not {"refund_line_items", "transactions", *ORDER_KEYS - {"line_items"}} & body.keys()
        and not PRIVACY_KEYS & body.keys()
    )


def _shape_refund(body: dict) -> bool:
    return (
        _has(body, "id", "order_id")
        and ("refund_line_items" in body or "transactions" in body)
        and not ORDER_KEYS & body.keys()
        and not PRIVACY_KEYS & body.keys()
    )


def shopify_body_fits_topic(topic: str, body: dict) -> bool:
    """Whether ``body`` has the shape of ``topic``'s resource. Shopify signs the body but not
    the ``X-Shopify-Topic`` header, so a signed body sent again under another topic (an order
    as ``shop/redact``) must be told apart by its shape before anything acts on it."""
    if topic == "shop/redact":
        return _shape_shop_redact(body)
    if topic == "customers/redact":
        return _shape_customer_request(body, "orders_to_redact")
    if topic == "customers/data_request":
        return _shape_customer_request(body, "orders_requested")
    if topic in ORDER_TOPICS:
        return _shape_order(body)
    if topic in FULFILLMENT_TOPICS:
        return _shape_fulfillment(body)
    if topic == REFUND_TOPIC:
        return _shape_refund(body)
    return True
