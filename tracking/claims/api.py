"""Claims in the integrator API: list them (cursor pagination, by state), read one, and take
the merchant's steps: approve, reject, resolve (each a POST honouring ``Idempotency-Key``, as
every POST does). Another merchant's claim answers 404; a step its state does not allow is a
409 ``illegal_transition`` naming the state, with nothing changed."""

from __future__ import annotations

from typing import Annotated, Literal

import django_filters as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from pydantic import BaseModel, ConfigDict, Field, field_validator
from rest_framework import mixins, serializers
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from postpurchase.api.filters import ApiFilterSet
from postpurchase.api.serializers import CachedModelSerializer
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.validation import money_str, no_nul, parse_payload
from tracking.claims.models import Claim, ClaimKind, ClaimPhoto, ClaimResolution, ClaimState
from tracking.claims.services import MESSAGE_MAX, claim_approve, claim_reject, claim_resolve

TAG = "Claims"
CLAIM_ID = OpenApiParameter(
    name="id",
    location=OpenApiParameter.PATH,
    type=int,
    description="The claim's id (another merchant's answers 404).",
)


class ClaimPhotoSerializer(CachedModelSerializer):
    class Meta:
        model = ClaimPhoto
        fields = ["id", "content_type", "size", "created_at"]
        read_only_fields = fields


class ClaimSerializer(CachedModelSerializer):
    number = serializers.CharField(source="reference", help_text="The merchant's claim number.")
    kind = serializers.ChoiceField(choices=ClaimKind.choices)
    state = serializers.ChoiceField(choices=ClaimState.choices)
    order_number = serializers.CharField(source="order.number")
    currency = serializers.CharField(source="order.currency", help_text="ISO 4217 code.")
    resolution = serializers.SerializerMethodField()
    refund_amount = serializers.SerializerMethodField()
    photos = ClaimPhotoSerializer(many=True, read_only=True)

    class Meta:
        model = Claim
        fields = [
            "id",
            "number",
            "kind",
            "state",
            "statement",
            "decision_message",
            "resolution",
            "refund_amount",
            "currency",
            "replacement_order_id",
            "order_id",
            "order_number",
            "shipment_id",
            "customer_id",
            "photos",
            "filed_at",
            "decided_at",
            "resolved_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": ["string", "null"],
            "enum": [*ClaimResolution.values, None],
            "description": "reship or refund, once resolved; null before.",
        }
    )
    def get_resolution(self, claim: Claim) -> str | None:
        return claim.resolution or None

    @extend_schema_field(
        {
            "type": ["string", "null"],
            "pattern": r"^\d+(\.\d+)?$",
            "description": "A refund's recorded amount in the order's currency (the merchant "
            "refunds it in its store; we move no money); null otherwise.",
        }
    )
    def get_refund_amount(self, claim: Claim) -> str | None:
        if claim.refund_amount is None:
            return None
        return money_str(claim.refund_amount, claim.order.currency)


class ClaimFilter(ApiFilterSet):
    state = filters.ChoiceFilter(
        choices=ClaimState.choices, help_text="filed, approved, rejected or resolved."
    )

    class Meta:
        model = Claim
        fields: list[str] = []


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    _nul = field_validator("*")(classmethod(lambda cls, value: no_nul(value)))


class ClaimApproveIn(_In):
    """``POST /claims/{id}/approve``: an optional message to the shopper."""

    message: Annotated[str, Field(max_length=MESSAGE_MAX)] = Field(
        "", description="Shown to the shopper on the claim's page and in claim.approved."
    )


class ClaimRejectIn(_In):
    """``POST /claims/{id}/reject``: why, for the shopper (required)."""

    message: Annotated[str, Field(min_length=1, max_length=MESSAGE_MAX, pattern=r"\S")] = Field(
        description="Why the claim is rejected, shown to the shopper."
    )


class ClaimResolveIn(_In):
    """``POST /claims/{id}/resolve``: how an approved claim is settled."""

    resolution: Literal["reship", "refund"] = Field(
        description="reship: a replacement order of the parcel's items at no charge "
        "(external_id claim-<number>); refund: the parcel's paid value is recorded, and you "
        "refund it in your store."
    )


def _body(request):
    """The JSON body, or an empty object when there is none (``parse_payload`` refuses any
    other shape)."""
    return {} if request.stream is None else request.data


class _Claims(MerchantScopedGenericAPIView):
    model = Claim
    serializer_class = ClaimSerializer
    filterset_class = ClaimFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "updated_at"]
    ordering = ["-id"]
    lookup_url_kwarg = "pk"

    def filter_scoped(self, queryset):
        return queryset.select_related("order").prefetch_related("photos")

    def answer(self, claim: Claim) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=claim.pk)).data)


@extend_schema(
    tags=[TAG],
    summary="List claims",
    description="Package protection claims, newest first (docs/protection.md).",
)
class ClaimListView(mixins.ListModelMixin, _Claims):
    def get(self, request):
        return self.list(request)


@extend_schema(tags=[TAG], summary="Get a claim", parameters=[CLAIM_ID])
class ClaimDetailView(mixins.RetrieveModelMixin, _Claims):
    def get(self, request, pk):
        return self.retrieve(request)


@extend_schema(
    tags=[TAG],
    summary="Approve a claim",
    description="A filed claim becomes approved (claim.approved); resolve it next. 409 "
    "illegal_transition in any other state.",
    request=ClaimApproveIn,
    responses={200: ClaimSerializer},
    parameters=[CLAIM_ID],
)
class ClaimApproveView(_Claims):
    def post(self, request, pk):
        claim = self.get_object()
        data = parse_payload(ClaimApproveIn, _body(request))
        return self.answer(claim_approve(claim=claim, message=data.message))


@extend_schema(
    tags=[TAG],
    summary="Reject a claim",
    description="A filed claim becomes rejected (claim.rejected), with your message to the "
    "shopper. 409 illegal_transition in any other state.",
    request=ClaimRejectIn,
    responses={200: ClaimSerializer},
    parameters=[CLAIM_ID],
)
class ClaimRejectView(_Claims):
    def post(self, request, pk):
        claim = self.get_object()
        data = parse_payload(ClaimRejectIn, _body(request))
        return self.answer(claim_reject(claim=claim, message=data.message))


@extend_schema(
    tags=[TAG],
    summary="Resolve a claim",
    description="An approved claim becomes resolved (claim.resolved): reship places one "
    "replacement order at no charge; refund records the parcel's paid value for you to refund "
    "in your store. 409 illegal_transition in any other state.",
    request=ClaimResolveIn,
    responses={200: ClaimSerializer},
    parameters=[CLAIM_ID],
)
class ClaimResolveView(_Claims):
    def post(self, request, pk):
        claim = self.get_object()
        data = parse_payload(ClaimResolveIn, _body(request))
        return self.answer(claim_resolve(claim=claim, resolution=data.resolution))
