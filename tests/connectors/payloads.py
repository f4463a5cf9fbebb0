"""Sample webhook bodies in the shapes Shopify documents for its REST Admin API resources (Order,
Fulfillment, Refund) and its mandatory privacy topics, and in our carrier tracking shape.

Each function returns a fresh copy, so a test may change it freely. Amounts are strings and ids
are numbers, as Shopify sends them; times carry the shop's UTC offset (here -05:00)."""

from __future__ import annotations

import copy

ORDER_ID = 820982911946154508
CUSTOMER_ID = 115310627314723954
LINE_ID = 866550311766439020
PRODUCT_ID = 788032119674292922
FULFILLMENT_ID = 255858046
REFUND_ID = 509562969

_MONEY = {"currency_code": "USD"}


def _money_set(amount: str) -> dict:
    return {
        "shop_money": {"amount": amount, **_MONEY},
        "presentment_money": {"amount": amount, **_MONEY},
    }


_CUSTOMER = {
    "id": CUSTOMER_ID,
    "email": "jon@example.com",
    "phone": "+16135550123",
    "first_name": "Jon",
    "last_name": "Snow",
    "state": "enabled",
    "verified_email": True,
    "tags": "",
    "currency": "USD",
    "created_at": "2026-02-20T10:00:00-05:00",
    "updated_at": "2026-03-01T07:00:00-05:00",
    "email_marketing_consent": {
        "state": "subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": "2026-02-20T10:00:00-05:00",
    },
    "sms_marketing_consent": {
        "state": "not_subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": None,
        "consent_collected_from": "OTHER",
    },
    "default_address": {
        "first_name": "Jon",
        "last_name": "Snow",
        "address1": "1 Wall Street",
        "city": "Ottawa",
        "province_code": "ON",
        "country_code": "CA",
        "zip": "K1A 0B1",
    },
    "admin_graphql_api_id": f"gid://shopify/Customer/{CUSTOMER_ID}",
}

_LINE_ITEM = {
    "id": LINE_ID,
    "admin_graphql_api_id": f"gid://shopify/LineItem/{LINE_ID}",
    "product_id": PRODUCT_ID,
    "variant_id": 642667041472713922,
    "title": "Trail shoe",
    "variant_title": "42",
    "name": "Trail shoe - 42",
    "sku": "TS-42",
    "vendor": "Alpha",
    "quantity": 2,
    "current_quantity": 2,
    "fulfillable_quantity": 2,
    "fulfillment_status": None,
    "requires_shipping": True,
    "gift_card": False,
    "price": "40.00",
    "price_set": _money_set("40.00"),
    "total_discount": "0.00",
    "total_discount_set": _money_set("0.00"),
    "discount_allocations": [
        {"amount": "10.00", "amount_set": _money_set("10.00"), "discount_application_index": 0}
    ],
    "tax_lines": [
        {"title": "HST", "price": "6.00", "rate": 0.0857, "price_set": _money_set("6.00")}
    ],
}

_ORDER = {
    "id": ORDER_ID,
    "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}",
    "name": "#1001",
    "order_number": 1001,
    "number": 1,
    "email": "jon@example.com",
    "contact_email": "jon@example.com",
    "phone": None,
    "created_at": "2026-03-01T07:00:00-05:00",
    "processed_at": "2026-03-01T07:00:00-05:00",
    "updated_at": "2026-03-01T07:00:05-05:00",
    "currency": "USD",
    "presentment_currency": "USD",
    "total_line_items_price": "80.00",
    "subtotal_price": "70.00",
    "subtotal_price_set": _money_set("70.00"),
    "total_discounts": "10.00",
    "total_discounts_set": _money_set("10.00"),
    "total_shipping_price_set": _money_set("5.00"),
    "total_tax": "6.00",
    "total_tax_set": _money_set("6.00"),
    "total_price": "81.00",
    "total_price_set": _money_set("81.00"),
    "taxes_included": False,
    "financial_status": "paid",
    "fulfillment_status": None,
    "cancelled_at": None,
    "cancel_reason": None,
    "closed_at": None,
    "confirmed": True,
    "test": False,
    "browser_ip": "203.0.113.7",
    "tags": "",
    "source_name": "web",
    "discount_codes": [{"code": "WELCOME10", "amount": "10.00", "type": "fixed_amount"}],
    "customer": _CUSTOMER,
    "billing_address": _CUSTOMER["default_address"],
    "shipping_address": _CUSTOMER["default_address"],
    "line_items": [_LINE_ITEM],
    "shipping_lines": [{"id": 1, "title": "Standard", "price": "5.00", "code": "STANDARD"}],
    "fulfillments": [],
    "refunds": [],
}

_FULFILLMENT = {
    "id": FULFILLMENT_ID,
    "admin_graphql_api_id": f"gid://shopify/Fulfillment/{FULFILLMENT_ID}",
    "order_id": ORDER_ID,
    "name": "#1001.1",
    "status": "success",
    "service": "manual",
    "location_id": 24826418,
    "created_at": "2026-03-02T09:00:00-05:00",
    "updated_at": "2026-03-02T09:30:00-05:00",
    "shipment_status": "in_transit",
    "tracking_company": "UPS",
    "tracking_number": "1Z999AA10123456784",
    "tracking_numbers": ["1Z999AA10123456784"],
    "tracking_url": "https://www.ups.com/WebTracking?trackNums=1Z999AA10123456784",
    "tracking_urls": ["https://www.ups.com/WebTracking?trackNums=1Z999AA10123456784"],
    "receipt": {},
    "line_items": [
        {
            "id": LINE_ID,
            "variant_id": 642667041472713922,
            "title": "Trail shoe",
            "quantity": 2,
            "sku": "TS-42",
            "price": "40.00",
            "fulfillment_status": "fulfilled",
        }
    ],
    "destination": {
        "first_name": "Jon",
        "last_name": "Snow",
        "address1": "1 Wall Street",
        "city": "Ottawa",
        "zip": "K1A 0B1",
        "country_code": "CA",
    },
}

_REFUND = {
    "id": REFUND_ID,
    "admin_graphql_api_id": f"gid://shopify/Refund/{REFUND_ID}",
    "order_id": ORDER_ID,
    "created_at": "2026-03-05T10:00:00-05:00",
    "processed_at": "2026-03-05T10:00:00-05:00",
    "note": "wrong size",
    "restock": True,
    "user_id": 548380009,
    "refund_line_items": [
        {
            "id": 104689539,
            "quantity": 1,
            "line_item_id": LINE_ID,
            "location_id": 24826418,
            "restock_type": "return",
            "subtotal": 35.0,
            "total_tax": 3.0,
            "subtotal_set": _money_set("35.00"),
            "total_tax_set": _money_set("3.00"),
            "line_item": _LINE_ITEM,
        }
    ],
    "transactions": [
        {
            "id": 179259969,
            "order_id": ORDER_ID,
            "kind": "refund",
            "gateway": "bogus",
            "status": "success",
            "message": "Bogus Gateway: Forced success",
            "created_at": "2026-03-05T10:00:00-05:00",
            "amount": "38.00",
            "currency": "USD",
            "parent_id": 801038806,
        }
    ],
    "order_adjustments": [],
}

_SHOP = {"shop_id": 954889, "shop_domain": "alpha.myshopify.com"}

# Shopify's refunds/create example, in the shape its test notification sends (written from
# Shopify's documented example; the line items here are ours): refunded line items worth 414.95
# in all, and one successful refund transaction of 85.00 whose currency is null.
SAMPLE_REFUND_ID = 890088186047892319
SAMPLE_LINES = (
    (487817672276298627, 487817672276298554, "Aviator sunglasses", "89.99", 1),
    (976318377106520349, 976318377106520349, "Mid-century lounger", "159.99", 1),
    (315789986012684393, 315789986012684393, "Coffee table", "164.97", 3),
)


def _sample_refund_line(refund_line_id: int, line_id: int, title: str, subtotal: str, qty: int):
    return {
        "id": refund_line_id,
        "quantity": qty,
        "line_item_id": line_id,
        "location_id": None,
        "restock_type": "no_restock",
        "subtotal": float(subtotal),
        "total_tax": 0.0,
        "subtotal_set": _money_set(subtotal),
        "total_tax_set": _money_set("0.00"),
        "line_item": {
            "id": line_id,
            "variant_id": None,
            "title": title,
            "quantity": qty,
            "sku": None,
            "variant_title": None,
            "vendor": None,
            "fulfillment_service": "manual",
            "product_id": None,
            "requires_shipping": True,
            "taxable": True,
            "gift_card": False,
            "name": title,
            "variant_inventory_management": None,
            "properties": [],
            "product_exists": False,
            "fulfillable_quantity": qty,
            "grams": 0,
            "price": str(round(float(subtotal) / qty, 2)),
            "total_discount": "0.00",
            "fulfillment_status": None,
            "price_set": _money_set(str(round(float(subtotal) / qty, 2))),
            "total_discount_set": _money_set("0.00"),
            "discount_allocations": [],
            "duties": [],
            "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
            "tax_lines": [],
        },
    }


_SAMPLE_REFUND = {
    "id": SAMPLE_REFUND_ID,
    "order_id": ORDER_ID,
    "created_at": "2026-03-05T19:00:00-05:00",
    "note": "Things were damaged",
    "user_id": 548380009,
    "processed_at": "2026-03-05T19:00:00-05:00",
    "restock": False,
    "duties": [],
    "total_duties_set": _money_set("0.00"),
    "return": None,
    "admin_graphql_api_id": f"gid://shopify/Refund/{SAMPLE_REFUND_ID}",
    "refund_line_items": [_sample_refund_line(*line) for line in SAMPLE_LINES],
    "transactions": [
        {
            "id": 245135271310201016,
            "order_id": ORDER_ID,
            "kind": "refund",
            "gateway": "bogus",
            "status": "success",
            "message": None,
            "created_at": "2026-03-05T19:00:00-05:00",
            "test": False,
            "authorization": None,
            "location_id": None,
            "user_id": None,
            "parent_id": None,
            "processed_at": None,
            "device_id": None,
            "error_code": None,
            "source_name": "web",
            "receipt": {},
            "amount": "85.00",
            "currency": None,
            "payment_id": "#9999.1",
            "total_unsettled_set": {
                "presentment_money": {"amount": "0.0", "currency": "USD"},
                "shop_money": {"amount": "0.0", "currency": "USD"},
            },
            "manual_payment_gateway": False,
            "admin_graphql_api_id": "gid://shopify/OrderTransaction/245135271310201016",
        }
    ],
    "order_adjustments": [],
}


def order(**changes) -> dict:
    return {**copy.deepcopy(_ORDER), **changes}


def customer(**changes) -> dict:
    return {**copy.deepcopy(_CUSTOMER), **changes}


def fulfillment(**changes) -> dict:
    return {**copy.deepcopy(_FULFILLMENT), **changes}


def refund(**changes) -> dict:
    return {**copy.deepcopy(_REFUND), **changes}


def sample_refund(**changes) -> dict:
    """Shopify's refunds/create example: 85.00 refunded, 414.95 of line items, currency null."""
    return {**copy.deepcopy(_SAMPLE_REFUND), **changes}


def data_request(**changes) -> dict:
    return {
        **_SHOP,
        "orders_requested": [ORDER_ID],
        "customer": {"id": CUSTOMER_ID, "email": "jon@example.com", "phone": "+16135550123"},
        "data_request": {"id": 9999},
        **changes,
    }


def customer_redact(**changes) -> dict:
    return {
        **_SHOP,
        "customer": {"id": CUSTOMER_ID, "email": "jon@example.com", "phone": "+16135550123"},
        "orders_to_redact": [ORDER_ID],
        **changes,
    }


def shop_redact(**changes) -> dict:
    return {**_SHOP, **changes}


def tracking(**changes) -> dict:
    """A carrier tracking delivery for the fulfillment's parcel."""
    return {
        "id": "trk-evt-1",
        "tracking_number": "1Z999AA10123456784",
        "carrier": "UPS",
        "status": "OutForDelivery",
        "estimated_delivery": "2026-03-04",
        "checkpoints": [
            {
                "occurred_at": "2026-03-03T06:10:00Z",
                "status": "InTransit",
                "description": "Arrived at facility",
                "location": "Ottawa, ON",
            },
            {
                "occurred_at": "2026-03-04T08:15:00Z",
                "status": "OutForDelivery",
                "description": "On the van",
                "location": "Ottawa, ON",
            },
        ],
        **changes,
    }
