"""The pure mapping of Shopify's payloads onto ours, field by field, where the end-to-end tests
do not reach."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.shopify import (
    shopify_customer,
    shopify_fulfillment,
    shopify_order,
    shopify_refund,
)
from connectors.tracking_vocabularies import SHOPIFY_STATUS
from postpurchase.errors import DomainError
from tests.connectors import payloads


def test_the_later_consent_time_is_kept_whatever_its_offset():
    # given: 15:00 UTC for email, 14:00 UTC for SMS (a larger string, an earlier time)
    customer = payloads.customer(
        sms_marketing_consent={
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2026-02-20T14:00:00+00:00",
            "consent_collected_from": "SHOPIFY",
        }
    )
    # when
    mapped = shopify_customer(customer)
    # then
    assert mapped == {
        "external_id": str(payloads.CUSTOMER_ID),
        "email": "jon@example.com",
        "phone": "+16135550123",
        "first_name": "Jon",
        "last_name": "Snow",
        "accepts_email_marketing": True,
        "accepts_sms_marketing": True,
        "consent_source": "shopify",
        "consent_updated_at": datetime(2026, 2, 20, 15, 0, tzinfo=UTC),
    }


def test_an_invalid_phone_is_left_out_and_a_redacted_consent_says_nothing():
    # given
    customer = payloads.customer(
        phone="12",
        email_marketing_consent={"state": "redacted"},
        sms_marketing_consent=None,
    )
    # when
    mapped = shopify_customer(customer, region="US")
    # then
    assert mapped == {
        "external_id": str(payloads.CUSTOMER_ID),
        "email": "jon@example.com",
        "first_name": "Jon",
        "last_name": "Snow",
    }


@pytest.mark.parametrize(
    ("financial", "fulfillment", "ours"),
    [
        ("pending", None, ("pending", "unfulfilled")),
        ("authorized", "partial", ("authorized", "partially_fulfilled")),
        ("partially_refunded", "fulfilled", ("partially_refunded", "fulfilled")),
        ("expired", "restocked", ("voided", "unfulfilled")),
    ],
)
def test_order_statuses_map_onto_ours(financial, fulfillment, ours):
    # when
    mapped = shopify_order(
        payloads.order(financial_status=financial, fulfillment_status=fulfillment)
    )
    # then
    assert (mapped["financial_status"], mapped["fulfillment_status"]) == ours


def test_an_order_without_an_id_is_refused_with_the_field_named():
    # given
    body = payloads.order()
    del body["id"]
    # when
    with pytest.raises(DomainError) as excinfo:
        shopify_order(body)
    # then
    assert (excinfo.value.field, excinfo.value.message) == (
        "id",
        "id: must be Shopify's id (a number)",
    )


def test_a_line_removed_by_an_order_edit_is_left_out():
    # given
    body = payloads.order()
    body["line_items"].append({**body["line_items"][0], "id": 2, "quantity": 0})
    # when
    mapped = shopify_order(body)
    # then
    assert [line["external_id"] for line in mapped["lines"]] == [str(payloads.LINE_ID)]


def test_a_fulfillment_falls_back_on_the_lists_of_tracking_numbers_and_urls():
    # given
    body = payloads.fulfillment(
        tracking_number=None,
        tracking_url=None,
        tracking_numbers=["JD014600003828", "JD014600003829"],
        tracking_urls=["https://track.example/JD014600003828"],
        shipment_status=None,
    )
    # when
    mapped = shopify_fulfillment(body)
    # then
    assert mapped == {
        "external_id": str(payloads.FULFILLMENT_ID),
        "order_external_id": str(payloads.ORDER_ID),
        "carrier": "UPS",
        "tracking_number": "JD014600003828",
        "tracking_url": "https://track.example/JD014600003828",
        "lines": [{"line_external_id": str(payloads.LINE_ID), "quantity": 2}],
    }


@pytest.mark.parametrize("status", ["cancelled", "error", "failure"])
def test_a_dead_fulfillment_maps_to_nothing(status):
    assert shopify_fulfillment(payloads.fulfillment(status=status)) is None


def test_every_documented_shipment_status_is_mapped():
    # then: Shopify's shipment_status values (REST Fulfillment resource)
    documented = {
        "label_printed",
        "label_purchased",
        "attempted_delivery",
        "ready_for_pickup",
        "picked_up",
        "confirmed",
        "in_transit",
        "out_for_delivery",
        "delivered",
        "failure",
    }
    assert documented <= set(SHOPIFY_STATUS)


def test_a_refund_counts_only_successful_refund_transactions():
    # given
    body = payloads.refund()
    body["transactions"] += [
        {**body["transactions"][0], "id": 2, "status": "failure", "amount": "99.00"},
        {**body["transactions"][0], "id": 3, "kind": "sale", "amount": "5.00"},
    ]
    # when
    mapped = shopify_refund(body, currency="USD")
    # then
    assert (mapped["amount"], mapped["occurred_at"]) == (
        Decimal("38.00"),
        "2026-03-05T10:00:00-05:00",
    )


def test_customer_fields_shopify_leaves_out_or_sends_as_null_are_not_in_the_payload():
    # given: no protected customer data access: names and contacts left out or null
    customer = payloads.customer(email=None, phone=None)
    del customer["first_name"], customer["last_name"]
    # when
    mapped = shopify_customer(customer, order_email=None)
    # then
    assert mapped == {
        "external_id": str(payloads.CUSTOMER_ID),
        "accepts_email_marketing": True,
        "accepts_sms_marketing": False,
        "consent_source": "shopify",
        "consent_updated_at": datetime(2026, 2, 20, 15, 0, tzinfo=UTC),
    }


def test_an_empty_customer_email_falls_back_on_the_orders_and_an_empty_name_is_kept():
    # when
    mapped = shopify_customer(
        payloads.customer(email="", first_name="", email_marketing_consent=None),
        order_email="Jon@Example.com",
    )
    # then
    assert {k: mapped[k] for k in ("email", "first_name", "last_name")} == {
        "email": "Jon@example.com",
        "first_name": "",
        "last_name": "Snow",
    }


def test_the_order_is_placed_when_shopify_processed_it_else_when_it_was_created():
    # given: an order imported into Shopify a week after it was placed
    imported = payloads.order(
        created_at="2026-03-08T07:00:00-05:00", processed_at="2026-03-01T07:00:00-05:00"
    )
    without = payloads.order(created_at="2026-03-08T07:00:00-05:00", processed_at=None)
    # then
    assert shopify_order(imported)["placed_at"] == "2026-03-01T07:00:00-05:00"
    assert shopify_order(without)["placed_at"] == "2026-03-08T07:00:00-05:00"


def test_a_refund_is_counted_in_shop_money_when_shopify_gives_it():
    # given: a CAD shopper's refund of a USD shop's order
    body = payloads.refund()
    body["transactions"][0] |= {
        "amount": "51.30",
        "currency": "CAD",
        "amount_set": {
            "shop_money": {"amount": "38.00", "currency_code": "USD"},
            "presentment_money": {"amount": "51.30", "currency_code": "CAD"},
        },
    }
    # when
    mapped = shopify_refund(body, currency="USD")
    # then
    assert mapped["amount"] == Decimal("38.00")


def test_a_refund_in_another_currency_without_shop_money_counts_its_lines_shop_money():
    # given: the transaction is in the shopper's currency only
    body = payloads.refund()
    body["transactions"][0] |= {"amount": "51.30", "currency": "CAD"}
    # when
    mapped = shopify_refund(body, currency="USD")
    # then: subtotal 35.00 + tax 3.00, in the shop's money
    assert mapped["amount"] == Decimal("38.00")


def test_a_refund_in_the_orders_currency_counts_its_transactions():
    # given
    body = payloads.refund()
    body["transactions"].append({**body["transactions"][0], "id": 2, "amount": "4.50"})
    # when
    mapped = shopify_refund(body, currency="usd")
    # then
    assert mapped["amount"] == Decimal("42.50")
