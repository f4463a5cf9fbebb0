"""Errors as ``application/problem+json`` (RFC 9457) with a stable ``code`` and per-field errors."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from postpurchase.errors import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://postpurchase.dev/problems/"

DOMAIN_STATUS = {
    "not_found": 404,
    "conflict": 409,
    "permission_denied": 403,
    "idempotency_key_in_flight": 409,
    "idempotency_key_reused": 422,
    "too_large": 413,
}


def _field_errors(detail, path: str = "") -> dict[str, list[dict[str, str]]]:
    errors: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = f"{path}.{key}" if path else str(key)
            errors.update(_field_errors(value, sub))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail) for item in detail):
            errors[path or "non_field_errors"] = [
                {"code": item.code, "message": str(item)} for item in detail
            ]
        else:
            for index, item in enumerate(detail):
                errors.update(_field_errors(item, f"{path}[{index}]"))
    elif isinstance(detail, exceptions.ErrorDetail):
        errors[path or "non_field_errors"] = [{"code": detail.code, "message": str(detail)}]
    return errors


def problem_response(
    *,
    status_code: int,
    code: str,
    title: str,
    detail: str,
    errors: dict | None = None,
    headers: dict | None = None,
) -> Response:
    body = {
        "type": PROBLEM_BASE + code,
        "title": title,
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
            title=exc.code.replace("_", " ").capitalize(),
            detail=exc.message,
            errors=exc.fields or None,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
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
        title=getattr(exc, "default_detail", message) if errors else message,
        detail=message,
        errors=errors,
        headers=headers,
    )
