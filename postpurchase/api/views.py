"""Base classes for the integrator API: every view runs in its API key's merchant scope and
builds its queryset through the scoped manager. Subclasses may narrow it with ``filter_scoped``
but may not replace ``get_queryset``.

Every POST and PATCH honours ``Idempotency-Key`` (see ``postpurchase.api.idempotency``)."""

from __future__ import annotations

import json

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from postpurchase.api import idempotency
from postpurchase.api.models import IdempotencyRecord
from postpurchase.tenancy import scoping
from postpurchase.tenancy.models import ApiKey
from postpurchase.tenancy.scoping import ScopedQuerysetMixin

IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})


class JsonAlways(DefaultContentNegotiation):
    """The API speaks JSON whatever the Accept header says (a browser's text/html included), so
    a client is never refused with 406 nor sent anything else."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord) -> None:
        self.record = record


class MerchantAPIView(APIView):
    content_negotiation_class = JsonAlways
    _idempotency: IdempotencyRecord | None = None

    def dispatch(self, request, *args, **kwargs):
        token = scoping.activate(None)
        self._idempotency = None
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            if self._idempotency is not None:
                # The request escaped with an unhandled error: give the key back.
                idempotency.idempotency_release(record=self._idempotency)
            scoping.deactivate(token)

    def perform_authentication(self, request) -> None:
        super().perform_authentication(request)
        if isinstance(request.auth, ApiKey):
            scoping.activate(request.auth.merchant)

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication, scope, throttles
        key = request.headers.get(idempotency.HEADER)
        if request.method not in IDEMPOTENT_METHODS or key is None:
            return
        if not self._handles(request.method):
            # A method this path lacks is a 405 whatever the key: it claims nothing.
            self.http_method_not_allowed(request)
        claim = idempotency.idempotency_claim(
            merchant=self.merchant,
            key=idempotency.key_check(key.strip()),
            method=request.method,
            path=request.path,
            fingerprint=idempotency.request_fingerprint(
                method=request.method,
                path=request.path,
                query=request.META.get("QUERY_STRING", ""),
                body=request.body,
            ),
            now=timezone.now(),
        )
        if claim.replay:
            raise _Replay(claim.record)
        self._idempotency = claim.record

    def _handles(self, method: str) -> bool:
        name = method.lower()
        return name in self.http_method_names and hasattr(self, name)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            record = exc.record
            headers = {"Idempotent-Replayed": "true"}
            if record.response_location:
                headers["Location"] = record.response_location
            return Response(
                json.loads(record.response_body) if record.response_body else None,
                status=record.response_status,
                headers=headers,
                content_type=record.response_content_type or None,
            )
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record, self._idempotency = self._idempotency, None
        if record is not None:
            if response.status_code >= 500:
                idempotency.idempotency_release(record=record)
            else:
                idempotency.idempotency_complete(
                    record=record,
                    status=response.status_code,
                    body=getattr(response, "data", None),
                    # Set only when a view chose one (problem+json); JSON otherwise.
                    content_type=response.content_type or "",
                    location=response.get("Location", ""),
                )
        return response

    @property
    def merchant(self):
        return scoping.current_merchant()


class MerchantScopedGenericAPIView(ScopedQuerysetMixin, MerchantAPIView, generics.GenericAPIView):
    """``model`` names a ``TenantModel``; the queryset always comes from its scoped manager."""


class _KeySerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    scope = serializers.ChoiceField(choices=["read", "write"])


class CurrentMerchantSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    timezone = serializers.CharField()
    currency = serializers.CharField()
    default_locale = serializers.CharField()
    key = _KeySerializer()


@extend_schema(
    tags=["Merchant"],
    summary="The merchant this API key belongs to",
    responses={200: CurrentMerchantSerializer},
)
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
