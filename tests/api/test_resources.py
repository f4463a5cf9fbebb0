"""Customers, products, shipments, tracking events and custom events through the API."""

import pytest

from orders.models import Customer, Shipment
from postpurchase.events.models import Event
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


def test_customer_upsert_then_patch_by_id_keeps_other_fields(api_a):
    created = api_a.post(
        "/api/v1/customers",
        {"email": "Grace@Example.net", "first_name": "Grace", "phone": "+14155550123"},
        format="json",
    )
    pk = created.json()["id"]

    patched = api_a.patch(
        f"/api/v1/customers/{pk}",
        {"last_name": "Hopper", "accepts_email_marketing": True, "consent_source": "checkout"},
        format="json",
    )

    assert created.status_code == 201
    assert patched.status_code == 200
    body = patched.json()
    assert (body["email"], body["first_name"], body["last_name"], body["phone"]) == (
        "grace@example.net",
        "Grace",
        "Hopper",
        "+14155550123",
    )
    assert body["accepts_email_marketing"] is True
    assert body["email_consent_source"] == "checkout"
    assert Customer.unscoped.count() == 1


def test_customer_patch_can_give_an_external_id_once_and_refuses_a_taken_one(api_a):
    one = api_a.post("/api/v1/customers", {"email": "a@example.net"}, format="json").json()
    api_a.post("/api/v1/customers", {"external_id": "c-2", "email": "b@example.net"}, format="json")

    given = api_a.patch(f"/api/v1/customers/{one['id']}", {"external_id": "c-1"}, format="json")
    taken = api_a.patch(f"/api/v1/customers/{one['id']}", {"external_id": "c-2"}, format="json")

    assert given.status_code == 200
    assert given.json()["external_id"] == "c-1"
    assert taken.status_code == 409
    assert list(taken.json()["errors"]) == ["external_id"]
    assert Customer.unscoped.get(pk=one["id"]).external_id == "c-1"


def test_customer_list_filters_by_email_and_updated_since(api_a):
    api_a.post("/api/v1/customers", {"email": "a@example.net"}, format="json")
    api_a.post("/api/v1/customers", {"email": "b@example.net"}, format="json")

    by_email = api_a.get("/api/v1/customers?email=B@example.net").json()["results"]
    future = api_a.get("/api/v1/customers?updated_since=2100-01-01T00:00:00Z").json()["results"]

    assert [c["email"] for c in by_email] == ["b@example.net"]
    assert future == []


def test_product_put_patch_and_price_in_store_currency(api_a):
    put = api_a.put(
        "/api/v1/products/by-external-id/sku%2F1",
        {"title": "Lamp", "price": "19.9", "category": "home"},
        format="json",
    )
    patched = api_a.patch(
        "/api/v1/products/by-external-id/sku%2F1", {"price": "24.50"}, format="json"
    )

    assert put.status_code == 201
    assert put.json()["external_id"] == "sku/1"
    assert put.json()["price"] == "19.90"
    assert patched.status_code == 200
    assert (patched.json()["title"], patched.json()["price"]) == ("Lamp", "24.50")


def test_shipment_create_patch_and_tracking_events(api_a):
    api_a.post("/api/v1/orders", order_payload(), format="json")
    created = api_a.post(
        "/api/v1/shipments",
        {"external_id": "shp-1", "order_external_id": "ord-1001", "carrier": "DHL"},
        format="json",
    ).json()

    patched = api_a.patch(
        f"/api/v1/shipments/{created['id']}", {"tracking_number": "JD0001"}, format="json"
    )
    checkpoint = {
        "status": "out_for_delivery",
        "occurred_at": "2026-03-03T07:30:00Z",
        "location": "Berlin",
    }
    first = api_a.post(
        f"/api/v1/shipments/{created['id']}/tracking-events", checkpoint, format="json"
    )
    again = api_a.post(
        f"/api/v1/shipments/{created['id']}/tracking-events", checkpoint, format="json"
    )
    listed = api_a.get(f"/api/v1/shipments/{created['id']}/tracking-events").json()

    assert patched.json()["tracking_number"] == "JD0001"
    assert patched.json()["carrier"] == "DHL"
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert [(e["status"], e["location"]) for e in listed["results"]] == [
        ("out_for_delivery", "Berlin")
    ]
    assert Shipment.unscoped.get().status == "out_for_delivery"
    assert Event.unscoped.filter(type="shipment.out_for_delivery").count() == 1


def test_custom_event_is_recorded_once_per_id(api_a):
    api_a.post("/api/v1/customers", {"external_id": "c-1"}, format="json")
    body = {
        "type": "product.setup_completed",
        "id": "evt-1",
        "customer_external_id": "c-1",
        "occurred_at": "2026-03-05T10:00:00Z",
        "properties": {"product": "Router X", "steps": 4},
    }

    first = api_a.post("/api/v1/events", body, format="json")
    again = api_a.post("/api/v1/events", body, format="json")
    listed = api_a.get("/api/v1/events?type=product.setup_completed").json()["results"]

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["properties"] == {"product": "Router X", "steps": 4}
    assert first.json()["source"] == "api"
    assert [e["id"] for e in listed] == [first.json()["id"]]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"type": "order.placed", "customer_external_id": "c-1"}, 400, "type"),
        ({"type": "Not A Type", "customer_external_id": "c-1"}, 400, "type"),
        ({"type": "product.setup_completed"}, 400, "non_field_errors"),
        ({"type": "x.y", "customer_id": 1, "customer_external_id": "c-1"}, 400, "non_field_errors"),
        ({"type": "x.y", "customer_external_id": "nobody"}, 404, "customer_external_id"),
        (
            {"type": "x.y", "customer_external_id": "c-1", "properties": {"a": "b" * 20000}},
            400,
            "properties",
        ),
        ({"type": "x.y", "customer_external_id": "c-1", "colour": "red"}, 400, "colour"),
    ],
)
def test_bad_custom_events_are_refused_naming_the_field(api_a, body, status, field):
    api_a.post("/api/v1/customers", {"external_id": "c-1"}, format="json")

    response = api_a.post("/api/v1/events", body, format="json")

    assert response.status_code == status
    assert list(response.json()["errors"]) == [field]
    assert Event.unscoped.count() == 0
