"""The integrator API's own error codes: the protocol's (how a request was sent, authenticated,
throttled or answered) and ``Idempotency-Key``'s. Codes of what a request asks for belong to
the app that refuses it (``orders/errors.py``, ``webhooks/errors.py``, …)."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class ApiErrorCode(DomainErrorCode):
    """Raised by the API's machinery (DRF, our parsers and error views), whatever the
    endpoint. Most are DRF's own ``default_code`` values, which is why they are spelled so."""

    PARSE_ERROR = "parse_error", "The body is not JSON, or is nested too deeply to read."
    BAD_REQUEST = "bad_request", "The request is malformed (a header or the URL)."
    NOT_AUTHENTICATED = "not_authenticated", "No API key was sent."
    AUTHENTICATION_FAILED = "authentication_failed", "The credentials were not accepted."
    CSRF_FAILED = "csrf_failed", "A browser session's request lacked its CSRF token."
    METHOD_NOT_ALLOWED = "method_not_allowed", "The path does not take this HTTP method."
    NOT_ACCEPTABLE = "not_acceptable", "The Accept header asks for a format we do not answer in."
    UNSUPPORTED_MEDIA_TYPE = (
        "unsupported_media_type",
        "The body is not application/json.",
    )
    TOO_LARGE = "too_large", "The request body is over 10 MB."
    THROTTLED = "throttled", "Over the API key's rate limit: retry after Retry-After seconds."
    SERVER_ERROR = "server_error", "Our fault, and logged: retry with the same Idempotency-Key."


class IdempotencyCode(DomainErrorCode):
    """Refusals of an ``Idempotency-Key`` (``postpurchase/api/idempotency.py``)."""

    INVALID_KEY = (
        "invalid_idempotency_key",
        "The Idempotency-Key header is not 1 to 255 printable ASCII characters.",
    )
    IN_FLIGHT = (
        "idempotency_key_in_flight",
        "A request with this key is still being processed: retry once it has finished.",
    )
    REUSED = (
        "idempotency_key_reused",
        "The key was used with another request (method, path, query or body).",
    )
