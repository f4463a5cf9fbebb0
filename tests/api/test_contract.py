"""The API does what its OpenAPI schema says (issue 11): parameters it cannot honour are refused
naming them, update bodies are described as the API reads them, a method a path lacks is a 405
whatever the headers, one title per problem type, a deeply nested body is a 400, and the schema
is made once per process."""

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from orders.models import Order
from postpurchase.api.exceptions import PROBLEM_TITLES
from postpurchase.api.models import IdempotencyRecord
from postpurchase.api.schema import CachedSchemaView
from tests.conftest import client_for
from tests.factories import order_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema():
    return Client().get("/api/v1/schema/?format=json").json()


def _component(schema, operation):
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _errors(response):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["errors"]


# --- query parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "null", "", "0", "201", "-1", "1.5", "9" * 5000])
def test_a_limit_that_is_not_1_to_200_is_refused_naming_limit(api_a, value):
    response = api_a.get(f"/api/v1/orders?limit={value}")

    assert _errors(response) == {
        "limit": [{"code": "invalid", "message": "must be a whole number from 1 to 200"}]
    }


def test_a_limit_in_range_pages(api_a):
    for number in ("1", "2", "3"):
        api_a.post("/api/v1/orders", order_payload(external_id=number), format="json")

    response = api_a.get("/api/v1/orders?limit=2")

    assert [o["external_id"] for o in response.json()["results"]] == ["3", "2"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/orders?updated_since=", "updated_since"),
        ("/api/v1/orders?placed_after=", "placed_after"),
        ("/api/v1/orders?customer=", "customer"),
        ("/api/v1/customers?updated_since=", "updated_since"),
        ("/api/v1/events?occurred_before=", "occurred_before"),
    ],
)
def test_an_empty_filter_is_refused_naming_it(api_a, url, name):
    response = api_a.get(url)

    assert _errors(response) == {name: [{"code": "empty", "message": "must not be empty"}]}


def test_an_empty_text_filter_is_a_text(api_a):
    response = api_a.get("/api/v1/orders?number=")

    assert response.status_code == 200


def test_an_unknown_expand_is_refused_and_nothing_is_written(api_a):
    # when
    listed = api_a.get("/api/v1/orders?expand=AAA")
    posted = api_a.post("/api/v1/orders?expand=AAA", order_payload(), format="json")

    # then
    assert _errors(listed) == {"expand": [{"code": "invalid", "message": 'must be "shipments"'}]}
    assert _errors(posted) == {"expand": [{"code": "invalid", "message": 'must be "shipments"'}]}
    assert Order.unscoped.count() == 0


def test_expand_shipments_still_expands(api_a):
    api_a.post("/api/v1/orders", order_payload(), format="json")

    response = api_a.get("/api/v1/orders?expand=shipments")

    assert response.status_code == 200
    assert response.json()["results"][0]["shipments"] == []


# --- bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/api/v1/orders/by-external-id/ord-1001", "/api/v1/customers/by-external-id/cust-1"]
)
def test_a_patch_with_no_body_is_refused_naming_the_body(api_a, url):
    # given
    api_a.post("/api/v1/orders", order_payload(), format="json")

    # when
    response = api_a.patch(url)

    # then
    assert _errors(response) == {
        "body": [{"code": "invalid", "message": "The request needs a JSON object as its body."}]
    }


def test_a_put_by_external_id_takes_the_id_from_the_url(api_a):
    body = {k: v for k, v in order_payload().items() if k != "external_id"}

    response = api_a.put("/api/v1/orders/by-external-id/ord-7", body, format="json")

    assert response.status_code == 201
    assert response.json()["external_id"] == "ord-7"


@pytest.mark.parametrize("resource", ["orders", "customers", "products", "shipments"])
def test_update_bodies_do_not_require_the_external_id_and_say_it_cannot_change(schema, resource):
    # given
    by_id = schema["paths"][f"/api/v1/{resource}/by-external-id/{{external_id}}"]
    patch = schema["paths"][f"/api/v1/{resource}/{{id}}"]["patch"]

    # when
    put_body = _component(schema, by_id["put"])
    patch_bodies = [_component(schema, by_id["patch"]), _component(schema, patch)]
    create_body = _component(schema, schema["paths"][f"/api/v1/{resource}"]["post"])

    # then
    assert "external_id" not in put_body.get("required", [])
    assert put_body["properties"]["external_id"]["readOnly"] is True
    assert set(put_body.get("required", [])) == set(create_body.get("required", [])) - {
        "external_id"
    }
    for body in patch_bodies:
        assert "required" not in body
        assert body["properties"]["external_id"]["readOnly"] is True


def test_the_schema_says_a_custom_event_names_exactly_one_customer(schema):
    body = _component(schema, schema["paths"]["/api/v1/events"]["post"])

    assert body["oneOf"] == [
        {"required": ["customer_id"], "properties": {"customer_id": {"type": "integer"}}},
        {
            "required": ["customer_external_id"],
            "properties": {"customer_external_id": {"type": "string"}},
        },
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "app.opened"},
        {"type": "app.opened", "customer_id": None, "customer_external_id": None},
        {"type": "app.opened", "customer_id": 1, "customer_external_id": "cust-1"},
    ],
)
def test_a_custom_event_without_exactly_one_customer_is_refused(api_a, body):
    response = api_a.post("/api/v1/events", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("event_type", ["café.opened", "App.opened", "app..opened", "app"])
def test_a_custom_event_type_outside_the_schema_pattern_is_refused(api_a, event_type):
    api_a.post("/api/v1/customers", {"external_id": "cust-1"}, format="json")

    response = api_a.post(
        "/api/v1/events", {"type": event_type, "customer_external_id": "cust-1"}, format="json"
    )

    assert "type" in _errors(response)


def test_the_schema_states_the_limits_the_api_enforces(schema):
    placed_at = _component(schema, schema["paths"]["/api/v1/orders"]["post"])["properties"][
        "placed_at"
    ]
    event_type = _component(schema, schema["paths"]["/api/v1/events"]["post"])["properties"]["type"]
    limit = next(
        p for p in schema["paths"]["/api/v1/orders"]["get"]["parameters"] if p["name"] == "limit"
    )

    assert placed_at["pattern"] == r"^(19|2[01])[0-9]{2}-.*([Zz]|[+-][0-9]{2}:?[0-9]{2})$"
    assert placed_at["format"] == "date-time"
    assert event_type["pattern"] == r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"
    assert event_type["not"] == {
        # the event catalogue's reserved namespaces, and its names outside them
        "pattern": r"^(claim|journey|loyalty|message|order|return|shipment|survey|webhook)\."
        r"|^(customer\.redacted|shop\.redacted)$"
    }
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}


@pytest.mark.parametrize(
    "url", ["/api/v1/orders", "/api/v1/events", "/api/v1/orders/bulk", "/api/v1/customers"]
)
@pytest.mark.parametrize("with_key", [False, True])
def test_a_deeply_nested_body_is_a_parse_error(api_a, url, with_key):
    headers = {"HTTP_IDEMPOTENCY_KEY": "deep-1"} if with_key else {}

    response = api_a.post(url, "[" * 100_000, content_type="application/json", **headers)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"] == "JSON parse error - the body is nested too deeply."


# --- methods and problems -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("patch", "/api/v1/orders/bulk"),
        ("put", "/api/v1/orders"),
        ("delete", "/api/v1/orders/by-external-id/ord-1001"),
        ("post", "/api/v1/merchant"),
    ],
)
def test_a_method_the_path_lacks_is_405_whatever_the_idempotency_key(api_a, method, url):
    # given: the key was used for another request
    api_a.post("/api/v1/orders", order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    # when
    response = getattr(api_a, method)(url, {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    fresh = getattr(api_a, method)(url, {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    # then
    assert (response.status_code, fresh.status_code) == (405, 405)
    assert response.json()["code"] == fresh.json()["code"] == "method_not_allowed"
    assert list(IdempotencyRecord.unscoped.values_list("key", flat=True)) == ["k-1"]


def _error_paths(merchant_a, settings):
    """One request down every error path the API has, as (response, expected code)."""
    write, read, anonymous = client_for(merchant_a), client_for(merchant_a, "read"), Client()
    write.post("/api/v1/orders", order_payload(), format="json", HTTP_IDEMPOTENCY_KEY="used")
    yield write.get("/api/v1/nothing-here"), "not_found"
    yield write.get("/api/v1/orders/999999"), "not_found"
    yield write.get("/api/v1/orders/by-external-id/nope"), "not_found"
    yield write.get("/api/v1/orders?cursor=not-a-cursor"), "not_found"
    yield anonymous.get("/api/v1/orders"), "not_authenticated"
    yield anonymous.get("/api/v1/orders", HTTP_AUTHORIZATION="Bearer ppk_x_y"), "invalid_api_key"
    yield (
        anonymous.get("/api/v1/orders", HTTP_AUTHORIZATION="Basic eDp5"),
        ("bad_authorization_header"),
    )
    yield read.post("/api/v1/orders", order_payload(), format="json"), "insufficient_scope"
    yield write.delete("/api/v1/orders"), "method_not_allowed"
    yield write.post("/api/v1/orders", "{x", content_type="application/json"), "parse_error"
    yield (
        write.post("/api/v1/orders", "[" * 100_000, content_type="application/json"),
        ("parse_error"),
    )
    yield write.post("/api/v1/orders", "a=b", content_type="text/plain"), "unsupported_media_type"
    yield write.post("/api/v1/orders", {"number": 1}, format="json"), "invalid"
    yield write.post("/api/v1/orders", [1], format="json"), "invalid"
    yield write.get("/api/v1/orders?limit=abc"), "invalid"
    yield write.get("/api/v1/orders?placed_after=1316-01-18T09:04:08Z"), "invalid"
    yield write.get("/api/v1/orders?expand=AAA"), "invalid"
    yield write.patch("/api/v1/orders/by-external-id/ord-1001"), "invalid"
    yield (
        write.put("/api/v1/orders/by-external-id/ord-9", order_payload(), format="json"),
        ("external_id_mismatch"),
    )
    yield (
        write.patch("/api/v1/orders/by-external-id/ord-1001", {"external_id": "x"}, format="json"),
        ("external_id_immutable"),
    )
    yield (
        write.post(
            "/api/v1/webhook-endpoints",
            {"url": "http://10.0.0.1/", "event_types": ["*"]},
            format="json",
        ),
        ("destination_not_allowed"),
    )
    yield write.post("/api/v1/events", {"type": "x"}, format="json"), "invalid"
    yield (
        write.post(
            "/api/v1/orders",
            order_payload(number="#2"),
            format="json",
            **{"HTTP_IDEMPOTENCY_KEY": "used"},
        ),
        "idempotency_key_reused",
    )
    yield (
        write.post("/api/v1/orders", {}, format="json", HTTP_IDEMPOTENCY_KEY="naïve"),
        ("invalid_idempotency_key"),
    )
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    yield (
        write.post("/api/v1/orders", order_payload(number="x" * 2000), format="json"),
        ("too_large"),
    )
    settings.API_RATE_LIMIT = "1/m"
    write.get("/api/v1/merchant")
    yield write.get("/api/v1/merchant"), "throttled"


def test_each_problem_type_has_one_title_whatever_the_path(merchant_a, settings):
    # when
    seen = [(r.status_code, r.json(), code) for r, code in _error_paths(merchant_a, settings)]

    # then: every path answered its code, titled from the one table
    assert [(body["code"], body["title"]) for _, body, _ in seen] == [
        (code, PROBLEM_TITLES[code]) for _, _, code in seen
    ]
    assert {body["type"] for _, body, _ in seen} == {
        f"https://postpurchase.dev/problems/{code}" for _, _, code in seen
    }
    assert all(status == body["status"] for status, body, _ in seen)


# --- the schema document --------------------------------------------------------------------


def test_the_schema_is_made_once_per_process(monkeypatch):
    # given: a process that has not made it yet
    monkeypatch.setattr(CachedSchemaView, "_rendered", {})
    made = []
    original = SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        made.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)

    # when
    bodies = [Client().get("/api/v1/schema/?format=json").content for _ in range(3)]
    yaml = Client().get("/api/v1/schema/")

    # then: made once per format, the same bytes every time
    assert len(made) == 2
    assert bodies[0] == bodies[1] == bodies[2]
    assert yaml.status_code == 200
    assert yaml["Content-Type"] == "application/vnd.oai.openapi"
    assert yaml.content.startswith(b"openapi: 3.1.0")


def test_a_time_sent_as_a_number_is_refused_as_the_schema_says(api_a):
    response = api_a.post(
        "/api/v1/customers", {"external_id": "c-1", "consent_updated_at": 0}, format="json"
    )

    assert _errors(response) == {
        "consent_updated_at": [
            {
                "code": "value_error",
                "message": "must be an ISO 8601 time as text, e.g. 2026-03-01T12:00:00Z",
            }
        ]
    }


def test_the_schema_states_the_rules_across_fields(schema):
    customer = _component(schema, schema["paths"]["/api/v1/customers"]["post"])
    replace = _component(
        schema, schema["paths"]["/api/v1/customers/by-external-id/{external_id}"]["put"]
    )
    shipment = _component(schema, schema["paths"]["/api/v1/shipments"]["post"])
    updated_since = next(
        p
        for p in schema["paths"]["/api/v1/shipments"]["get"]["parameters"]
        if p["name"] == "updated_since"
    )

    assert [branch["required"] for branch in customer["anyOf"]] == [
        ["external_id"],
        ["email"],
        ["phone"],
    ]
    assert "anyOf" not in replace  # the URL names the customer
    assert shipment["if"]["required"] == ["status_at"]
    assert shipment["then"]["required"] == ["status"]
    assert updated_since["schema"]["pattern"] == "^(19|2[01])[0-9]{2}-"


@pytest.mark.parametrize("value", [0, 1, "yes", "true"])
def test_a_consent_flag_is_json_true_or_false_only(api_a, value):
    body = {"external_id": "c-1", "accepts_sms_marketing": value}

    response = api_a.post("/api/v1/customers", body, format="json")

    assert list(_errors(response)) == ["accepts_sms_marketing"]


def test_a_webhook_endpoint_enabled_flag_is_json_true_or_false_only(api_a, monkeypatch):
    from webhooks import destinations

    monkeypatch.setattr(destinations, "resolve", lambda host, port: ["93.184.215.14"])
    body = {"url": "https://example.com/hook", "event_types": ["order.placed"], "enabled": 0}

    response = api_a.post("/api/v1/webhook-endpoints", body, format="json")

    assert list(_errors(response)) == ["enabled"]


@pytest.mark.parametrize("value", ["1.5", "6.6e89", "0", "9223372036854775808"])
def test_an_id_filter_takes_a_whole_number_that_fits_an_id(api_a, value):
    response = api_a.get(f"/api/v1/orders?customer={value}")

    assert list(_errors(response)) == ["customer"]


def test_a_bulk_item_that_is_not_an_object_refuses_the_request(api_a):
    body = {"orders": [order_payload(), [None, None]]}

    response = api_a.post("/api/v1/orders/bulk", body, format="json")

    assert _errors(response) == {
        "orders": [{"code": "invalid", "message": "Each of orders must be a JSON object."}]
    }
    assert Order.unscoped.count() == 0


def test_the_schema_states_money_ids_and_keys_as_the_api_reads_them(schema):
    total = _component(schema, schema["paths"]["/api/v1/orders"]["post"])["properties"]["total"]
    customer = next(
        p for p in schema["paths"]["/api/v1/orders"]["get"]["parameters"] if p["name"] == "customer"
    )
    key = next(
        p
        for p in schema["paths"]["/api/v1/orders"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )

    assert total["anyOf"] == [
        {"type": "string", "pattern": r"^[0-9]{1,11}(\.[0-9]{1,3})?$"},
        {"type": "number", "minimum": 0, "maximum": 99999999999.999},
    ]
    assert customer["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert key["schema"]["pattern"] == r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$"


def test_a_date_sent_as_a_number_is_refused_as_the_schema_says(api_a):
    response = api_a.post("/api/v1/customers", {"external_id": "c-1", "birthday": 0}, format="json")

    assert _errors(response) == {
        "birthday": [
            {"code": "value_error", "message": "must be an ISO 8601 date as text, e.g. 2026-03-01"}
        ]
    }


def test_a_webhook_endpoint_description_is_json_text_only(api_a, monkeypatch):
    from webhooks import destinations

    monkeypatch.setattr(destinations, "resolve", lambda host, port: ["93.184.215.14"])
    body = {"url": "https://example.com/hook", "event_types": ["order.placed"], "description": 0}

    response = api_a.post("/api/v1/webhook-endpoints", body, format="json")

    assert _errors(response) == {
        "description": [{"code": "invalid", "message": "Not a valid string."}]
    }


def test_the_schema_says_event_types_is_star_alone_or_dotted_names(schema):
    # given
    operation = schema["paths"]["/api/v1/webhook-endpoints"]["post"]

    # when
    event_types = _component(schema, operation)["properties"]["event_types"]

    # then: what webhooks.event_types.event_types_clean enforces
    assert [choice["items"] for choice in event_types["oneOf"]] == [
        {"type": "string", "enum": ["*"]},
        {"type": "string", "maxLength": 100, "pattern": r"^[a-z0-9_]+(\.[a-z0-9_]+)+$"},
    ]
