"""Webhook endpoints in the integrator API: register, change, rotate the secret, read the
delivery log. Thin: a serializer checks the shape, a service does the work."""

from __future__ import annotations

import django_filters as filters
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.response import Response

from orders.events import ORDER_PLACED, SHIPMENT_DELIVERED
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.errors import DomainError
from webhooks import selectors, services
from webhooks.errors import WebhooksErrorCode
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from webhooks.serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointInSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
)

TAG = "Webhook endpoints"
ENDPOINT_ID = OpenApiParameter(
    name="id",
    location=OpenApiParameter.PATH,
    type=int,
    description="The webhook endpoint's id (another merchant's answers 404).",
)
CREATE_EXAMPLE = OpenApiExample(
    "Order and shipment updates",
    value={
        "url": "https://example.com/webhooks/postpurchase",
        "description": "Order sync",
        "event_types": [ORDER_PLACED, SHIPMENT_DELIVERED],
    },
    request_only=True,
)


def _input(request, *, partial: bool) -> dict:
    if not isinstance(request.data, dict):
        raise DomainError(WebhooksErrorCode.INVALID, "The request body must be a JSON object.")
    serializer = WebhookEndpointInSerializer(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class _Endpoints(MerchantScopedGenericAPIView):
    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    lookup_url_kwarg = "pk"


@extend_schema_view(
    get=extend_schema(tags=[TAG], summary="List webhook endpoints"),
    post=extend_schema(
        tags=[TAG],
        summary="Register a webhook endpoint",
        description="Answers with the endpoint and its signing secret, shown this once.",
        request=WebhookEndpointInSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        examples=[CREATE_EXAMPLE],
    ),
)
class WebhookEndpointListView(mixins.ListModelMixin, _Endpoints):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        data = _input(request, partial=False)
        with transaction.atomic():
            endpoint = services.webhook_endpoint_create(
                merchant=self.merchant,
                url=data["url"],
                description=data.get("description", ""),
                event_types=data["event_types"],
            )
            if data.get("enabled") is False:
                endpoint = services.webhook_endpoint_disable(
                    endpoint=endpoint, reason="Disabled by the merchant."
                )
        return Response(
            WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )


@extend_schema_view(
    get=extend_schema(tags=[TAG], summary="Get a webhook endpoint", parameters=[ENDPOINT_ID]),
    patch=extend_schema(
        tags=[TAG],
        summary="Change a webhook endpoint",
        description="Send only the fields to change. enabled=false stops sending and cancels "
        "pending deliveries; enabled=true starts again.",
        request=WebhookEndpointInSerializer(partial=True),
        responses={200: WebhookEndpointSerializer},
        parameters=[ENDPOINT_ID],
    ),
    delete=extend_schema(
        tags=[TAG],
        summary="Delete a webhook endpoint",
        description="Deletes it with its delivery log.",
        responses={204: None},
        parameters=[ENDPOINT_ID],
    ),
)
class WebhookEndpointDetailView(mixins.RetrieveModelMixin, _Endpoints):
    def get(self, request, pk):
        return self.retrieve(request)

    def patch(self, request, pk):
        endpoint = self.get_object()
        data = _input(request, partial=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, data=data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def delete(self, request, pk):
        services.webhook_endpoint_delete(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=[TAG],
    summary="Rotate an endpoint's signing secret",
    description="Answers with the new secret, shown this once. For 24 hours every delivery is "
    "signed with both the new and the old secret (two v1 signatures), so receivers can switch "
    "without missing one.",
    request=None,
    responses={200: WebhookEndpointWithSecretSerializer},
    parameters=[ENDPOINT_ID],
)
class WebhookEndpointRotateSecretView(_Endpoints):
    def post(self, request, pk):
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=self.get_object())
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


@extend_schema(
    tags=[TAG],
    summary="Send a test event to an endpoint",
    description="Queues a signed webhook.test event for this endpoint alone; its outcome shows "
    "in the endpoint's deliveries. 409 when the endpoint is disabled.",
    request=None,
    responses={202: WebhookDeliverySerializer},
    parameters=[ENDPOINT_ID],
)
class WebhookEndpointSendTestView(_Endpoints):
    def post(self, request, pk):
        delivery = services.webhook_endpoint_send_test(endpoint=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = filters.CharFilter(help_text="Exact event type, such as order.placed.")

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


@extend_schema(
    tags=[TAG],
    summary="List an endpoint's deliveries",
    description="Newest first, each with its attempts: status code, latency and the first "
    "kilobyte of the answer.",
    parameters=[ENDPOINT_ID],
)
class WebhookDeliveryListView(mixins.ListModelMixin, MerchantScopedGenericAPIView):
    model = WebhookDelivery
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter

    def filter_scoped(self, queryset):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the view
            return queryset.none()
        return selectors.webhook_deliveries_of(endpoint_id=self.kwargs["pk"], deliveries=queryset)

    def get(self, request, pk):
        if selectors.webhook_endpoint_get(endpoint_id=pk) is None:  # another merchant's: 404
            raise Http404("No such webhook endpoint.")
        return self.list(request)
