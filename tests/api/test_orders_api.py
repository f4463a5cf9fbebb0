"""Orders through the API: create, upsert, by external id, PATCH, lists and filters."""

import pytest

from orders.models import Order
from postpurchase.events.models import Event
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


def test_post_creates_the_order_and_answers_201(api_a, merchant_a):
    # when
    response = api_a.post("/api/v1/orders", order_payload(currency="USD"), format="json")

    # then
    assert response.status_code == 201
    assert response["Ingest-Result"] == "created"
    body = response.json()
    order = Order.unscoped.get(merchant=merchant_a, external_id="ord-1001")
    assert body["id"] == order.pk
    assert body["number"] == "#1001"
    assert body["total"] == "85.00"
    assert body["customer_external_id"] == "cust-1"
    assert body["lines"] == [
        {
            "id": order.lines.get().pk,
            "external_id": "line-1",
            "product_id": order.lines.get().product_id,
            "product_external_id": "prod-1",
            "title": "Trail shoe",
            "sku": "TS-1",
            "quantity": 2,
            "unit_price": "40.00",
            "discount": "0.00",
            "total": "80.00",
        }
    ]
    assert list(Event.unscoped.filter(merchant=merchant_a).values_list("type", flat=True)) == [
        "order.placed"
    ]


def test_the_same_post_again_is_unchanged_and_answers_200(api_a):
    api_a.post("/api/v1/orders", order_payload(), format="json")

    response = api_a.post("/api/v1/orders", order_payload(), format="json")

    assert response.status_code == 200
    assert response["Ingest-Result"] == "unchanged"
    assert Order.unscoped.count() == 1


def test_put_by_external_id_upserts(api_a):
    # when: created by PUT, then changed by PUT
    payload = order_payload()
    del payload["external_id"]
    first = api_a.put("/api/v1/orders/by-external-id/ord-1001", payload, format="json")
    second = api_a.put(
        "/api/v1/orders/by-external-id/ord-1001", {**payload, "number": "#1001-B"}, format="json"
    )

    # then
    assert (first.status_code, second.status_code) == (201, 200)
    assert second["Ingest-Result"] == "updated"
    assert Order.unscoped.get().number == "#1001-B"


def test_put_refuses_a_body_naming_another_external_id(api_a):
    response = api_a.put(
        "/api/v1/orders/by-external-id/ord-9", order_payload(external_id="ord-1"), format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "external_id_mismatch"
    assert response.json()["errors"]["external_id"][0]["code"] == "external_id_mismatch"
    assert Order.unscoped.count() == 0


@pytest.mark.parametrize(
    "path",
    [
        "orders/by-external-id/ord-1001",
        "products/by-external-id/prod-9",
        "shipments/by-external-id/shp-1",
    ],
)
def test_a_patch_changing_an_external_id_is_refused_and_changes_nothing(api_a, path):
    # given: an order, a product and a shipment
    api_a.post("/api/v1/orders", order_payload(), format="json")
    api_a.put("/api/v1/products/by-external-id/prod-9", {"title": "Lamp"}, format="json")
    shipment = {"external_id": "shp-1", "order_external_id": "ord-1001", "carrier": "DHL"}
    api_a.post("/api/v1/shipments", shipment, format="json")
    before = api_a.get(f"/api/v1/{path}").json()

    # when
    response = api_a.patch(f"/api/v1/{path}", {"external_id": "other"}, format="json")

    # then
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["title"]) == (
        "external_id_immutable",
        "external_id cannot change",
    )
    assert list(response.json()["errors"]) == ["external_id"]
    assert api_a.get(f"/api/v1/{path}").json() == before


def test_patch_changes_only_the_fields_sent(api_a):
    created = api_a.post("/api/v1/orders", order_payload(), format="json").json()

    response = api_a.patch(
        f"/api/v1/orders/{created['id']}",
        {"cancelled_at": "2026-03-02T09:00:00Z", "cancel_reason": "customer"},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["cancelled_at"] == "2026-03-02T09:00:00Z"
    assert body["cancel_reason"] == "customer"
    assert body["total"] == "85.00"
    assert body["customer_external_id"] == "cust-1"
    assert [line["external_id"] for line in body["lines"]] == ["line-1"]
    assert sorted(Event.unscoped.values_list("type", flat=True)) == [
        "order.cancelled",
        "order.placed",
        "order.updated",
    ]


def test_patch_by_external_id_with_a_bad_field_names_it_and_changes_nothing(api_a):
    api_a.post("/api/v1/orders", order_payload(), format="json")

    response = api_a.patch("/api/v1/orders/by-external-id/ord-1001", {"total": "-1"}, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == ["total"]
    assert Order.unscoped.get().total == 85


def test_expand_shipments(api_a):
    api_a.post("/api/v1/orders", order_payload(), format="json")
    api_a.post(
        "/api/v1/shipments",
        {
            "external_id": "shp-1",
            "order_external_id": "ord-1001",
            "carrier": "UPS",
            "tracking_number": "1Z999",
            "lines": [{"line_external_id": "line-1", "quantity": 2}],
        },
        format="json",
    )

    plain = api_a.get("/api/v1/orders/by-external-id/ord-1001").json()
    expanded = api_a.get("/api/v1/orders/by-external-id/ord-1001?expand=shipments").json()

    assert "shipments" not in plain
    assert [
        (s["external_id"], s["tracking_number"], s["lines"]) for s in expanded["shipments"]
    ] == [
        (
            "shp-1",
            "1Z999",
            [
                {
                    "order_line_id": expanded["lines"][0]["id"],
                    "line_external_id": "line-1",
                    "quantity": 2,
                }
            ],
        )
    ]
    assert expanded["fulfillment_status"] == "fulfilled"


def test_list_filters_and_cursor_pages(api_a):
    for n in range(5):
        api_a.post(
            "/api/v1/orders",
            order_payload(
                external_id=f"o-{n}",
                number=f"#{n}",
                placed_at=f"2026-03-0{n + 1}T12:00:00Z",
                cancelled_at="2026-03-09T00:00:00Z" if n == 4 else None,
            ),
            format="json",
        )

    first = api_a.get("/api/v1/orders?limit=2&status=open").json()
    second = api_a.get(first["next"]).json()
    placed = api_a.get(
        "/api/v1/orders?placed_after=2026-03-02T00:00:00Z&placed_before=2026-03-04T00:00:00Z"
        "&ordering=placed_at"
    ).json()
    cancelled = api_a.get("/api/v1/orders?status=cancelled").json()

    assert [o["external_id"] for o in first["results"]] == ["o-3", "o-2"]
    assert [o["external_id"] for o in second["results"]] == ["o-1", "o-0"]
    assert second["next"] is None
    assert [o["external_id"] for o in placed["results"]] == ["o-1", "o-2"]
    assert [o["external_id"] for o in cancelled["results"]] == ["o-4"]


def test_a_bad_filter_value_is_a_problem_naming_the_parameter(api_a):
    response = api_a.get("/api/v1/orders?updated_since=yesterday")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == ["updated_since"]


def test_a_read_key_cannot_write(api_a_read):
    response = api_a_read.post("/api/v1/orders", order_payload(), format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert Order.unscoped.count() == 0


def test_bulk_upserts_each_order_on_its_own(api_a, merchant_a):
    # given: one existing order, then a batch with a change, a new order and a bad one
    api_a.post("/api/v1/orders", order_payload(), format="json")
    batch = [
        order_payload(number="#1001-renamed"),
        order_payload(external_id="ord-2", number="#2"),
        order_payload(external_id="ord-3", number="#3", total="-1"),
        order_payload(external_id="ord-2", number="#2-again"),
    ]

    # when
    response = api_a.post("/api/v1/orders/bulk", {"orders": batch}, format="json")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "stale": 0,
        "failed": 2,
    }
    statuses = [(r["index"], r["external_id"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "ord-1001", "updated"),
        (1, "ord-2", "created"),
        (2, "ord-3", "failed"),
        (3, "ord-2", "failed"),
    ]
    assert list(body["results"][2]["error"]["errors"]) == ["total"]
    assert body["results"][3]["error"]["code"] == "duplicate"
    assert body["results"][1]["id"] == Order.unscoped.get(external_id="ord-2").pk
    assert sorted(Order.unscoped.values_list("external_id", "number")) == [
        ("ord-1001", "#1001-renamed"),
        ("ord-2", "#2"),
    ]


def test_bulk_refuses_more_than_1000_orders_whole(api_a):
    response = api_a.post(
        "/api/v1/orders/bulk", {"orders": [order_payload()] * 1001}, format="json"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert Order.unscoped.count() == 0


@pytest.mark.parametrize(
    "second",
    [
        order_payload(),  # unchanged
        order_payload(number="#1001-B", lines=order_payload()["lines"] * 1),  # updated
        order_payload(
            customer={"external_id": "cust-2", "email": "grace@example.net"},
            lines=[
                {
                    "external_id": "line-9",
                    "quantity": 1,
                    "unit_price": "85.00",
                    "product": {"external_id": "prod-9", "title": "Lamp"},
                }
            ],
        ),  # another customer, new line and product
    ],
)
def test_the_answer_to_a_write_is_the_order_as_stored(api_a, second):
    # given
    api_a.post("/api/v1/orders", order_payload(), format="json")

    # when
    answer = api_a.post("/api/v1/orders", second, format="json")

    # then: what the write answered is what a read returns
    stored = api_a.get(f"/api/v1/orders/{answer.json()['id']}").json()
    assert answer.json() == stored
    assert stored["customer_id"] is not None
    assert all(line["id"] and line["product_id"] for line in stored["lines"])


def test_the_answer_to_a_create_is_the_order_as_stored(api_a):
    answer = api_a.post("/api/v1/orders", order_payload(), format="json")

    assert answer.json() == api_a.get(f"/api/v1/orders/{answer.json()['id']}").json()


def test_the_fast_order_rendering_equals_drfs_generic_one(api_a):
    from rest_framework import serializers as drf

    from orders.serializers import OrderSerializer

    # given: orders with and without a customer, cancelled, several lines, a line discount
    api_a.post("/api/v1/orders", order_payload(), format="json")
    api_a.post(
        "/api/v1/orders",
        order_payload(
            external_id="o-2",
            customer=None,
            cancelled_at="2026-03-02T10:00:00+02:00",
            updated_at="2026-03-02T10:00:00Z",
            lines=[
                {"title": "Gift card", "quantity": 1, "unit_price": "50.00", "discount": "5.00"},
                {
                    "external_id": "x",
                    "product_external_id": "prod-1",
                    "quantity": 3,
                    "unit_price": "10.00",
                },
            ],
            subtotal="80.00",
            total="85.00",
        ),
        format="json",
    )

    # when / then
    for order in Order.unscoped.all():
        serializer = OrderSerializer(order)
        fast = serializer.to_representation(order)
        generic = drf.ModelSerializer.to_representation(serializer, order)
        assert fast == generic
        assert list(fast) == OrderSerializer.Meta.fields
