"""The event types of orders, shipments and customers, with their payloads: what
``orders.services``, the bulk engine (``orders/bulk_replay.py``), ``orders/voids.py`` and the
store feeds (``connectors``: refunds, privacy requests) record, key for key.

Journeys read these payloads by key (``event.total``, ``enrollment.context["order_id"]``) and
webhooks send them to integrators as ``data``: the models here are that contract, and
``docs/events.md`` is made from them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from postpurchase.events.catalogue import Payload, event_namespace_reserve, event_type_register

OWNER = "orders"

ORDER_PLACED = "order.placed"
ORDER_UPDATED = "order.updated"
ORDER_CANCELLED = "order.cancelled"
ORDER_FULFILLED = "order.fulfilled"
ORDER_REFUNDED = "order.refunded"
SHIPMENT_CREATED = "shipment.created"
SHIPMENT_IN_TRANSIT = "shipment.in_transit"
SHIPMENT_OUT_FOR_DELIVERY = "shipment.out_for_delivery"
SHIPMENT_DELIVERED = "shipment.delivered"
SHIPMENT_EXCEPTION = "shipment.exception"
SHIPMENT_RETURNED_TO_SENDER = "shipment.returned_to_sender"
SHIPMENT_FAILED_ATTEMPT = "shipment.failed_attempt"
SHIPMENT_AVAILABLE_FOR_PICKUP = "shipment.available_for_pickup"
SHIPMENT_EXPIRED = "shipment.expired"
SHIPMENT_CANCELLED = "shipment.cancelled"
SHIPMENT_DELAYED = "shipment.delayed"
ORDER_FULFILLMENT_DELAYED = "order.fulfillment_delayed"
CUSTOMER_REDACTED = "customer.redacted"

Text = Annotated[str, Field(description="text, possibly empty")]
Money = Annotated[str, Field(description="a decimal in the order's currency, such as '84.99'")]
Timestamp = Annotated[str, Field(description="ISO 8601 with its UTC offset")]


class OrderUpdatedPayload(Payload):
    """An order as its events describe it (``order_event_payload``)."""

    order_id: int = Field(description="our id of the order")
    external_id: str = Field(description="the store's id of the order")
    number: str = Field(description="the order number the shopper sees, such as '#1001'")
    currency: str = Field(description="ISO 4217 code")
    total: Money
    placed_at: Timestamp
    line_count: int = Field(description="how many lines the order has")
    skus: list[str] = Field(description="the lines' distinct SKUs, sorted")
    categories: list[str] = Field(description="the lines' products' distinct categories, sorted")


class OrderPayload(OrderUpdatedPayload):
    """An order's events but ``order.updated``: recorded in the ingestion that first saw the
    order, they also say whether it was the customer's first."""

    first_order: bool = Field(
        None,
        description="only on the events recorded when the order is first seen: whether it is "
        "the customer's first (false without a customer)",
    )


class OrderCancelledPayload(OrderPayload):
    reason: Text = Field(description="the store's cancel reason, possibly empty")


class RefundLine(Payload):
    line_external_id: str = Field(description="the store's id of the refunded line")
    quantity: int = Field(description="how many of the line's items were refunded")
    subtotal: str = Field(description="the line's refunded amount, a decimal")


class OrderRefundedPayload(Payload):
    order_id: int = Field(description="our id of the order")
    external_id: str = Field(description="the store's id of the order")
    number: str = Field(description="the order number")
    currency: str = Field(description="ISO 4217 code")
    refund_id: str = Field(description="the store's id of the refund (one event per refund)")
    amount: Money
    lines: list[RefundLine] = Field(description="the refunded lines, possibly none")


class ShipmentPayload(Payload):
    """A shipment as its events describe it (``_shipment_event_payload``)."""

    shipment_id: int = Field(description="our id of the shipment")
    external_id: str = Field(description="the store's id of the shipment")
    order_id: int = Field(description="our id of its order")
    order_external_id: str = Field(description="the store's id of its order")
    order_number: str = Field(description="its order's number")
    carrier: Text
    tracking_number: Text
    tracking_url: Text
    status: str = Field(
        description="pending, info_received, in_transit, out_for_delivery, failed_attempt, "
        "available_for_pickup, delivered, exception, returned_to_sender or expired "
        "(docs/tracking.md)"
    )
    substatus: str = Field(
        "",
        description="the reason, for an exception, a failed attempt or a delivery, such as "
        "damaged or signed (docs/tracking.md); empty for none, and in events recorded before "
        "sub-statuses existed",
    )
    estimated_delivery: str | None = Field(description="a date (YYYY-MM-DD), or null")


class ShipmentStatusPayload(ShipmentPayload):
    status_at: Timestamp = Field(description="when the shipment entered this status")


class ShipmentCancelledPayload(ShipmentPayload):
    order_fulfillment_status: str = Field(
        description="the order's fulfillment status once this shipment is gone: unfulfilled, "
        "partially_fulfilled or fulfilled"
    )


class ShipmentDelayedPayload(ShipmentPayload):
    """A delay the tracking pillar's scan found (``tracking/delays.py``), once per incident."""

    reason: str = Field(
        description="no_first_scan (no carrier scan N days after fulfilment), "
        "no_scan_in_transit (no scan for N days while with the carrier), "
        "past_estimated_delivery (the estimated delivery date has passed) or exception (the "
        "carrier reports a problem: see substatus)"
    )
    since: Timestamp = Field(
        description="when the incident began: the fulfilment, the last scan, the start of the "
        "day after the estimated delivery date, or the exception (in the merchant's time zone "
        "for the dates)"
    )
    days: int = Field(
        description="whole days from since to the moment the delay was detected, counted in "
        "the merchant's time zone"
    )


class OrderFulfillmentDelayedPayload(OrderUpdatedPayload):
    """An order not fulfilled within the merchant's promise (``tracking/delays.py``), once."""

    reason: str = Field(description="fulfillment_late")
    fulfillment_status: str = Field(description="unfulfilled or partially_fulfilled")
    promised_by: str = Field(
        description="the last day (YYYY-MM-DD, the merchant's time zone) the promise allowed: "
        "the order's day plus the promised business days, weekends skipped"
    )
    since: Timestamp = Field(
        description="when the order became late: the start of the day after promised_by"
    )
    days: int = Field(description="whole days from since to the moment the delay was detected")


class CustomerRedactedPayload(Payload):
    customer_id: int = Field(description="our id of the customer, whose personal data is gone")


TYPES = (
    (ORDER_PLACED, "An order was placed", OrderPayload, "An order was placed (or first imported)."),
    (ORDER_UPDATED, "An order changed", OrderUpdatedPayload, "An order's fields or lines changed."),
    (
        ORDER_CANCELLED,
        "An order was cancelled",
        OrderCancelledPayload,
        "An order was cancelled, once per order.",
    ),
    (
        ORDER_FULFILLED,
        "Every item of an order has shipped",
        OrderPayload,
        "Every item of an order has shipped (the store says so, or its shipments carry every "
        "line), once per order.",
    ),
    (SHIPMENT_CREATED, "A shipment was created", ShipmentPayload, "A shipment was created."),
    (
        SHIPMENT_IN_TRANSIT,
        "A shipment is in transit",
        ShipmentStatusPayload,
        "A shipment entered the in_transit status.",
    ),
    (
        SHIPMENT_OUT_FOR_DELIVERY,
        "A shipment is out for delivery",
        ShipmentStatusPayload,
        "A shipment entered the out_for_delivery status.",
    ),
    (
        SHIPMENT_DELIVERED,
        "A shipment was delivered",
        ShipmentStatusPayload,
        "A shipment entered the delivered status.",
    ),
    (
        SHIPMENT_EXCEPTION,
        "A carrier reported a problem with a shipment",
        ShipmentStatusPayload,
        "A carrier reported a problem (the exception status).",
    ),
    (
        SHIPMENT_RETURNED_TO_SENDER,
        "A shipment is going back to the store",
        ShipmentStatusPayload,
        "A shipment entered the returned_to_sender status.",
    ),
    (
        SHIPMENT_FAILED_ATTEMPT,
        "A carrier tried to deliver a shipment and could not",
        ShipmentStatusPayload,
        "A shipment entered the failed_attempt status (its substatus says why, when known).",
    ),
    (
        SHIPMENT_AVAILABLE_FOR_PICKUP,
        "A shipment is waiting to be collected",
        ShipmentStatusPayload,
        "A shipment entered the available_for_pickup status (at a pickup point, a locker or "
        "the carrier's office).",
    ),
    (
        SHIPMENT_EXPIRED,
        "A shipment has not been scanned for a long time",
        ShipmentStatusPayload,
        "A shipment entered the expired status: no carrier scan for 30 days, or the feed says "
        "its tracking expired.",
    ),
    (
        SHIPMENT_DELAYED,
        "A shipment is late",
        ShipmentDelayedPayload,
        "The delay scan found a shipment late (no first scan, no scan in transit, past its "
        "estimated delivery, or in exception), once per incident: a shipment that moves and "
        "stalls again raises it again (docs/tracking.md, Delay detection).",
    ),
    (
        ORDER_FULFILLMENT_DELAYED,
        "An order was not fulfilled within the promise",
        OrderFulfillmentDelayedPayload,
        "The delay scan found an order not (fully) fulfilled within the merchant's promise in "
        "business days, once per order (docs/tracking.md, Delay detection).",
    ),
    (
        SHIPMENT_CANCELLED,
        "A shipment was cancelled by the store (its fulfillment voided)",
        ShipmentCancelledPayload,
        "The store cancelled a fulfillment, so its shipment was voided "
        "(deleted with its tracking history).",
    ),
    (
        ORDER_REFUNDED,
        "A refund was issued on an order",
        OrderRefundedPayload,
        "A refund was issued on an order (from the store's refund webhooks), once per refund.",
    ),
    (
        CUSTOMER_REDACTED,
        "A customer's personal data was erased (a privacy request)",
        CustomerRedactedPayload,
        "A customer's personal data was erased on a privacy request.",
    ),
)


def events_register() -> None:
    """Declare the types above (``OrdersConfig.ready()``)."""
    event_namespace_reserve(name="order", owner=OWNER, description="Orders, from any door.")
    event_namespace_reserve(name="shipment", owner=OWNER, description="Shipments and tracking.")
    for name, label, payload, description in TYPES:
        event_type_register(
            name=name, label=label, payload=payload, owner=OWNER, description=description
        )
