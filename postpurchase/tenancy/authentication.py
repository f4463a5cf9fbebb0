"""API-key authentication for Django REST framework (``Authorization: Bearer <key>``)."""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions

from postpurchase.api.errors import ApiErrorCode
from postpurchase.tenancy.errors import TenancyErrorCode
from postpurchase.tenancy.models import ApiKey, ApiKeyScope
from postpurchase.tenancy.services import api_key_authenticate

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, credentials = header.partition(" ")
        if keyword != self.keyword or not credentials.strip():
            raise exceptions.AuthenticationFailed(
                "Send the key as 'Authorization: Bearer <key>'.",
                code=TenancyErrorCode.BAD_AUTHORIZATION_HEADER,
            )
        api_key = api_key_authenticate(plaintext=credentials.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                "The API key is unknown or revoked.", code=TenancyErrorCode.INVALID_API_KEY
            )
        return (None, api_key)

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class HasApiKeyScope(permissions.BasePermission):
    """Reads need any key; writes need a key with the write scope."""

    message = "This API key is read-only."
    code = TenancyErrorCode.INSUFFICIENT_SCOPE

    def has_permission(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise exceptions.NotAuthenticated(
                "Authentication credentials were not provided.", code=ApiErrorCode.NOT_AUTHENTICATED
            )
        needed = ApiKeyScope.READ if request.method in READ_METHODS else ApiKeyScope.WRITE
        return api_key.allows(needed)
