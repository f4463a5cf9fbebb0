"""Rate limits per API key, counted in the shared cache (Redis in production), so every web
process sees the same count. Over the limit: 429 with ``Retry-After``."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from postpurchase.tenancy.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self) -> str:
        # Read at request time (not import time), so the setting can change under tests.
        return settings.API_RATE_LIMIT

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None  # unauthenticated requests are refused before they cost anything
        return f"throttle:api_key:{request.auth.prefix}"  # random: no collision across databases
