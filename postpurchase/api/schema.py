"""What drf-spectacular cannot guess about our API: how API keys are sent."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "postpurchase.tenancy.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ppk_<prefix>_<secret>",
            "description": (
                "An API key from the dashboard (Settings → API keys) or `manage.py "
                "create_api_key`, sent as `Authorization: Bearer <key>`. Read keys may only GET."
            ),
        }


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An error, as RFC 9457 application/problem+json.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine code, e.g. invalid."},
        "errors": {
            "type": "object",
            "description": "Per field (e.g. lines[0].unit_price): a list of {code, message}.",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                },
            },
        },
    },
    "required": ["type", "title", "status", "detail", "code"],
}
ERRORS = {
    "400": "The request is invalid: see errors for each field.",
    "401": "No API key, or an unknown or revoked one.",
    "403": "The API key lacks the scope (a read key writing).",
    "404": "No such object for this merchant.",
    "405": "The method is not allowed on this path.",
    "406": "The requested content type cannot be served.",
    "409": "A conflict: the same Idempotency-Key is still in flight, or the change conflicts.",
    "413": "The request body is too large.",
    "415": "The body is not application/json.",
    "422": "The Idempotency-Key was used with another request.",
    "429": "Over the rate limit: retry after Retry-After seconds.",
    "500": "An error on our side; retry later.",
}


IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": (
        "Makes the request safe to retry: the first response to a key is kept for 24 hours and "
        "replayed to a retry with the same body. The same key with another body answers 422; "
        "while the first request runs, 409."
    ),
}


def document_shared_behaviour(result, generator, request, public):
    """drf-spectacular post-processing hook, for what every operation shares (the base view
    does it for all of them): its error responses as problem+json, so clients (and the schema
    tests) know every status it can answer, and ``Idempotency-Key`` on every POST and PATCH."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method in ("post", "patch"):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    },
                )
    return result
