"""Base classes for the integrator API: every view runs in its API key's merchant scope and
builds its queryset through the scoped manager. Subclasses may narrow it with ``filter_scoped``
but may not replace ``get_queryset``."""

from __future__ import annotations

from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from postpurchase.tenancy import scoping
from postpurchase.tenancy.models import ApiKey
from postpurchase.tenancy.scoping import ScopedQuerysetMixin


class MerchantAPIView(APIView):
    def dispatch(self, request, *args, **kwargs):
        token = scoping.activate(None)
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            scoping.deactivate(token)

    def perform_authentication(self, request) -> None:
        super().perform_authentication(request)
        if isinstance(request.auth, ApiKey):
            scoping.activate(request.auth.merchant)

    @property
    def merchant(self):
        return scoping.current_merchant()


class MerchantScopedGenericAPIView(ScopedQuerysetMixin, MerchantAPIView, generics.GenericAPIView):
    """``model`` names a ``TenantModel``; the queryset always comes from its scoped manager."""


class CurrentMerchantView(MerchantAPIView):
    """``GET /api/v1/merchant``: the merchant this key belongs to (a cheap key check)."""

    def get(self, request):
        merchant = self.merchant
        return Response(
            {
                "slug": merchant.slug,
                "name": merchant.name,
                "timezone": merchant.timezone,
                "currency": merchant.currency,
                "default_locale": merchant.default_locale,
                "key": {
                    "name": request.auth.name,
                    "prefix": request.auth.prefix,
                    "scope": request.auth.scope,
                },
            }
        )
