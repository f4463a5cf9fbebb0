"""order_ingest: idempotent upserts by external id, events, derived customer figures."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orders.models import Customer, Order, OrderLine, Product
from orders.services.customers import customer_upsert
from orders.services.orders import order_ingest
from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.factories import order_payload, two_line_order_payload

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def event_types(merchant):
    return list(
        Event.unscoped.filter(merchant=merchant).order_by("id").values_list("type", flat=True)
    )


def test_ingesting_the_same_order_twice_gives_one_order_and_one_placed_event(merchant_a):
    # when
    first = order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)
    second = order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)

    # then
    assert (first.created, first.events) == (True, ["order.placed"])
    assert (second.created, second.changed, second.events) == (False, False, [])
    assert Order.unscoped.count() == 1
    assert OrderLine.unscoped.count() == 1
    assert Customer.unscoped.count() == 1
    assert Product.unscoped.count() == 1
    assert event_types(merchant_a) == ["order.placed"]


def test_the_order_and_its_parts_are_stored_as_sent(merchant_a, in_a):
    # when
    order = order_ingest(
        merchant=merchant_a, payload=order_payload(currency="usd"), now=NOW
    ).instance

    # then
    order.refresh_from_db()
    line = order.lines.get()
    assert (order.number, order.currency, order.subtotal, order.shipping, order.total) == (
        "#1001",
        "USD",
        Decimal("80.000"),
        Decimal("5.000"),
        Decimal("85.000"),
    )
    assert order.placed_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert (line.external_id, line.title, line.sku, line.quantity, line.unit_price) == (
        "line-1",
        "Trail shoe",
        "TS-1",
        2,
        Decimal("40.000"),
    )
    assert line.product.category == "footwear"
    assert order.customer.email == "ada@example.net"


def test_placed_event_carries_the_order_snapshot(merchant_a):
    order = order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW).instance

    event = Event.unscoped.get(type="order.placed")

    assert event.customer_id == order.customer_id
    assert event.occurred_at == order.placed_at
    assert event.dedupe_key == "order.placed:ord-1001"
    assert event.payload == {
        "order_id": order.pk,
        "external_id": "ord-1001",
        "number": "#1001",
        "currency": "EUR",
        "total": "85.00",
        "placed_at": "2026-03-01T12:00:00+00:00",
        "line_count": 1,
        "skus": ["TS-1"],
        "categories": ["footwear"],
        "first_order": True,
    }


def test_a_changed_order_records_updated_then_cancelled(merchant_a):
    # given
    order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)

    # when
    updated = order_ingest(
        merchant=merchant_a, payload=order_payload(tax="2.00", total="87.00"), now=NOW
    )
    cancelled = order_ingest(
        merchant=merchant_a,
        payload=order_payload(
            tax="2.00", total="87.00", cancelled_at="2026-03-02T09:00:00Z", cancel_reason="customer"
        ),
        now=NOW,
    )

    # then
    assert updated.events == ["order.updated"]
    assert cancelled.events == ["order.updated", "order.cancelled"]
    assert event_types(merchant_a) == [
        "order.placed",
        "order.updated",
        "order.updated",
        "order.cancelled",
    ]
    customer = Customer.unscoped.get()
    assert (customer.orders_count, customer.total_spent) == (0, Decimal("0"))


def test_a_stale_update_is_ignored(merchant_a):
    # given
    order_ingest(
        merchant=merchant_a,
        payload=order_payload(updated_at="2026-03-01T15:00:00Z", tax="1.00", total="86.00"),
        now=NOW,
    )

    # when
    stale = order_ingest(
        merchant=merchant_a, payload=order_payload(updated_at="2026-03-01T13:00:00Z"), now=NOW
    )

    # then
    assert stale.stale is True
    assert Order.unscoped.get().total == Decimal("86.000")
    assert event_types(merchant_a) == ["order.placed"]


def test_lines_are_upserted_by_external_id_and_removed_when_dropped(merchant_a):
    # given
    two_lines = two_line_order_payload()
    order_ingest(merchant=merchant_a, payload=two_lines, now=NOW)
    first_line_id = OrderLine.unscoped.get(external_id="l1").pk

    # when
    one_line = {
        **two_lines,
        "lines": [{"external_id": "l1", "title": "Sock", "quantity": 3, "unit_price": "10"}],
    }
    result = order_ingest(merchant=merchant_a, payload=one_line, now=NOW)

    # then
    assert result.events == ["order.updated"]
    assert list(OrderLine.unscoped.values_list("pk", "external_id", "quantity")) == [
        (first_line_id, "l1", 3)
    ]


def test_customer_figures_follow_the_orders(merchant_a):
    # when
    order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)
    second = order_ingest(
        merchant=merchant_a,
        payload=order_payload(
            external_id="ord-1002", number="#1002", placed_at="2026-04-01T10:00:00Z", currency="USD"
        ),
        now=NOW,
    )

    # then: merchant A trades in USD, so only the USD order counts towards total_spent
    customer = Customer.unscoped.get()
    assert customer.orders_count == 2
    assert customer.total_spent == Decimal("85.000")
    assert customer.first_order_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert customer.last_order_at == datetime(2026, 4, 1, 10, 0, tzinfo=UTC)
    assert Event.unscoped.get(dedupe_key="order.placed:ord-1002").payload["first_order"] is False
    assert second.instance.customer_id == customer.pk


def test_fulfilled_on_arrival_records_placed_and_fulfilled(merchant_a):
    result = order_ingest(
        merchant=merchant_a, payload=order_payload(fulfillment_status="fulfilled"), now=NOW
    )

    assert result.events == ["order.placed", "order.fulfilled"]


def test_same_external_id_in_two_merchants_gives_two_orders(merchant_a, merchant_b):
    order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)
    order_ingest(merchant=merchant_b, payload=order_payload(), now=NOW)

    assert Order.unscoped.filter(merchant=merchant_a).count() == 1
    assert Order.unscoped.filter(merchant=merchant_b).count() == 1
    assert Customer.unscoped.filter(merchant=merchant_b).get().orders_count == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "XXQ"}, "currency"),
        ({"total": "-1.00"}, "total"),
        ({"placed_at": "2026-03-01T12:00:00"}, "placed_at"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"financial_status": "maybe"}, "financial_status"),
        ({"lines": []}, "lines"),
        ({"number": ""}, "number"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"customer": {"external_id": "c", "email": "not-an-email"}}, "customer.email"),
        ({"customer": {"external_id": "c", "phone": "12"}}, "customer.phone"),
        ({"customer": {"external_id": "c", "timezone": "Mars/Olympus"}}, "customer.timezone"),
        ({"lines": [{"title": "x", "quantity": 0, "unit_price": "1"}]}, "lines[0].quantity"),
        ({"lines": [{"title": "x", "quantity": 1, "unit_price": "abc"}]}, "lines[0].unit_price"),
    ],
)
def test_bad_orders_name_the_field_and_write_nothing(merchant_a, overrides, field):
    # when
    with pytest.raises(DomainError) as excinfo:
        order_ingest(merchant=merchant_a, payload=order_payload(**overrides), now=NOW)

    # then
    assert excinfo.value.code == "invalid"
    assert field in excinfo.value.fields
    assert Order.unscoped.count() == Customer.unscoped.count() == Event.unscoped.count() == 0


def test_money_with_more_decimals_than_the_currency_allows_is_refused(merchant_a):
    with pytest.raises(DomainError) as jpy:
        order_ingest(
            merchant=merchant_a,
            payload=order_payload(currency="JPY", subtotal="80.5", total="85"),
            now=NOW,
        )
    with pytest.raises(DomainError) as eur:
        order_ingest(merchant=merchant_a, payload=order_payload(total="85.001"), now=NOW)

    assert "JPY amounts have at most 0 decimal places" in jpy.value.message
    assert "EUR amounts have at most 2 decimal places" in eur.value.message
    assert Order.unscoped.count() == 0


def test_an_unknown_product_reference_fails_and_rolls_back_the_customer(merchant_a):
    payload = order_payload(
        lines=[{"product_external_id": "ghost", "title": "Ghost", "quantity": 1, "unit_price": "1"}]
    )

    with pytest.raises(DomainError) as excinfo:
        order_ingest(merchant=merchant_a, payload=payload, now=NOW)

    assert excinfo.value.code == "not_found"
    assert excinfo.value.field == "lines[0].product_external_id"
    assert Customer.unscoped.count() == 0
    assert Order.unscoped.count() == 0


def test_customer_phone_is_normalised_to_e164_with_the_merchants_region(merchant_a, merchant_b):
    a = customer_upsert(
        merchant=merchant_a, payload={"external_id": "c1", "phone": "(212) 555-2368"}
    ).instance
    b = customer_upsert(
        merchant=merchant_b, payload={"external_id": "c1", "phone": "030 901820"}
    ).instance

    assert a.phone == "+12125552368"
    assert b.phone == "+4930901820"


def test_consent_is_only_overwritten_by_a_newer_statement(merchant_a):
    # given
    customer_upsert(
        merchant=merchant_a,
        payload={
            "external_id": "c1",
            "accepts_email_marketing": True,
            "consent_source": "checkout",
            "consent_updated_at": "2026-03-01T10:00:00Z",
        },
    )

    # when
    customer_upsert(
        merchant=merchant_a,
        payload={
            "external_id": "c1",
            "accepts_email_marketing": False,
            "consent_source": "old-import",
            "consent_updated_at": "2026-02-01T10:00:00Z",
        },
    )
    older = Customer.unscoped.get()
    customer_upsert(
        merchant=merchant_a,
        payload={
            "external_id": "c1",
            "accepts_email_marketing": False,
            "consent_source": "preferences",
            "consent_updated_at": "2026-03-05T10:00:00Z",
        },
    )
    newer = Customer.unscoped.get()

    # then
    assert (older.email_marketing_consent, older.email_consent_source) == (True, "checkout")
    assert (newer.email_marketing_consent, newer.email_consent_source) == (False, "preferences")
    assert newer.email_consent_updated_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def test_a_line_may_name_only_a_known_product(merchant_a):
    # given
    from orders.services.products import product_upsert

    product_upsert(
        merchant=merchant_a, payload={"external_id": "prod-x", "title": "Trail shoe", "sku": "TS-9"}
    )

    # when
    order = order_ingest(
        merchant=merchant_a,
        payload=order_payload(
            lines=[{"product_external_id": "prod-x", "quantity": 1, "unit_price": "80.00"}]
        ),
        now=NOW,
    ).instance

    # then
    line = OrderLine.unscoped.get(order=order)
    assert (line.title, line.sku, line.product.external_id) == ("Trail shoe", "TS-9", "prod-x")


def test_a_merchant_with_orders_can_be_deleted(merchant_a):
    from postpurchase.tenancy.models import Merchant

    order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)

    merchant_a.delete()

    assert not Merchant.objects.filter(slug="alpha").exists()
    assert Order.unscoped.count() == Customer.unscoped.count() == Event.unscoped.count() == 0


def test_an_order_update_keeps_the_fulfillment_its_shipments_derived(merchant_a):
    # given: an order whose only line has shipped
    from orders.services.shipments import shipment_ingest

    order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)
    shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1001",
            "lines": [{"line_external_id": "line-1", "quantity": 2}],
        },
    )

    # when: the store sends the order again (a refund), saying nothing of fulfillment
    result = order_ingest(
        merchant=merchant_a, payload=order_payload(financial_status="refunded"), now=NOW
    )

    # then
    order = Order.unscoped.get()
    assert (order.financial_status, order.fulfillment_status) == ("refunded", "fulfilled")
    assert result.events == ["order.updated"]


def test_an_order_payload_without_a_customer_keeps_the_orders_customer(merchant_a):
    # given
    order_ingest(merchant=merchant_a, payload=order_payload(), now=NOW)
    anonymous = {
        k: v for k, v in order_payload(tax="1.00", total="86.00").items() if k != "customer"
    }

    # when
    order_ingest(merchant=merchant_a, payload=anonymous, now=NOW)

    # then
    order = Order.unscoped.select_related("customer").get()
    assert order.customer.external_id == "cust-1"
    assert order.customer.orders_count == 1


def test_an_undated_payload_does_not_erase_the_staleness_mark(merchant_a):
    # given: an update dated 15:00, then one with no date
    order_ingest(
        merchant=merchant_a,
        now=NOW,
        payload=order_payload(updated_at="2026-03-01T15:00:00Z", financial_status="paid"),
    )
    order_ingest(merchant=merchant_a, now=NOW, payload=order_payload(financial_status="paid"))

    # when: an update dated 13:00 arrives late
    late = order_ingest(
        merchant=merchant_a,
        now=NOW,
        payload=order_payload(updated_at="2026-03-01T13:00:00Z", financial_status="pending"),
    )

    # then
    assert late.stale is True
    order = Order.unscoped.get()
    assert order.financial_status == "paid"
    assert order.source_updated_at == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)


def test_a_shipped_line_cannot_be_dropped_from_the_order(merchant_a):
    # given
    from orders.models import ShipmentLine
    from orders.services.shipments import shipment_ingest

    two_lines = two_line_order_payload()
    order_ingest(merchant=merchant_a, payload=two_lines, now=NOW)
    shipment_ingest(
        merchant=merchant_a,
        now=NOW,
        payload={
            "external_id": "ful-1",
            "order_external_id": "ord-1001",
            "lines": [{"line_external_id": "l1", "quantity": 1}],
        },
    )

    # when
    with pytest.raises(DomainError) as excinfo:
        order_ingest(
            merchant=merchant_a,
            now=NOW,
            payload={
                **two_lines,
                "lines": [{"external_id": "l2", "title": "Cap", "quantity": 1, "unit_price": "20"}],
            },
        )

    # then
    assert (excinfo.value.code, excinfo.value.field) == ("line_shipped", "lines")
    assert OrderLine.unscoped.count() == 2
    assert ShipmentLine.unscoped.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"total": "85.001"}, "total", "currency_decimals"),
        ({"currency": "JPY", "subtotal": "80.5", "total": "85"}, "subtotal", "currency_decimals"),
        (
            {"lines": [{"title": "x", "quantity": 2, "unit_price": "1.005"}]},
            "lines[0].unit_price",
            "currency_decimals",
        ),
        (
            {"lines": [{"title": "x", "quantity": 2, "unit_price": "10", "discount": "20.01"}]},
            "lines[0].discount",
            "too_large",
        ),
        ({"total": "99999999999999"}, "total", "decimal_whole_digits"),
        ({"number": "A\x00B"}, "number", "value_error"),
        (
            {"lines": [{"title": "Mug\x00", "quantity": 1, "unit_price": "1"}]},
            "lines[0].title",
            "value_error",
        ),
        ({"customer": {"external_id": "c", "tags": ["vip\x00"]}}, "customer.tags", "value_error"),
        (
            {
                "lines": [
                    {"external_id": "l", "title": "a", "quantity": 1, "unit_price": "1"},
                    {"external_id": "l", "title": "b", "quantity": 1, "unit_price": "1"},
                ]
            },
            "lines",
            "duplicate",
        ),
        ({"customer_external_id": "someone-else"}, "customer_external_id", "mismatch"),
        (
            {
                "lines": [
                    {"title": "a", "quantity": 1, "unit_price": "1"},
                    {"external_id": "#1", "title": "b", "quantity": 1, "unit_price": "1"},
                ]
            },
            "lines",
            "duplicate",
        ),
        ({"placed_at": "0001-01-01T00:00:00+14:00"}, "placed_at", "value_error"),
        ({"cancelled_at": "9999-12-31T23:59:59-14:00"}, "cancelled_at", "value_error"),
        ({"lines": [{"quantity": 1, "unit_price": "1"}]}, "lines[0].title", "required"),
        (
            {
                "lines": [
                    {
                        "quantity": 1,
                        "unit_price": "1",
                        "product": {"external_id": "p", "title": "Mug", "price": "9.999"},
                    }
                ]
            },
            "lines[0].product.price",
            "invalid",
        ),
    ],
)
def test_each_bad_amount_or_string_names_its_own_field(merchant_a, overrides, field, code):
    with pytest.raises(DomainError) as excinfo:
        order_ingest(merchant=merchant_a, payload=order_payload(**overrides), now=NOW)

    assert excinfo.value.field == field
    assert excinfo.value.fields[field][0]["code"] == code
    assert Order.unscoped.count() == Event.unscoped.count() == 0


def test_customer_total_spent_holds_the_sum_of_the_largest_orders(merchant_a):
    big = "90000000000.00"
    for number in ("1", "2"):
        order_ingest(
            merchant=merchant_a,
            now=NOW,
            payload=order_payload(
                external_id=f"big-{number}",
                number=number,
                currency="USD",
                subtotal=big,
                total=big,
                shipping="0",
                lines=[{"title": "Yacht", "quantity": 1, "unit_price": big}],
            ),
        )

    assert Customer.unscoped.get().total_spent == Decimal("180000000000.000")
