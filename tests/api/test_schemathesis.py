"""Schemathesis against the live OpenAPI schema, in process over WSGI, with every check it has:
no 5xx, every answer as the schema says (status, content type, body, headers, Allow), data the
schema allows is accepted and data it refuses is refused, a missing key is a 401, a method a path
lacks is a 405. Every operation, a bounded number of derandomized examples: a CI run is
repeatable and fast."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from postpurchase.api.models import IdempotencyRecord
from tests.conftest import client_for
from webhooks import destinations

# Statuses the API documents beyond schemathesis's defaults, and why.
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 11,
        "generation": {
            "deterministic": True,
            # PostgreSQL text cannot hold NUL; the API refuses it in every string (400).
            "allow-x00": False,
        },
        "checks": {
            # Over the bulk limit (maxItems) is 413 too_large, as documented.
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            },
        },
        "operations": [
            {
                # Commerce data is also checked against registries no JSON Schema carries (ISO
                # 4217 codes and their minor units, IANA zones, numbering plans, Django's email
                # rule), so a schema-valid body may still be a 400 naming the field at fault.
                # Everything else (the shape, types, limits, required fields) is exact.
                "include-name-regex": (
                    "^(POST|PUT|PATCH) /api/v1/(customers|products|orders|shipments)"
                ),
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
                    }
                },
            },
            {
                # A schema-valid url may still be refused (400 naming url): it must be an
                # http(s) URL whose host resolves only to public addresses, which no JSON
                # Schema can say. event_types is exact (oneOf: ["*"] alone, or dotted names).
                "include-name-regex": "^(POST|PATCH) /api/v1/webhook-endpoints",
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]
                    }
                },
            },
        ],
    }
)
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/schema/?format=json", get_wsgi_application(), config=CONFIG
)

FUZZ = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def keep_test_connection():
    """The WSGI handler closes the database connection after each request, which would end the
    test's transaction; Django's own test client turns that off the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_header(merchant_a, settings, keep_test_connection, monkeypatch):
    settings.API_RATE_LIMIT = "100000/s"  # the fuzzer is not what the limit is for
    # Webhook URLs are checked to resolve to public addresses; here every name is public (the
    # documentation range of example.com), so the check runs without a network.
    monkeypatch.setattr(destinations, "resolve", lambda host, port: ["93.184.215.14"])
    key = client_for(merchant_a)._credentials["HTTP_AUTHORIZATION"]
    return {"Authorization": key}


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema(case, auth_header):
    # Each case is a new client's request: a key another generated case used is not reused.
    IdempotencyRecord.unscoped.all().delete()
    case.call_and_validate(headers=auth_header)
