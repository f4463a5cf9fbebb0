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
