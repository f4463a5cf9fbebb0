"""Rate limits per key, problem+json on every error path, and the schema and docs pages."""

import pytest
from django.test import Client

from postpurchase.api import throttling
from tests.conftest import client_for
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


def test_over_the_rate_limit_answers_429_with_retry_after(api_a, merchant_a, settings, monkeypatch):
    # given: 20 s into a minute
    settings.API_RATE_LIMIT = "3/m"
    monkeypatch.setattr(throttling, "_clock", lambda: 1_800_000_020.0)
    other_key = client_for(merchant_a)

    # when
    statuses = [api_a.get("/api/v1/orders").status_code for _ in range(4)]
    limited = api_a.get("/api/v1/orders")
    other = other_key.get("/api/v1/orders")

    # then: counted per key
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert limited["Content-Type"] == "application/problem+json"
    assert limited.json()["code"] == "throttled"
    assert limited["Retry-After"] == "40"
    assert other.status_code == 200


def test_the_count_starts_again_in_the_next_window(api_a, settings, monkeypatch):
    settings.API_RATE_LIMIT = "2/s"
    now = [1_800_000_000.2]
    monkeypatch.setattr(throttling, "_clock", lambda: now[0])

    first = [api_a.get("/api/v1/orders").status_code for _ in range(3)]
    now[0] += 1.0
    second = [api_a.get("/api/v1/orders").status_code for _ in range(3)]

    assert first == second == [200, 200, 429]


@pytest.mark.parametrize(
    ("method", "url", "body", "content_type", "status", "code"),
    [
        ("get", "/api/v1/no-such-thing", None, None, 404, "not_found"),
        ("get", "/api/v1/orders/999999", None, None, 404, "not_found"),
        ("post", "/api/v1/orders", "{not json", "application/json", 400, "parse_error"),
        (
            "post",
            "/api/v1/orders",
            "a=b",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
        ("post", "/api/v1/orders", "[1, 2]", "application/json", 400, "invalid"),
        ("delete", "/api/v1/orders", None, None, 405, "method_not_allowed"),
        ("get", "/webhooks/no-such-thing/", None, None, 404, "not_found"),
    ],
)
def test_error_paths_answer_problem_json(api_a, method, url, body, content_type, status, code):
    kwargs = {"content_type": content_type} if content_type else {}
    response = getattr(api_a, method)(url, body, **kwargs) if body else getattr(api_a, method)(url)

    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["type"] == f"https://postpurchase.dev/problems/{code}"
    assert problem["title"]
    assert problem["detail"]


def test_an_html_accept_header_still_gets_json(api_a):
    response = api_a.get("/api/v1/orders/999999", HTTP_ACCEPT="text/html")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_body_over_the_upload_limit_is_413(api_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = api_a.post("/api/v1/orders", order_payload(number="x" * 2000), format="json")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_the_schema_is_public_and_describes_every_resource():
    response = Client().get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"] == "3.1.0"
    for path in (
        "/api/v1/orders",
        "/api/v1/orders/bulk",
        "/api/v1/orders/by-external-id/{external_id}",
        "/api/v1/customers",
        "/api/v1/products",
        "/api/v1/shipments/{id}/tracking-events",
        "/api/v1/events",
        "/api/v1/customers/{id}/erase",
        "/api/v1/customers/{id}/export",
        "/api/v1/claims",
        "/api/v1/claims/{id}/resolve",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    writes = [
        op for ops in schema["paths"].values() for m, op in ops.items() if m in ("post", "patch")
    ]
    assert len(writes) == 25  # every write operation of the API today (claims: 4)
    for operation in writes:
        assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
    post_orders = schema["paths"]["/api/v1/orders"]["post"]
    request_examples = post_orders["requestBody"]["content"]["application/json"]["examples"]
    (example,) = request_examples.values()
    assert example["value"]["external_id"] == "1001"
    created = post_orders["responses"]["201"]["content"]["application/json"]["examples"]
    assert next(iter(created.values()))["value"]["total"] == "84.99"
    problem = post_orders["responses"]["400"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}


@pytest.mark.parametrize("url", ["/api/v1/docs/"])
def test_the_docs_pages_load_their_scripts_from_our_own_static_files(url):
    response = Client().get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html
    assert "unpkg" not in html and "jsdelivr" not in html


def test_a_lone_surrogate_in_json_is_a_parse_error_and_nothing_is_stored(api_a):
    body = '{"external_id": "c-1", "first_name": "\\ud800"}'

    response = api_a.post("/api/v1/customers", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_paired_surrogate_escape_is_fine(api_a):
    body = '{"external_id": "c-1", "first_name": "\\ud83d\\ude00"}'

    response = api_a.post("/api/v1/customers", body, content_type="application/json")

    assert response.status_code == 201
    assert response.json()["first_name"] == "\U0001f600"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("placed_after=2026-03-01T06:00:00-23:30", ["ord-1001"]),  # 2026-03-02T05:30Z
        ("placed_after=2026-03-01T12:00:00-00:00", ["ord-1001"]),
        ("placed_after=2026-03-02T06:00:01", []),  # no offset: UTC
    ],
)
def test_time_filters_take_any_offset(api_a, query, found):
    api_a.post("/api/v1/orders", order_payload(placed_at="2026-03-02T06:00:00Z"), format="json")

    response = api_a.get(f"/api/v1/orders?{query}")

    assert response.status_code == 200
    assert [o["external_id"] for o in response.json()["results"]] == found


def test_a_time_filter_out_of_range_is_400(api_a):
    response = api_a.get("/api/v1/orders?placed_after=1316-01-18T09:04:08Z")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "placed_after": [
            {"code": "out_of_range", "message": "must be between the years 1900 and 2199"}
        ]
    }


def test_the_documented_examples_are_accepted_as_documented(api_a):
    from orders import api_examples as ex

    customer = api_a.post("/api/v1/customers", ex.CUSTOMER_EXAMPLES[0].value, format="json")
    product = api_a.post("/api/v1/products", ex.PRODUCT_EXAMPLES[0].value, format="json")
    order = api_a.post("/api/v1/orders", ex.ORDER_IN, format="json")
    shipment = api_a.post("/api/v1/shipments", ex.SHIPMENT_EXAMPLES[0].value, format="json")
    checkpoint = api_a.post(
        f"/api/v1/shipments/{shipment.json()['id']}/tracking-events",
        ex.CHECKPOINT_EXAMPLES[0].value,
        format="json",
    )
    cancel = api_a.patch(
        "/api/v1/orders/by-external-id/1001", ex.ORDER_PATCH_EXAMPLES[0].value, format="json"
    )

    assert [r.status_code for r in (customer, product, order, shipment, checkpoint, cancel)] == [
        201,
        201,
        201,
        201,
        201,
        200,
    ]
    # the documented response matches the real one, except ids and our own timestamps
    varying = {"id", "customer_id", "lines", "created_at", "updated_at"}
    shown = {k: v for k, v in order.json().items() if k not in varying}
    assert shown == {k: v for k, v in ex.ORDER_OUT.items() if k not in varying}
