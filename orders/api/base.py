"""What every resource of the commerce API shares: the scoped, filtered, cursor-paginated
collection (``Resource``), addressing by the merchant's own id (``ByExternalIdResource``), the
request body, and the answer to an upsert with its ``Ingest-Result`` header."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters, status
from rest_framework.response import Response

from orders.errors import OrdersErrorCode
from orders.services import IngestResult
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.errors import DomainError

INGEST_RESULT_HEADER = "Ingest-Result"


def request_body(request) -> dict[str, Any]:
    if request.stream is None:  # DRF's mark of an empty body (Content-Length 0 or none)
        raise DomainError(
            OrdersErrorCode.INVALID, "The request needs a JSON object as its body.", field="body"
        )
    if not isinstance(request.data, dict):
        raise DomainError(OrdersErrorCode.INVALID, "The request body must be a JSON object.")
    return request.data


def with_external_id(body: dict[str, Any], external_id: str) -> dict[str, Any]:
    """The body of a ``PUT``/``PATCH`` by external id: the URL names the object."""
    given = body.get("external_id", external_id)
    if given != external_id:
        raise DomainError(
            OrdersErrorCode.EXTERNAL_ID_MISMATCH,
            "external_id in the body differs from the one in the URL.",
            field="external_id",
        )
    return {**body, "external_id": external_id}


def ingest_outcome(result: IngestResult) -> str:
    if result.created:
        return "created"
    if result.stale:
        return "stale"
    return "updated" if result.changed else "unchanged"


class Resource(MerchantScopedGenericAPIView):
    """A collection of the current merchant's rows, filtered and cursor-paginated."""

    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    ordering_fields = ["id", "updated_at"]
    ordering = ["-id"]
    lookup_url_kwarg = "pk"

    def respond(self, result: IngestResult) -> Response:
        """The object after an upsert: 201 when it was created, else 200; the header
        ``Ingest-Result`` says created, updated, unchanged or stale (older than what we hold,
        so ignored)."""
        instance = self.filter_scoped(self.model.objects.filter(pk=result.instance.pk)).get()
        serializer = self.get_serializer(instance)
        return Response(
            serializer.data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            headers={INGEST_RESULT_HEADER: ingest_outcome(result)},
        )


class ByExternalIdResource(Resource):
    lookup_field = "external_id"
    lookup_url_kwarg = "external_id"
