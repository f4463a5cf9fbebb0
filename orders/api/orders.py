"""Orders in the integrator API, one at a time: list (optionally with their shipments), upsert,
get and change by our id or the merchant's. A change is the order as it is with the sent fields
laid over it, ingested like any other order."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from orders import api_examples as ex
from orders import serializers as out
from orders.api.base import (
    INGEST_RESULT_HEADER,
    ByExternalIdResource,
    Resource,
    ingest_outcome,
    request_body,
    with_external_id,
)
from orders.api.shipments import shipments_with_lines
from orders.errors import OrdersErrorCode
from orders.filters import OrderFilter
from orders.models import Order, OrderLine, Shipment
from orders.schemas import OrderIn
from orders.services import IngestResult
from orders.services.orders import order_ingest
from postpurchase.errors import DomainError
from postpurchase.validation import money_str

EXPAND_PARAMETER = OpenApiParameter(
    name="expand",
    type=str,
    enum=["shipments"],
    description="expand=shipments includes each order's shipments.",
)


def order_as_payload(order: Order) -> dict[str, Any]:
    """An order as the ingestion payload that would create it as it is now (the base a PATCH
    is laid over)."""
    currency = order.currency
    payload: dict[str, Any] = {
        "external_id": order.external_id,
        "number": order.number,
        "placed_at": order.placed_at.isoformat(),
        "currency": currency,
        **{
            name: money_str(getattr(order, name), currency)
            for name in ("subtotal", "discount", "shipping", "tax", "total")
        },
        "financial_status": order.financial_status,
        "fulfillment_status": order.fulfillment_status,
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "cancel_reason": order.cancel_reason,
        "source": order.source,
        "lines": [
            {
                "external_id": line.external_id,
                "product_external_id": line.product.external_id if line.product_id else None,
                "title": line.title,
                "sku": line.sku,
                "quantity": line.quantity,
                "unit_price": money_str(line.unit_price, currency),
                "discount": money_str(line.discount, currency),
            }
            for line in order.lines.all()
        ],
    }
    if order.source_updated_at:
        payload["updated_at"] = order.source_updated_at.isoformat()
    customer = order.customer
    if customer is not None and customer.external_id:
        payload["customer_external_id"] = customer.external_id
    elif customer is not None:
        payload["customer"] = {"email": customer.email, "phone": customer.phone}
    return payload


class _Orders:
    model = Order
    filterset_class = OrderFilter
    ordering_fields = ["id", "updated_at", "placed_at"]

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self.expands_shipments()  # a bad ?expand= is refused before anything is written

    def expands_shipments(self) -> bool:
        """``?expand=shipments``; any other value is refused, naming the parameter."""
        expand = self.request.query_params.get("expand") if self.request else None
        if expand is None or getattr(self, "swagger_fake_view", False):
            return False
        if expand != "shipments":
            raise serializers.ValidationError({"expand": ['must be "shipments"']})
        return True

    def get_serializer_class(self):
        if self.expands_shipments():
            return out.OrderWithShipmentsSerializer
        return out.OrderSerializer

    def filter_scoped(self, queryset):
        queryset = queryset.select_related("customer").prefetch_related(
            Prefetch("lines", queryset=OrderLine.unscoped.select_related("product"))
        )
        if self.expands_shipments():
            queryset = queryset.prefetch_related(
                Prefetch(
                    "shipments", queryset=shipments_with_lines(Shipment.unscoped.order_by("id"))
                )
            )
        return queryset

    def respond(self, result: IngestResult) -> Response:
        """As ``Resource.respond``; an order the engine just wrote already holds its customer
        and lines as they now are, so it is shown without reading it back."""
        order = result.instance
        expand = self.expands_shipments()
        if expand or "lines" not in getattr(order, "_prefetched_objects_cache", {}):
            return super().respond(result)
        return Response(
            self.get_serializer(order).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            headers={INGEST_RESULT_HEADER: ingest_outcome(result)},
        )


def _order_patch(view: Resource, order: Order, body: dict) -> Response:
    if body.get("external_id", order.external_id) != order.external_id:
        raise DomainError(
            OrdersErrorCode.EXTERNAL_ID_IMMUTABLE,
            "An order's external_id cannot change.",
            field="external_id",
        )
    payload = {**order_as_payload(order), **body}
    if "customer" in body or "customer_external_id" in body:
        # The body names the customer: the order's current one is not also named.
        for name in ("customer", "customer_external_id"):
            if name not in body:
                payload.pop(name, None)
    return view.respond(order_ingest(merchant=view.merchant, payload=payload, source="api"))


@extend_schema_view(
    get=extend_schema(tags=["Orders"], summary="List orders", parameters=[EXPAND_PARAMETER]),
    post=extend_schema(
        tags=["Orders"],
        summary="Create or update an order",
        description=(
            "Upsert by external_id, with the customer, products and lines it names. A payload "
            "whose updated_at is older than the one already applied is ignored "
            "(Ingest-Result: stale)."
        ),
        request=OrderIn,
        responses={201: out.OrderSerializer, 200: out.OrderSerializer},
        examples=ex.ORDER_EXAMPLES,
    ),
)
class OrderListView(_Orders, mixins.ListModelMixin, Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(
            order_ingest(merchant=self.merchant, payload=request_body(request), source="api")
        )


@extend_schema_view(
    get=extend_schema(tags=["Orders"], summary="Get an order", parameters=[EXPAND_PARAMETER]),
    patch=extend_schema(
        tags=["Orders"],
        summary="Change some of an order's fields",
        description="Fields not sent keep their values; `lines`, when sent, replaces the lines.",
        request=OrderIn,
        examples=ex.ORDER_PATCH_EXAMPLES,
    ),
)
class OrderDetailView(_Orders, mixins.RetrieveModelMixin, Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        return _order_patch(self, self.get_object(), request_body(request))


@extend_schema_view(
    get=extend_schema(
        tags=["Orders"], summary="Get an order by external id", parameters=[EXPAND_PARAMETER]
    ),
    put=extend_schema(
        tags=["Orders"],
        summary="Create or replace an order by external id",
        request=OrderIn,
        responses={201: out.OrderSerializer, 200: out.OrderSerializer},
        examples=ex.ORDER_EXAMPLES,
    ),
    patch=extend_schema(
        tags=["Orders"],
        summary="Change some of an order's fields, by external id",
        request=OrderIn,
    ),
)
class OrderByExternalIdView(_Orders, mixins.RetrieveModelMixin, ByExternalIdResource):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = with_external_id(request_body(request), external_id)
        return self.respond(order_ingest(merchant=self.merchant, payload=payload, source="api"))

    def patch(self, request, external_id):
        return _order_patch(self, self.get_object(), request_body(request))
