"""``POST /orders/bulk``: up to 1,000 orders in one request, each upserted on its own."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from pydantic import BaseModel, Field
from rest_framework import serializers
from rest_framework.response import Response

from orders import api_examples as ex
from orders.api.base import request_body
from orders.errors import OrdersErrorCode
from orders.models import Order
from orders.services.orders import BULK_MAX, order_bulk_ingest
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.errors import DomainError

BULK_STATUSES = ("created", "updated", "unchanged", "stale", "failed")


class BulkOrdersIn(BaseModel):
    """``POST /orders/bulk``: up to 1,000 orders, each upserted on its own."""

    # Objects, each checked as OrderIn on its own: one that fails is reported in its result
    # (200), so the schema may not promise more than "an object" for an item.
    orders: list[dict] = Field(
        min_length=1,
        max_length=BULK_MAX,
        description="Orders as POST /orders takes them (OrderInRequest), each checked alone.",
    )


class BulkErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField(child=serializers.CharField())),
        help_text="Per field: [{code, message}], fields named like lines[0].unit_price.",
    )


class BulkItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The order's position in the request.")
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=BULK_STATUSES)
    id = serializers.IntegerField(allow_null=True, help_text="Our order id.")
    error = BulkErrorSerializer(allow_null=True)


class BulkResultSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField())
    results = BulkItemSerializer(many=True)


@extend_schema(
    tags=["Orders"],
    summary="Create or update up to 1,000 orders",
    description=(
        "Each order is upserted on its own: one that fails validation is reported in its result "
        "and the others are still applied. The answer is 200 with one result per order, in "
        "request order."
    ),
    request=BulkOrdersIn,
    responses={200: BulkResultSerializer},
    examples=ex.BULK_EXAMPLES,
)
class OrderBulkView(MerchantScopedGenericAPIView):
    model = Order

    def post(self, request):
        orders = request_body(request).get("orders")
        if not isinstance(orders, list) or not orders:
            raise DomainError(
                OrdersErrorCode.INVALID,
                "orders must be a non-empty list of orders.",
                field="orders",
            )
        if not all(isinstance(order, dict) for order in orders):
            raise DomainError(
                OrdersErrorCode.INVALID, "Each of orders must be a JSON object.", field="orders"
            )
        if len(orders) > BULK_MAX:
            raise DomainError(
                OrdersErrorCode.TOO_LARGE,
                f"A bulk request takes at most {BULK_MAX} orders; this one has {len(orders)}.",
                field="orders",
            )
        results = order_bulk_ingest(merchant=self.merchant, payloads=orders, source="api")
        counts = dict.fromkeys(BULK_STATUSES, 0)
        items = []
        for item in results:
            counts[item.status] += 1
            error = item.error
            items.append(
                {
                    "index": item.index,
                    "external_id": item.external_id,
                    "status": item.status,
                    "id": item.order.pk if item.order is not None else None,
                    "error": None
                    if error is None
                    else {"code": error.code, "detail": error.message, "errors": error.fields},
                }
            )
        return Response({"counts": counts, "results": items})
