"""Every API endpoint, tried with another merchant's key: objects answer 404 and nothing
changes; lists show none of the other merchant's rows.

The endpoint list is read from the URL configuration, and a test fails when an endpoint is not
in this matrix, so a new endpoint cannot go untested."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from journeys.models import Enrollment, Journey, JourneyStepLog, JourneyVersion
from journeys.services import journey_publish, journey_save, journeys_handle_event
from orders.models import Customer, Order, Product, Shipment, TrackingEvent
from orders.services import order_ingest, shipment_ingest
from postpurchase.events.models import Event
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import order_payload
from tests.tracking.claims.objects import claim_objects
from tracking.claims.models import Claim
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

# Endpoints anyone may read (the schema and its viewers), and the catch-all 404.
PUBLIC = {"api:schema", "api:docs", None}
# Collections: listing them with B's key must show none of A's rows.
COLLECTIONS = {
    "api:customer-list",
    "api:product-list",
    "api:order-list",
    "api:order-bulk",
    "api:shipment-list",
    "api:event-list",
    "api:merchant",
    "api:webhook-endpoint-list",
    "api:journey-list",
    "api:claim-list",
    "api:protected-order-list",
}


def api_patterns():
    """(route, name, view class) of every endpoint under /api/v1/."""
    found = []

    def walk(patterns, prefix, namespace):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route, entry.namespace or namespace)
            elif isinstance(entry, URLPattern):
                name = f"{namespace}:{entry.name}" if entry.name else None
                found.append((route, name, getattr(entry.callback, "view_class", None)))

    walk(get_resolver().url_patterns, "", None)
    return [p for p in found if p[0].startswith("api/v1/")]


@pytest.fixture
def a_objects(merchant_a):
    """One of everything, owned by merchant A: {kind: (id, external_id)}."""
    with merchant_scope(merchant_a):
        order = order_ingest(merchant=merchant_a, payload=order_payload(currency="USD")).instance
        shipment = shipment_ingest(
            merchant=merchant_a,
            payload={
                "external_id": "shp-1",
                "order_external_id": order.external_id,
                "checkpoints": [
                    {"status": "in_transit", "occurred_at": "2026-03-02T08:00:00Z"},
                ],
            },
        ).instance
        customer = Customer.objects.get()
        product = Product.objects.get()
        event = Event.objects.first()
        endpoint = WebhookEndpoint.unscoped.create(
            merchant=merchant_a,
            url="https://a.example/hooks",
            event_types=["*"],
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw7XC3hdK8vzQ=",
        )
        journey = journey_save(
            merchant=merchant_a,
            key="a-journey",
            name="A's journey",
            definition={
                "trigger": {"event": "order.placed"},
                "start": "wait",
                "steps": [{"id": "wait", "type": "delay", "days": 3}],
            },
        )
        journey_publish(journey=journey)
        placed = Event.objects.get(type="order.placed")
        # handled when it happened: an order older than a journey's maximum age enters nothing
        journeys_handle_event(event=placed, now=placed.occurred_at)
        assert Enrollment.objects.count() == 1
    return {
        "customer": (customer.pk, customer.external_id),
        "product": (product.pk, product.external_id),
        "order": (order.pk, order.external_id),
        "shipment": (shipment.pk, shipment.external_id),
        "event": (event.pk, None),
        "webhook_endpoint": (endpoint.pk, None),
        "journey": (journey.pk, None),
        "claim": (claim_objects(merchant_a, order)["claim"].pk, None),
    }


# Object endpoints: which of A's objects fills the URL.
OBJECTS = {
    "api:customer-detail": "customer",
    "api:customer-by-external-id": "customer",
    "api:customer-erase": "customer",
    "api:customer-export": "customer",
    "api:product-detail": "product",
    "api:product-by-external-id": "product",
    "api:order-detail": "order",
    "api:order-by-external-id": "order",
    "api:shipment-detail": "shipment",
    "api:shipment-by-external-id": "shipment",
    "api:shipment-tracking-events": "shipment",
    "api:event-detail": "event",
    "api:webhook-endpoint-detail": "webhook_endpoint",
    "api:webhook-endpoint-rotate-secret": "webhook_endpoint",
    "api:webhook-endpoint-send-test": "webhook_endpoint",
    "api:webhook-endpoint-deliveries": "webhook_endpoint",
    "api:journey-detail": "journey",
    "api:journey-simulate": "journey",
    "api:claim-detail": "claim",
    "api:claim-approve": "claim",
    "api:claim-reject": "claim",
    "api:claim-resolve": "claim",
}


def test_every_api_endpoint_is_in_the_isolation_matrix():
    names = {name for _, name, _ in api_patterns()}

    assert names - PUBLIC - COLLECTIONS - set(OBJECTS) == set()


def object_cases():
    for route, name, view in api_patterns():
        if name in OBJECTS:
            methods = [m.upper() for m in view.http_method_names if hasattr(view, m)]
            for method in methods:
                # PUT by external id is an upsert in the caller's own namespace: tested below.
                if method not in ("OPTIONS", "HEAD", "PUT"):
                    yield pytest.param(route, name, method, id=f"{method} {route}")


def fill(route: str, pk, external_id) -> str:
    url = "/" + route.replace("<int:pk>", str(pk)).replace("<path:external_id>", external_id or "")
    assert "<" not in url, url
    return url


def snapshot():
    return {
        model.__name__: sorted(model.unscoped.values_list("pk", "updated_at"))
        if hasattr(model, "updated_at")
        else sorted(model.unscoped.values_list("pk", flat=True))
        for model in (
            Customer,
            Product,
            Order,
            Shipment,
            TrackingEvent,
            Event,
            WebhookEndpoint,
            WebhookDelivery,
            Journey,
            JourneyVersion,
            Enrollment,
            JourneyStepLog,
            Claim,
        )
    }


@pytest.mark.parametrize(("route", "name", "method"), list(object_cases()))
def test_another_merchants_object_answers_404_and_nothing_changes(
    api_b, a_objects, route, name, method
):
    # given
    pk, external_id = a_objects[OBJECTS[name]]
    url = fill(route, pk, external_id)
    before = snapshot()

    # when: B's key, with a body that would be valid for A's object
    body = {
        "PATCH": {"tags": ["vip"]} if "customer" in name else {"title": "Renamed"},
        "POST": {"status": "delivered", "occurred_at": "2026-03-03T08:00:00Z"},
    }.get(method)
    if name == "api:journey-simulate":
        body = {
            "customer_id": a_objects["customer"][0],
            "events": [{"type": "order.placed", "at": "2026-03-03T08:00:00Z"}],
        }
    response = getattr(api_b, method.lower())(url, body, format="json")

    # then
    assert response.status_code == 404, (method, url, response.content)
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert snapshot() == before


PUT_BODIES = {
    "api:customer-by-external-id": {"email": "b@example.net"},
    "api:product-by-external-id": {"title": "B's product"},
    "api:order-by-external-id": order_payload(customer=None),
}


def put_cases():
    for route, name, view in api_patterns():
        if name in OBJECTS and hasattr(view, "put"):
            yield pytest.param(route, name, id=route)


@pytest.mark.parametrize(("route", "name"), list(put_cases()))
def test_put_by_the_same_external_id_makes_the_callers_own_object(
    api_b, merchant_b, a_objects, route, name
):
    # given
    pk, external_id = a_objects[OBJECTS[name]]
    before = snapshot()
    body = PUT_BODIES.get(name)
    if body is None:  # a shipment needs an order of B's own
        api_b.put("/api/v1/orders/by-external-id/ord-1001", order_payload(), format="json")
        before = snapshot()
        body = {"order_external_id": "ord-1001"}
    body = {k: v for k, v in body.items() if k != "external_id"}

    # when
    response = api_b.put(fill(route, pk, external_id), body, format="json")

    # then: B got a new object of its own; A's rows are as they were
    assert response.status_code == 201, response.content
    assert response.json()["id"] != pk
    after = snapshot()
    for model, rows in before.items():
        assert set(rows) <= set(after[model])


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/customers",
        "/api/v1/products",
        "/api/v1/orders",
        "/api/v1/shipments",
        "/api/v1/events",
        "/api/v1/webhook-endpoints",
        "/api/v1/journeys",
        "/api/v1/claims",
        "/api/v1/orders?customer_external_id=cust-1",
        "/api/v1/shipments?order_external_id=ord-1001",
    ],
)
def test_lists_show_none_of_another_merchants_rows(api_b, a_objects, url):
    response = api_b.get(url)

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_custom_event_cannot_name_another_merchants_customer(api_b, a_objects):
    pk, external_id = a_objects["customer"]

    by_id = api_b.post(
        "/api/v1/events",
        {"type": "product.setup_completed", "customer_id": pk},
        format="json",
    )
    by_external_id = api_b.post(
        "/api/v1/events",
        {"type": "product.setup_completed", "customer_external_id": external_id},
        format="json",
    )

    assert (by_id.status_code, by_external_id.status_code) == (404, 404)
    assert Event.unscoped.filter(type="product.setup_completed").count() == 0


def test_a_shipment_cannot_attach_to_another_merchants_order(api_b, a_objects):
    response = api_b.post(
        "/api/v1/shipments",
        {"external_id": "shp-x", "order_external_id": "ord-1001"},
        format="json",
    )

    assert response.status_code == 404
    assert list(response.json()["errors"]) == ["order_external_id"]
    assert Shipment.unscoped.count() == 1
