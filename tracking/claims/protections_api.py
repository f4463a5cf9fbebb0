"""Marking an order protected through the API, for stores whose checkout is not a Shopify
product line: ``POST /api/v1/protected-orders`` with the order's external id records that the
shopper chose protection (we record the choice; we never make it). An order is protected when
it has such a record or a line of the merchant's protection product (docs/protection.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from pydantic import BaseModel, ConfigDict, Field, field_validator
from rest_framework import serializers, status
from rest_framework.response import Response

from orders.models import Order
from postpurchase.api.serializers import CachedModelSerializer
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.validation import AwareDatetime, ExternalId, no_nul, parse_payload
from tracking.claims.models import OrderProtection
from tracking.claims.services import order_protection_record
from tracking.errors import ClaimsErrorCode


class OrderProtectionIn(BaseModel):
    """``POST /protected-orders``: which order, and when the shopper chose protection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    _nul = field_validator("*")(classmethod(lambda cls, value: no_nul(value)))

    order_external_id: ExternalId = Field(description="The store's id of the order.")
    chosen_at: AwareDatetime | None = Field(
        None, description="When the shopper chose protection at checkout; now when left out."
    )


class OrderProtectionSerializer(CachedModelSerializer):
    order_external_id = serializers.CharField(source="order.external_id")
    order_number = serializers.CharField(source="order.number")

    class Meta:
        model = OrderProtection
        fields = ["id", "order_id", "order_external_id", "order_number", "chosen_at", "source"]
        read_only_fields = fields


@extend_schema(
    tags=["Claims"],
    summary="Record that a shopper chose package protection for an order",
    description="For a checkout that does not add the merchant's protection product as a line. "
    "201 when recorded, 200 with the first record when the order already has one. 404 when the "
    "merchant has no order with this external id.",
    request=OrderProtectionIn,
    responses={201: OrderProtectionSerializer, 200: OrderProtectionSerializer},
)
class OrderProtectionView(MerchantScopedGenericAPIView):
    model = OrderProtection
    serializer_class = OrderProtectionSerializer

    def post(self, request):
        if not isinstance(request.data, dict):
            raise DomainError(ClaimsErrorCode.INVALID, "The request body must be a JSON object.")
        data = parse_payload(OrderProtectionIn, request.data)
        order = Order.objects.filter(external_id=data.order_external_id).first()
        if order is None:
            raise DomainError(
                ErrorCode.NOT_FOUND,
                f"No order has order_external_id {data.order_external_id!r}.",
                field="order_external_id",
            )
        record, created = order_protection_record(order=order, chosen_at=data.chosen_at)
        record = self.get_queryset().select_related("order").get(pk=record.pk)
        return Response(
            self.get_serializer(record).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
