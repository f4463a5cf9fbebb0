"""Request and response examples shown in the OpenAPI document and the interactive docs."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

ORDER_IN = {
    "external_id": "1001",
    "number": "#1001",
    "placed_at": "2026-11-20T14:05:00Z",
    "updated_at": "2026-11-20T14:05:00Z",
    "currency": "USD",
    "subtotal": "80.00",
    "shipping": "4.99",
    "tax": "0.00",
    "discount": "0.00",
    "total": "84.99",
    "customer": {
        "external_id": "cust-77",
        "email": "ada@example.net",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "accepts_email_marketing": True,
        "consent_source": "checkout",
    },
    "shipping_address": {
        "name": "Ada Lovelace",
        "address1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country_code": "GB",
    },
    "lines": [
        {
            "external_id": "l1",
            "quantity": 2,
            "unit_price": "40.00",
            "product": {"external_id": "sku-shoe", "title": "Trail shoe", "category": "footwear"},
        }
    ],
}
ORDER_OUT = {
    "id": 311,
    "external_id": "1001",
    "number": "#1001",
    "customer_id": 88,
    "customer_external_id": "cust-77",
    "placed_at": "2026-11-20T14:05:00Z",
    "currency": "USD",
    "subtotal": "80.00",
    "discount": "0.00",
    "shipping": "4.99",
    "tax": "0.00",
    "total": "84.99",
    "financial_status": "paid",
    "fulfillment_status": "unfulfilled",
    "cancelled_at": None,
    "cancel_reason": "",
    "source": "api",
    "source_updated_at": "2026-11-20T14:05:00Z",
    "shipping_address": {
        "name": "Ada Lovelace",
        "company": "",
        "address1": "12 St James's Square",
        "address2": "",
        "city": "London",
        "province_code": "",
        "postal_code": "SW1Y 4JH",
        "country_code": "GB",
        "phone": "",
    },
    "lines": [
        {
            "id": 901,
            "external_id": "l1",
            "product_id": 45,
            "product_external_id": "sku-shoe",
            "title": "Trail shoe",
            "sku": "",
            "quantity": 2,
            "unit_price": "40.00",
            "discount": "0.00",
            "total": "80.00",
        }
    ],
    "created_at": "2026-11-20T14:05:01.120000Z",
    "updated_at": "2026-11-20T14:05:01.120000Z",
}
ORDER_EXAMPLES = [
    OpenApiExample("An order with its customer and product", value=ORDER_IN, request_only=True),
    OpenApiExample(
        "The order as stored",
        value=ORDER_OUT,
        response_only=True,
        status_codes=["200", "201"],
    ),
]
ORDER_PATCH_EXAMPLES = [
    OpenApiExample(
        "Cancel an order",
        value={"cancelled_at": "2026-11-20T16:00:00Z", "cancel_reason": "customer"},
        request_only=True,
    )
]
BULK_EXAMPLES = [
    OpenApiExample(
        "Two orders",
        value={"orders": [ORDER_IN, {**ORDER_IN, "external_id": "1002", "total": "-1"}]},
        request_only=True,
    ),
    OpenApiExample(
        "One created, one refused",
        value={
            "counts": {"created": 1, "updated": 0, "unchanged": 0, "stale": 0, "failed": 1},
            "results": [
                {"index": 0, "external_id": "1001", "status": "created", "id": 311, "error": None},
                {
                    "index": 1,
                    "external_id": "1002",
                    "status": "failed",
                    "id": None,
                    "error": {
                        "code": "invalid",
                        "detail": "total: Input should be greater than or equal to 0",
                        "errors": {
                            "total": [
                                {
                                    "code": "greater_than_equal",
                                    "message": "Input should be greater than or equal to 0",
                                }
                            ]
                        },
                    },
                },
            ],
        },
        response_only=True,
        status_codes=["200"],
    ),
]
SHIPMENT_EXAMPLES = [
    OpenApiExample(
        "A shipment with its lines and a first scan",
        value={
            "external_id": "ful-1001-1",
            "order_external_id": "1001",
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
            "lines": [{"line_external_id": "l1", "quantity": 2}],
            "checkpoints": [
                {
                    "status": "in_transit",
                    "occurred_at": "2026-11-21T07:12:00Z",
                    "location": "Louisville, KY",
                }
            ],
        },
        request_only=True,
    )
]
CHECKPOINT_EXAMPLES = [
    OpenApiExample(
        "Out for delivery",
        value={
            "status": "out_for_delivery",
            "occurred_at": "2026-11-22T06:40:00Z",
            "description": "Out for delivery",
            "location": "Brooklyn, NY",
        },
        request_only=True,
    )
]
CUSTOMER_EXAMPLES = [
    OpenApiExample(
        "A customer with marketing consent",
        value={
            "external_id": "cust-77",
            "email": "ada@example.net",
            "phone": "+14155550123",
            "first_name": "Ada",
            "timezone": "America/New_York",
            "accepts_email_marketing": True,
            "consent_source": "checkout",
            "tags": ["vip"],
        },
        request_only=True,
    )
]
PRODUCT_EXAMPLES = [
    OpenApiExample(
        "A product",
        value={
            "external_id": "sku-shoe",
            "title": "Trail shoe",
            "sku": "TS-42",
            "category": "footwear",
            "price": "40.00",
            "url": "https://shop.example/products/trail-shoe",
        },
        request_only=True,
    )
]
