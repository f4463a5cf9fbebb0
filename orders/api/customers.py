"""Customers in the integrator API: list, upsert, get and change by our id or the merchant's."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from orders import api_examples as ex
from orders import serializers as out
from orders.api.base import ByExternalIdResource, Resource, request_body, with_external_id
from orders.filters import CustomerFilter
from orders.models import Customer
from orders.schemas import CustomerIn
from orders.services import customer_upsert
from orders.updates import customer_update


class _Customers:
    model = Customer
    serializer_class = out.CustomerSerializer
    filterset_class = CustomerFilter


@extend_schema_view(
    get=extend_schema(tags=["Customers"], summary="List customers"),
    post=extend_schema(
        tags=["Customers"],
        summary="Create or update a customer",
        description="Upsert by external_id, else by email, else by phone.",
        request=CustomerIn,
        responses={201: out.CustomerSerializer, 200: out.CustomerSerializer},
        examples=ex.CUSTOMER_EXAMPLES,
    ),
)
class CustomerListView(_Customers, mixins.ListModelMixin, Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(customer_upsert(merchant=self.merchant, payload=request_body(request)))


@extend_schema_view(
    get=extend_schema(tags=["Customers"], summary="Get a customer"),
    patch=extend_schema(
        tags=["Customers"],
        summary="Change some of a customer's fields",
        request=CustomerIn,
    ),
)
class CustomerDetailView(_Customers, mixins.RetrieveModelMixin, Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        customer = self.get_object()
        return self.respond(
            customer_update(
                merchant=self.merchant, customer=customer, changes=request_body(request)
            )
        )


@extend_schema_view(
    get=extend_schema(tags=["Customers"], summary="Get a customer by external id"),
    put=extend_schema(
        tags=["Customers"],
        summary="Create or replace a customer by external id",
        request=CustomerIn,
        responses={201: out.CustomerSerializer, 200: out.CustomerSerializer},
        examples=ex.CUSTOMER_EXAMPLES,
    ),
    patch=extend_schema(
        tags=["Customers"],
        summary="Change some of a customer's fields, by external id",
        request=CustomerIn,
    ),
)
class CustomerByExternalIdView(_Customers, mixins.RetrieveModelMixin, ByExternalIdResource):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = with_external_id(request_body(request), external_id)
        return self.respond(customer_upsert(merchant=self.merchant, payload=payload))

    def patch(self, request, external_id):
        customer = self.get_object()
        changes = with_external_id(request_body(request), external_id)
        return self.respond(
            customer_update(merchant=self.merchant, customer=customer, changes=changes)
        )
