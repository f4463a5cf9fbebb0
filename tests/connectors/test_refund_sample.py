"""Shopify's refunds/create example sends its refund transaction with ``"currency": null``: the
refund is what its transactions paid back (85.00), in the order's currency, not what its line
items are worth (414.95), and the order is then partially refunded."""

from __future__ import annotations

from decimal import Decimal

from connectors.shopify import shopify_refund
from orders.models import Order
from postpurchase.events.models import Event
from tests.connectors import payloads


def sample_order() -> dict:
    """The order the example refunds: its three lines (414.95), 10.00 shipping, 424.95 in all."""
    lines = [
        {
            "id": line_id,
            "product_id": None,
            "title": title,
            "name": title,
            "sku": "",
            "quantity": quantity,
            "price": str(Decimal(subtotal) / quantity),
            "total_discount": "0.00",
            "discount_allocations": [],
        }
        for _, line_id, title, subtotal, quantity in payloads.SAMPLE_LINES
    ]
    return payloads.order(
        line_items=lines,
        total_line_items_price="414.95",
        subtotal_price="414.95",
        total_discounts="0.00",
        total_shipping_price_set={"shop_money": {"amount": "10.00", "currency_code": "USD"}},
        total_tax="0.00",
        total_price="424.95",
        discount_codes=[],
    )


def test_a_transaction_without_a_currency_is_in_the_orders_currency():
    # when
    mapped = shopify_refund(payloads.sample_refund(), currency="USD")
    # then
    assert mapped["amount"] == Decimal("85.00")
    assert [line["subtotal"] for line in mapped["lines"]] == ["89.99", "159.99", "164.97"]


def test_shopifys_example_refunds_85_and_the_order_is_partially_refunded(shopify, connected_a):
    # given
    shopify(connected_a, "orders/create", sample_order(), "wh-1")
    # when
    response = shopify(connected_a, "refunds/create", payloads.sample_refund(), "wh-2")
    # then
    assert response.json() == {"status": "received"}
    event = Event.unscoped.get(type="order.refunded")
    assert (event.payload["refund_id"], event.payload["amount"], event.payload["currency"]) == (
        str(payloads.SAMPLE_REFUND_ID),
        "85.00",
        "USD",
    )
    assert Order.unscoped.values_list("total", "financial_status").get() == (
        Decimal("424.95"),
        "partially_refunded",
    )


def test_a_transaction_in_another_currency_still_counts_the_lines_shop_money():
    # given: the same example, its transaction in the shopper's currency only
    body = payloads.sample_refund()
    body["transactions"][0]["currency"] = "CAD"
    # when
    mapped = shopify_refund(body, currency="USD")
    # then
    assert mapped["amount"] == Decimal("414.95")
