"""Errors as ``application/problem+json`` (RFC 9457) with a stable ``code`` and per-field errors."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.views import csrf as csrf_views
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from postpurchase.errors import DomainError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Paths whose clients are programs: errors there are problem+json, never an HTML page.
MACHINE_PATHS = ("/api/", "/webhooks/")
PROBLEM_BASE = "https://postpurchase.dev/problems/"

DOMAIN_STATUS = {
    "not_found": 404,
    "conflict": 409,
    "permission_denied": 403,
    "idempotency_key_in_flight": 409,
    "idempotency_key_reused": 422,
    "too_large": 413,
}

# One title per problem type (RFC 9457: the title does not change from occurrence to occurrence;
# the detail says what happened this time). A code missing here is titled from its own words.
PROBLEM_TITLES = {
    "invalid": "Invalid request",
    "parse_error": "Malformed request body",
    "bad_request": "Bad request",
    "not_authenticated": "Not authenticated",
    "authentication_failed": "Authentication failed",
    "bad_authorization_header": "Malformed Authorization header",
    "invalid_api_key": "Invalid API key",
    "permission_denied": "Permission denied",
    "insufficient_scope": "Insufficient scope",
    "csrf_failed": "CSRF verification failed",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "Not acceptable",
    "unsupported_media_type": "Unsupported media type",
    "conflict": "Conflict",
    "too_large": "Request body too large",
    "throttled": "Too many requests",
    "server_error": "Server error",
    "invalid_idempotency_key": "Invalid Idempotency-Key",
    "idempotency_key_in_flight": "Idempotency-Key in flight",
    "idempotency_key_reused": "Idempotency-Key reused",
}


def problem_title(code: str) -> str:
    """The one title of the problem type ``code``."""
    return PROBLEM_TITLES.get(code) or code.replace("_", " ").capitalize()


def _field_errors(detail, path: str = "") -> dict[str, list[dict[str, str]]]:
    errors: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = f"{path}.{key}" if path else str(key)
            errors.update(_field_errors(value, sub))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            errors[path or "non_field_errors"] = [
                {"code": item.code or "invalid", "message": str(item)} for item in detail
            ]
        else:
            for index, item in enumerate(detail):
                errors.update(_field_errors(item, f"{path}[{index}]"))
    elif isinstance(detail, exceptions.ErrorDetail):
        errors[path or "non_field_errors"] = [
            {"code": detail.code or "invalid", "message": str(detail)}
        ]
    return errors


def problem_response(
    *,
    status_code: int,
    code: str,
    detail: str,
    errors: dict | None = None,
    headers: dict | None = None,
) -> Response:
    body = {
        "type": PROBLEM_BASE + code,
        "title": problem_title(code),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    response = Response(body, status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        status_code = DOMAIN_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST)
        return problem_response(
            status_code=status_code,
            code=exc.code,
            detail=exc.message,
            errors=exc.fields or None,
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status_code=413,
            code="too_large",
            detail="The request body is larger than this API accepts; send fewer objects.",
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        # A bug: logged with its trace, answered as a problem rather than an HTML page.
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
        return problem_response(
            status_code=500,
            code="server_error",
            detail="Something went wrong on our side; it has been logged. Retry later.",
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(detail, (dict, list)):
        errors = _field_errors(detail)
        code, message = "invalid", "The request has invalid fields."
    else:
        errors = None
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        message = str(detail)
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After")}
    return problem_response(
        status_code=response.status_code,
        code=code,
        detail=message,
        errors=errors,
        headers=headers,
    )


def _problem_json(status_code: int, code: str, detail: str) -> JsonResponse:
    body = {
        "type": PROBLEM_BASE + code,
        "title": problem_title(code),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: the dashboard's forms keep Django's page; a program gets JSON."""
    if _is_machine_path(request):
        return _problem_json(403, "csrf_failed", "CSRF verification failed.")
    return csrf_views.csrf_failure(request, reason=reason)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any /api/ path that names no endpoint."""
    return _problem_json(404, "not_found", "No endpoint has this path.")


def _is_machine_path(request) -> bool:
    return request.path.startswith(MACHINE_PATHS)


def page_not_found(request, exception):
    if _is_machine_path(request):
        return _problem_json(404, "not_found", "Not found.")
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    if _is_machine_path(request):
        if isinstance(exception, RequestDataTooBig):
            return _problem_json(413, "too_large", "The request body is too large.")
        return _problem_json(400, "bad_request", "The request is malformed.")
    return defaults.bad_request(request, exception)


def server_error(request):
    if _is_machine_path(request):
        return _problem_json(500, "server_error", "Something went wrong on our side; retry later.")
    return defaults.server_error(request)
