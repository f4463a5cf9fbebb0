"""Shopify's shipping_address onto ours (``zip`` is the postal code, the name falls back on
first and last), checked against the sample order payload, and the order it makes carries it."""

from __future__ import annotations

import pytest

from connectors.shopify import shopify_address, shopify_order
from orders.schemas import OrderIn
from tests.connectors import payloads


def test_the_sample_orders_shipping_address_is_mapped():
    # when
    mapped = shopify_order(payloads.order())

    # then: the sample has no name, so first and last make it
    assert mapped["shipping_address"] == {
        "name": "Jon Snow",
        "company": "",
        "address1": "1 Wall Street",
        "address2": "",
        "city": "Ottawa",
        "province_code": "ON",
        "postal_code": "K1A 0B1",
        "country_code": "CA",
        "phone": "",
    }
    assert OrderIn.model_validate(mapped).shipping_address.stored() == mapped["shipping_address"]


def test_every_part_shopify_sends_is_kept():
    # given: a MailingAddress with everything
    address = {
        "first_name": "Jon",
        "last_name": "Snow",
        "name": "Lord Snow",
        "company": "Night's Watch",
        "address1": "Castle Black",
        "address2": "The Wall",
        "city": "Ottawa",
        "province": "Ontario",
        "province_code": "ON",
        "zip": "K1A 0B1",
        "country": "Canada",
        "country_code": "CA",
        "phone": "+1 613-555-0123",
        "latitude": 45.4,
        "longitude": -75.7,
    }

    # when / then
    assert shopify_address(address) == {
        "name": "Lord Snow",
        "company": "Night's Watch",
        "address1": "Castle Black",
        "address2": "The Wall",
        "city": "Ottawa",
        "province_code": "ON",
        "postal_code": "K1A 0B1",
        "country_code": "CA",
        "phone": "+1 613-555-0123",
    }


@pytest.mark.parametrize("value", [None, "", [], "Castle Black"])
def test_no_shipping_address_maps_to_none(value):
    # when
    mapped = shopify_order(payloads.order(shipping_address=value))

    # then
    assert mapped["shipping_address"] is None
    assert OrderIn.model_validate(mapped).shipping_address is None


def test_overlong_parts_are_cut_and_an_odd_country_left_out_rather_than_refusing_the_order():
    # when
    mapped = shopify_address(
        {"zip": "9" * 30, "city": "c" * 150, "country_code": "Ca1", "province_code": "x" * 40}
    )

    # then: the payload takes it
    assert (mapped["postal_code"], mapped["city"]) == ("9" * 20, "c" * 100)
    assert (mapped["country_code"], mapped["province_code"]) == ("", "x" * 16)
    assert (
        OrderIn.model_validate(
            shopify_order(payloads.order(shipping_address={"zip": "9" * 30}))
        ).shipping_address.postal_code
        == "9" * 20
    )
