"""Tenancy's error codes: members, roles, API keys and the merchant's brand settings."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class TenancyErrorCode(DomainErrorCode):
    INVALID = "invalid", "A brand setting has the wrong shape or value (each field says why)."
    REQUIRED = "required", "A required field is blank (an API key's name)."
    UNKNOWN_ROLE = "unknown_role", "Not a member role (owner, admin, editor, viewer)."
    UNKNOWN_SCOPE = "unknown_scope", "Not an API key scope (read or write)."
    UNKNOWN_SETTING = "unknown_setting", "Not a brand setting."
    LAST_OWNER = (
        "last_owner",
        "The change would leave the merchant without an owner: make someone else one first.",
    )
    # Refusals of the API's authentication (postpurchase/tenancy/authentication.py).
    BAD_AUTHORIZATION_HEADER = (
        "bad_authorization_header",
        "The Authorization header is not 'Bearer <key>'.",
    )
    INVALID_API_KEY = "invalid_api_key", "The API key is unknown or revoked."
    INSUFFICIENT_SCOPE = "insufficient_scope", "A read-only API key asked to write."
