"""Shipments in the integrator API and their tracking events (carrier checkpoints)."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from orders import api_examples as ex
from orders import serializers as out
from orders.api.base import ByExternalIdResource, Resource, request_body, with_external_id
from orders.errors import OrdersErrorCode
from orders.filters import ShipmentFilter
from orders.models import Shipment, ShipmentLine, TrackingEvent
from orders.schemas import CheckpointIn, ShipmentIn
from orders.services import shipment_ingest, shipment_tracking_update
from postpurchase.errors import DomainError
from postpurchase.validation import parse_payload


def shipments_with_lines(queryset):
    return queryset.select_related("order").prefetch_related(
        Prefetch("lines", queryset=ShipmentLine.unscoped.select_related("order_line"))
    )


class _Shipments:
    model = Shipment
    serializer_class = out.ShipmentSerializer
    filterset_class = ShipmentFilter

    def filter_scoped(self, queryset):
        return shipments_with_lines(queryset)


def _shipment_patch(view: Resource, shipment: Shipment, body: dict) -> Response:
    if body.get("external_id", shipment.external_id) != shipment.external_id:
        raise DomainError(
            OrdersErrorCode.EXTERNAL_ID_IMMUTABLE,
            "A shipment's external_id cannot change.",
            field="external_id",
        )
    payload = {
        "order_external_id": shipment.order.external_id,
        **body,
        "external_id": shipment.external_id,
    }
    return view.respond(shipment_ingest(merchant=view.merchant, payload=payload))


@extend_schema_view(
    get=extend_schema(tags=["Shipments"], summary="List shipments"),
    post=extend_schema(
        tags=["Shipments"],
        summary="Create or update a shipment",
        description=(
            "Upsert by external_id, with the lines it carries and the carrier's checkpoints. "
            "The status only moves to newer statements."
        ),
        request=ShipmentIn,
        responses={201: out.ShipmentSerializer, 200: out.ShipmentSerializer},
        examples=ex.SHIPMENT_EXAMPLES,
    ),
)
class ShipmentListView(_Shipments, mixins.ListModelMixin, Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(shipment_ingest(merchant=self.merchant, payload=request_body(request)))


@extend_schema_view(
    get=extend_schema(tags=["Shipments"], summary="Get a shipment"),
    patch=extend_schema(
        tags=["Shipments"],
        summary="Change some of a shipment's fields",
        request=ShipmentIn,
    ),
)
class ShipmentDetailView(_Shipments, mixins.RetrieveModelMixin, Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        return _shipment_patch(self, self.get_object(), request_body(request))


@extend_schema_view(
    get=extend_schema(tags=["Shipments"], summary="Get a shipment by external id"),
    put=extend_schema(
        tags=["Shipments"],
        summary="Create or replace a shipment by external id",
        request=ShipmentIn,
        responses={201: out.ShipmentSerializer, 200: out.ShipmentSerializer},
        examples=ex.SHIPMENT_EXAMPLES,
    ),
    patch=extend_schema(
        tags=["Shipments"],
        summary="Change some of a shipment's fields, by external id",
        request=ShipmentIn,
    ),
)
class ShipmentByExternalIdView(_Shipments, mixins.RetrieveModelMixin, ByExternalIdResource):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = with_external_id(request_body(request), external_id)
        return self.respond(shipment_ingest(merchant=self.merchant, payload=payload))

    def patch(self, request, external_id):
        return _shipment_patch(self, self.get_object(), request_body(request))


@extend_schema_view(
    get=extend_schema(tags=["Shipments"], summary="List a shipment's tracking events"),
    post=extend_schema(
        tags=["Shipments"],
        summary="Add a carrier checkpoint to a shipment",
        description=(
            "Adds the checkpoint to the shipment's history (201, or 200 when it was already "
            "there) and moves the shipment's status if the checkpoint is its newest news."
        ),
        request=CheckpointIn,
        examples=ex.CHECKPOINT_EXAMPLES,
        responses={201: out.TrackingEventSerializer, 200: out.TrackingEventSerializer},
    ),
)
class TrackingEventListView(mixins.ListModelMixin, Resource):
    model = TrackingEvent
    serializer_class = out.TrackingEventSerializer
    ordering_fields = ["id", "occurred_at"]

    def filter_scoped(self, queryset):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return queryset.none()
        return queryset.filter(shipment_id=self.kwargs["pk"])

    def shipment(self) -> Shipment:
        return get_object_or_404(Shipment.objects.all(), pk=self.kwargs["pk"])

    def get(self, request, **kwargs):
        self.shipment()  # another merchant's shipment, or none: 404
        return self.list(request)

    def post(self, request, **kwargs):
        shipment = self.shipment()
        checkpoint = parse_payload(CheckpointIn, request_body(request))
        same = self.get_queryset().filter(
            occurred_at=checkpoint.occurred_at,
            status=checkpoint.status,
            description=checkpoint.description,
        )
        created = not same.exists()
        shipment_tracking_update(merchant=self.merchant, shipment=shipment, checkpoint=checkpoint)
        return Response(
            self.get_serializer(same.get()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
