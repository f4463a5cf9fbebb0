"""What drf-spectacular cannot guess about our API: how API keys are sent."""

from __future__ import annotations

import copy
from typing import ClassVar

from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularAPIView


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
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        # printable ASCII, no space at either end (postpurchase.api.idempotency.KEY_PATTERN)
        "pattern": r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$",
    },
    "description": (
        "Makes the request safe to retry: the first response to a key is kept for 24 hours and "
        "replayed to a retry with the same body. The same key with another body answers 422; "
        "while the first request runs, 409."
    ),
}


IMMUTABLE_ID = (
    "The merchant's own id: set when the object is created, never changed. On an update it "
    "comes from the object (or the URL); sent anyway, it must be the same."
)


def _write_variant(components: dict, name: str, suffix: str, *, partial: bool) -> str | None:
    """``name`` as an update's body: ``external_id`` read-only and not required (the URL or
    the object names it), and with ``partial`` no field required at all (a PATCH)."""
    base = components.get(name)
    if not base or "external_id" not in base.get("properties", {}):
        return None
    variant_name = name.removeprefix("Patched") + suffix
    if variant_name not in components:
        variant = copy.deepcopy(base)
        variant["properties"]["external_id"] = {
            **variant["properties"]["external_id"],
            "readOnly": True,
            "description": IMMUTABLE_ID,
        }
        variant.pop("anyOf", None)  # how a new customer is named: the URL or object names it
        required = [field for field in variant.get("required", []) if field != "external_id"]
        if partial or not required:
            variant.pop("required", None)
        else:
            variant["required"] = required
        variant["title"] = variant_name
        components[variant_name] = variant
    return variant_name


def _document_updates(result: dict) -> None:
    """PUT by external id and PATCH take the create body with the update rules above."""
    components = result["components"]["schemas"]
    for methods in result.get("paths", {}).values():
        for method, suffix in (("put", "Replace"), ("patch", "Patch")):
            operation = methods.get(method)
            content = (operation or {}).get("requestBody", {}).get("content", {})
            for media in content.values():
                ref = media.get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                variant = _write_variant(components, name, suffix, partial=method == "patch")
                if variant is not None:
                    media["schema"] = {"$ref": f"#/components/schemas/{variant}"}


def document_shared_behaviour(result, generator, request, public):
    """drf-spectacular post-processing hook, for what every operation shares (the base view
    does it for all of them): its error responses as problem+json, so clients (and the schema
    tests) know every status it can answer, and ``Idempotency-Key`` on every POST and PATCH."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    _document_updates(result)
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


class CachedSchemaView(SpectacularAPIView):
    """``/api/v1/schema/``: the OpenAPI document is made from the code alone, so it is made and
    rendered once per process (a deploy starts new processes) for each version, language and
    format, not on every anonymous request (which took a worker ~0.4 s and a 2 s first time)."""

    _rendered: ClassVar[dict[tuple, tuple[bytes, str]]] = {}

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        renderer = request.accepted_renderer
        key = (version, translation.get_language(), renderer.format, request.accepted_media_type)
        cached = self._rendered.get(key)
        if cached is None:
            generator = self.generator_class(
                urlconf=self.urlconf, api_version=version, patterns=self.patterns
            )
            document = generator.get_schema(request=request, public=self.serve_public)
            content = renderer.render(document, request.accepted_media_type, {"request": request})
            cached = self._rendered[key] = (content, request.accepted_media_type)
        content, media_type = cached
        response = HttpResponse(content, content_type=media_type)
        filename = self._get_filename(request, version)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response
