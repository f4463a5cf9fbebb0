"""A customer's erasure and export in the integrator API, for every merchant (Shopify's privacy
topics are one more door to the same services, ``orders.privacy``).

- ``POST /api/v1/customers/{id}/erase`` erases the customer's personal data in every app and
  answers 200 with how many rows each part changed. Idempotent: a second call changes nothing
  and answers zeros (with an ``Idempotency-Key``, the first answer is replayed). A write key.
- ``GET /api/v1/customers/{id}/export`` answers everything every app holds on the customer.

Another merchant's customer answers 404, as everywhere."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from orders.models import Customer
from orders.privacy import customer_erase, customer_export
from postpurchase.api.views import MerchantScopedGenericAPIView

TAG = "Customers"
CUSTOMER_ID = OpenApiParameter(
    name="id",
    location=OpenApiParameter.PATH,
    type=int,
    description="The customer's id (another merchant's answers 404).",
)
SOURCE = "api"


class CustomerErasureSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    erased = serializers.DictField(
        child=serializers.IntegerField(min_value=0),
        help_text="Rows changed, by kind: customers, events, tracking_events, api_responses "
        "(kept Idempotency-Key responses naming them), messages, preferences, enrollments, "
        "webhook_deliveries, deliveries (inbound webhook bodies). All 0 when there was nothing "
        "left to erase.",
    )


EXPORT_SCHEMA = {
    "type": "object",
    "description": "Everything held on the customer, by section: merchant (name, slug), then "
    "each app's lists: customers, orders (with lines, shipments and carrier scans), events, "
    "journeys, messages, muted_topics, suppressions.",
    "properties": {
        "merchant": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "slug": {"type": "string"}},
            "required": ["name", "slug"],
        },
    },
    "required": ["merchant"],
    "additionalProperties": {"type": "array"},
}


class _CustomerPrivacy(MerchantScopedGenericAPIView):
    model = Customer
    lookup_url_kwarg = "pk"


@extend_schema(
    tags=[TAG],
    summary="Erase a customer's personal data",
    description="Erases the customer's contact details, names, birthday and consents, and the "
    "personal data every part of the platform holds about them (their events' payloads, the "
    "messages sent to them, their journeys' context, webhook bodies, carrier scans). Orders, "
    "lines, totals and ids stay, so the store's figures do not change. Records a "
    "customer.redacted event. Idempotent: a second call changes nothing and answers zeros.",
    request=None,
    responses={200: CustomerErasureSerializer},
    parameters=[CUSTOMER_ID],
)
class CustomerEraseView(_CustomerPrivacy):
    serializer_class = CustomerErasureSerializer

    def post(self, request, pk):
        customer = self.get_object()
        erased = customer_erase(
            merchant=self.merchant, customer=customer, now=timezone.now(), source=SOURCE
        )
        return Response(CustomerErasureSerializer({"customer_id": pk, "erased": erased}).data)


@extend_schema(
    tags=[TAG],
    summary="Export everything held on a customer",
    description="A JSON document to hand to the shopper (a data subject access request).",
    responses={200: EXPORT_SCHEMA},
    parameters=[CUSTOMER_ID],
)
class CustomerExportView(_CustomerPrivacy):
    def get(self, request, pk):
        return Response(customer_export(merchant=self.merchant, customer=self.get_object()))
