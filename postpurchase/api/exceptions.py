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

from postpurchase.api.errors import ApiErrorCode, IdempotencyCode
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.errors import EventsErrorCode
from postpurchase.tenancy.errors import TenancyErrorCode

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# Paths whose clients are programs: errors there are problem+json, never an HTML page.
MACHINE_PATHS = ("/api/", "/webhooks/")
PROBLEM_BASE = "https://postpurchase.dev/problems/"

# The one place a code gets its HTTP status; any code not here is a 400. Keyed by the code's
# text: the core names no app, so an app's code is spelled here (tests/api/test_error_codes.py
# holds every key to a member of some app's enum). A code means one thing wherever it is
# raised, so it has one status.
DOMAIN_STATUS = {
    ApiErrorCode.PARSE_ERROR: 400,
    ApiErrorCode.NOT_AUTHENTICATED: 401,
    ApiErrorCode.AUTHENTICATION_FAILED: 401,
    TenancyErrorCode.BAD_AUTHORIZATION_HEADER: 401,
    TenancyErrorCode.INVALID_API_KEY: 401,
    "signature_invalid": 401,
    ErrorCode.PERMISSION_DENIED: 403,
    ApiErrorCode.CSRF_FAILED: 403,
    TenancyErrorCode.INSUFFICIENT_SCOPE: 403,
    "shop_mismatch": 403,
    ErrorCode.NOT_FOUND: 404,
    ApiErrorCode.METHOD_NOT_ALLOWED: 405,
    ApiErrorCode.NOT_ACCEPTABLE: 406,
    ErrorCode.CONFLICT: 409,
    IdempotencyCode.IN_FLIGHT: 409,
    TenancyErrorCode.LAST_OWNER: 409,
    "key_taken": 409,
    "external_id_taken": 409,
    "line_shipped": 409,
    "shipment_order_mismatch": 409,
    "feature_missing": 409,
    "not_published": 409,
    "endpoint_disabled": 409,
    "illegal_transition": 409,
    "already_claimed": 409,
    ApiErrorCode.TOO_LARGE: 413,
    ApiErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    IdempotencyCode.REUSED: 422,
    ApiErrorCode.THROTTLED: 429,
    ApiErrorCode.SERVER_ERROR: 500,
}

# One title per problem type (RFC 9457: the title does not change from occurrence to occurrence;
# the detail says what happened this time). Every code of every app's enum has one here (a test
# checks it); a code missing here would be titled from its own words.
PROBLEM_TITLES = {
    # shared
    ErrorCode.INVALID: "Invalid request",
    ErrorCode.NOT_FOUND: "Not found",
    ErrorCode.CONFLICT: "Conflict",
    ErrorCode.PERMISSION_DENIED: "Permission denied",
    ErrorCode.NO_MERCHANT_IN_SCOPE: "No merchant in scope",
    # the API's machinery
    ApiErrorCode.PARSE_ERROR: "Malformed request body",
    ApiErrorCode.BAD_REQUEST: "Bad request",
    ApiErrorCode.NOT_AUTHENTICATED: "Not authenticated",
    ApiErrorCode.AUTHENTICATION_FAILED: "Authentication failed",
    ApiErrorCode.CSRF_FAILED: "CSRF verification failed",
    ApiErrorCode.METHOD_NOT_ALLOWED: "Method not allowed",
    ApiErrorCode.NOT_ACCEPTABLE: "Not acceptable",
    ApiErrorCode.UNSUPPORTED_MEDIA_TYPE: "Unsupported media type",
    ApiErrorCode.TOO_LARGE: "Request body too large",
    ApiErrorCode.THROTTLED: "Too many requests",
    ApiErrorCode.SERVER_ERROR: "Server error",
    IdempotencyCode.INVALID_KEY: "Invalid Idempotency-Key",
    IdempotencyCode.IN_FLIGHT: "Idempotency-Key in flight",
    IdempotencyCode.REUSED: "Idempotency-Key reused",
    # tenancy
    TenancyErrorCode.REQUIRED: "Required field missing",
    TenancyErrorCode.UNKNOWN_ROLE: "Unknown role",
    TenancyErrorCode.UNKNOWN_SCOPE: "Unknown API key scope",
    TenancyErrorCode.UNKNOWN_SETTING: "Unknown setting",
    TenancyErrorCode.LAST_OWNER: "Last owner",
    TenancyErrorCode.BAD_AUTHORIZATION_HEADER: "Malformed Authorization header",
    TenancyErrorCode.INVALID_API_KEY: "Invalid API key",
    TenancyErrorCode.INSUFFICIENT_SCOPE: "Insufficient scope",
    # events
    EventsErrorCode.UNKNOWN_EVENT_TYPE: "Unknown event type",
    EventsErrorCode.PAYLOAD_MISMATCH: "Payload does not match its event type",
    # orders
    "external_id_mismatch": "external_id differs from the URL's",
    "external_id_immutable": "external_id cannot change",
    "external_id_taken": "external_id taken",
    "duplicate": "Duplicate item",
    "store_failed": "Order not stored",
    "line_shipped": "Line already shipped",
    "quantity_exceeds_unshipped": "More than is left to ship",
    "shipment_order_mismatch": "Shipment of another order",
    # journeys
    "key_taken": "Key taken",
    "unknown_template": "Unknown message template",
    "feature_missing": "Feature missing",
    "not_published": "Not published",
    "draft_mismatch": "Draft flags disagree",
    # notifications
    "credential_not_allowed": "Credential not allowed",
    "unknown_channel": "Unknown channel",
    "unknown_topic": "Unknown topic",
    "template_error": "Template does not render",
    "template_too_slow": "Template too slow to check",
    "template_unsaved": "Template not saved",
    "channel_immutable": "Channel cannot change",
    "sender_address_missing": "No sender address",
    "recipient_not_verified": "Recipient not verified",
    "country_not_allowed": "Country not allowed",
    "verification_code_not_sent": "Verification code not sent",
    "verification_code_not_requested": "Verification code not requested",
    "verification_code_expired": "Verification code expired",
    "verification_code_locked": "Verification code locked",
    "verification_code_wrong": "Wrong verification code",
    # webhooks
    "destination_not_allowed": "Destination not allowed",
    "no_event_types": "No event types",
    "too_many_event_types": "Too many event types",
    "endpoint_limit_reached": "Endpoint limit reached",
    "not_updatable": "Field cannot be changed",
    "endpoint_disabled": "Endpoint disabled",
    # connectors
    "signature_invalid": "Invalid webhook signature",
    "body_invalid": "Invalid webhook body",
    "topic_mismatch": "Topic mismatch",
    "shop_mismatch": "Shop mismatch",
    "secret_in_use": "Secret in use",
    "unknown_tracking_status": "Unknown tracking status",
    # tracking (package protection claims)
    "protection_not_offered": "Protection not offered",
    "order_not_protected": "Order not protected",
    "claim_too_early": "Too early to claim",
    "claim_window_closed": "Claim window closed",
    "not_delivered": "Parcel not delivered",
    "already_delivered": "Parcel already delivered",
    "order_refunded": "Order refunded",
    "order_returned": "Order returned",
    "claim_limit_reached": "Claim limit reached",
    "already_claimed": "Parcel already claimed",
    "photo_required": "Photo required",
    "photo_invalid": "Photo not readable",
    "photo_too_large": "Photo too large",
    "too_many_photos": "Too many photos",
    "illegal_transition": "Step not allowed in this state",
}


def problem_title(code: str) -> str:
    """The one title of the problem type ``code``."""
    return PROBLEM_TITLES.get(code) or code.replace("_", " ").capitalize()


def problem_status(code: str) -> int:
    """The HTTP status of the problem type ``code``."""
    return DOMAIN_STATUS.get(code, status.HTTP_400_BAD_REQUEST)


def _field_errors(detail, path: str = "") -> dict[str, list[dict[str, str]]]:
    errors: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = f"{path}.{key}" if path else str(key)
            errors.update(_field_errors(value, sub))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            errors[path or "non_field_errors"] = [
                {"code": item.code or ErrorCode.INVALID, "message": str(item)} for item in detail
            ]
        else:
            for index, item in enumerate(detail):
                errors.update(_field_errors(item, f"{path}[{index}]"))
    elif isinstance(detail, exceptions.ErrorDetail):
        errors[path or "non_field_errors"] = [
            {"code": detail.code or ErrorCode.INVALID, "message": str(detail)}
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
        return problem_response(
            status_code=problem_status(exc.code),
            code=exc.code,
            detail=exc.message,
            errors=exc.fields or None,
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(
            status_code=problem_status(ApiErrorCode.TOO_LARGE),
            code=ApiErrorCode.TOO_LARGE,
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
            status_code=problem_status(ApiErrorCode.SERVER_ERROR),
            code=ApiErrorCode.SERVER_ERROR,
            detail="Something went wrong on our side; it has been logged. Retry later.",
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(detail, (dict, list)):
        errors = _field_errors(detail)
        code, message = ErrorCode.INVALID, "The request has invalid fields."
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


def _problem_json(code: str, detail: str) -> JsonResponse:
    status_code = problem_status(code)
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
        return _problem_json(ApiErrorCode.CSRF_FAILED, "CSRF verification failed.")
    return csrf_views.csrf_failure(request, reason=reason)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any /api/ path that names no endpoint."""
    return _problem_json(ErrorCode.NOT_FOUND, "No endpoint has this path.")


def _is_machine_path(request) -> bool:
    return request.path.startswith(MACHINE_PATHS)


def page_not_found(request, exception):
    if _is_machine_path(request):
        return _problem_json(ErrorCode.NOT_FOUND, "Not found.")
    return defaults.page_not_found(request, exception)


def bad_request(request, exception):
    if _is_machine_path(request):
        if isinstance(exception, RequestDataTooBig):
            return _problem_json(ApiErrorCode.TOO_LARGE, "The request body is too large.")
        return _problem_json(ApiErrorCode.BAD_REQUEST, "The request is malformed.")
    return defaults.bad_request(request, exception)


def server_error(request):
    if _is_machine_path(request):
        return _problem_json(
            ApiErrorCode.SERVER_ERROR, "Something went wrong on our side; retry later."
        )
    return defaults.server_error(request)
