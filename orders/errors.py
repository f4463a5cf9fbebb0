"""Orders' error codes: ingesting and changing customers, products, orders and shipments,
whatever the door (API, bulk, Shopify, the demo)."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class OrdersErrorCode(DomainErrorCode):
    INVALID = "invalid", "A field has the wrong shape or value (each field says why)."
    EXTERNAL_ID_MISMATCH = (
        "external_id_mismatch",
        "The body's external_id differs from the one in the URL.",
    )
    EXTERNAL_ID_IMMUTABLE = "external_id_immutable", "An object's external_id cannot change."
    EXTERNAL_ID_TAKEN = "external_id_taken", "Another object of the merchant has this external_id."
    TOO_LARGE = "too_large", "A bulk request of more than 1,000 orders."
    DUPLICATE = "duplicate", "An earlier item of the same bulk request has this external_id."
    STORE_FAILED = "store_failed", "The order passed its checks but could not be stored."
    LINE_SHIPPED = "line_shipped", "A shipped line cannot be removed from its order."
    QUANTITY_EXCEEDS_UNSHIPPED = (
        "quantity_exceeds_unshipped",
        "A shipment holds more of a line than is left to ship.",
    )
    SHIPMENT_ORDER_MISMATCH = (
        "shipment_order_mismatch",
        "The shipment belongs to another order than the one named.",
    )
