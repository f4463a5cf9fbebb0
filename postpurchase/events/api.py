"""The event log in the integrator API: list what happened, post custom events."""

from __future__ import annotations

import django_filters as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from postpurchase.api.filters import ApiFilterSet, DateTimeFilter, IdFilter
from postpurchase.api.serializers import CachedModelSerializer
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.errors import DomainError
from postpurchase.events.custom import CustomEventIn, custom_event_record
from postpurchase.events.errors import EventsErrorCode
from postpurchase.events.models import Event


class EventSerializer(CachedModelSerializer):
    customer_external_id = serializers.SerializerMethodField()
    properties = serializers.JSONField(source="payload", read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "type",
            "customer_id",
            "customer_external_id",
            "occurred_at",
            "recorded_at",
            "source",
            "dedupe_key",
            "properties",
        ]
        read_only_fields = fields

    def get_customer_external_id(self, event: Event) -> str | None:
        return event.customer.external_id if event.customer_id else None


class EventFilter(ApiFilterSet):
    type = filters.CharFilter(help_text="An exact event type, e.g. order.placed.")
    customer = IdFilter(field_name="customer_id", help_text="Our customer id.")
    customer_external_id = filters.CharFilter(field_name="customer__external_id")
    source = filters.CharFilter()
    occurred_after = DateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = DateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Event
        fields: list[str] = []


class _Events(MerchantScopedGenericAPIView):
    model = Event
    serializer_class = EventSerializer
    filterset_class = EventFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "occurred_at"]
    ordering = ["-id"]

    def filter_scoped(self, queryset):
        return queryset.select_related("customer")


@extend_schema_view(
    get=extend_schema(tags=["Events"], summary="List events"),
    post=extend_schema(
        tags=["Events"],
        summary="Record a custom event for a customer",
        description=(
            "For example product.setup_completed with properties. Journeys and webhooks react "
            "to it like to the platform's own events. Types in the platform's namespaces "
            "(order.*, shipment.*, message.*, journey.*, return.*, loyalty.*, survey.*, claim.*, "
            "webhook.*) are refused. A second event with the same id is not recorded again "
            "(200 with the first)."
        ),
        request=CustomEventIn,
        examples=[
            OpenApiExample(
                "Setup finished",
                value={
                    "type": "product.setup_completed",
                    "id": "setup-8812",
                    "customer_external_id": "cust-77",
                    "occurred_at": "2026-11-23T10:00:00Z",
                    "properties": {"product": "Trail shoe", "steps": 4},
                },
                request_only=True,
            )
        ],
        responses={201: EventSerializer, 200: EventSerializer},
    ),
)
class EventListView(mixins.ListModelMixin, _Events):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        if not isinstance(request.data, dict):
            raise DomainError(EventsErrorCode.INVALID, "The request body must be a JSON object.")
        event, created = custom_event_record(merchant=self.merchant, payload=request.data)
        event = self.get_queryset().get(pk=event.pk)
        return Response(
            self.get_serializer(event).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema(tags=["Events"], summary="Get an event")
class EventDetailView(mixins.RetrieveModelMixin, _Events):
    def get(self, request, pk):
        return self.retrieve(request)
