"""Products in the integrator API: list, upsert, get and change by our id or the merchant's."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.response import Response

from orders import api_examples as ex
from orders import serializers as out
from orders.api.base import ByExternalIdResource, Resource, request_body, with_external_id
from orders.errors import OrdersErrorCode
from orders.filters import ProductFilter
from orders.models import Product
from orders.schemas import ProductIn
from orders.services import product_upsert
from postpurchase.errors import DomainError


class _Products:
    model = Product
    serializer_class = out.ProductSerializer
    filterset_class = ProductFilter


@extend_schema_view(
    get=extend_schema(tags=["Products"], summary="List products"),
    post=extend_schema(
        tags=["Products"],
        summary="Create or update a product",
        request=ProductIn,
        responses={201: out.ProductSerializer, 200: out.ProductSerializer},
        examples=ex.PRODUCT_EXAMPLES,
    ),
)
class ProductListView(_Products, mixins.ListModelMixin, Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(product_upsert(merchant=self.merchant, payload=request_body(request)))


def _product_patch(view: Resource, product: Product, body: dict) -> Response:
    payload = {"title": product.title, **body, "external_id": product.external_id}
    if body.get("external_id", product.external_id) != product.external_id:
        raise DomainError(
            OrdersErrorCode.EXTERNAL_ID_IMMUTABLE,
            "A product's external_id cannot change.",
            field="external_id",
        )
    return view.respond(product_upsert(merchant=view.merchant, payload=payload))


@extend_schema_view(
    get=extend_schema(tags=["Products"], summary="Get a product"),
    patch=extend_schema(
        tags=["Products"],
        summary="Change some of a product's fields",
        request=ProductIn,
    ),
)
class ProductDetailView(_Products, mixins.RetrieveModelMixin, Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        return _product_patch(self, self.get_object(), request_body(request))


@extend_schema_view(
    get=extend_schema(tags=["Products"], summary="Get a product by external id"),
    put=extend_schema(
        tags=["Products"],
        summary="Create or replace a product by external id",
        request=ProductIn,
        responses={201: out.ProductSerializer, 200: out.ProductSerializer},
        examples=ex.PRODUCT_EXAMPLES,
    ),
    patch=extend_schema(
        tags=["Products"],
        summary="Change some of a product's fields, by external id",
        request=ProductIn,
    ),
)
class ProductByExternalIdView(_Products, mixins.RetrieveModelMixin, ByExternalIdResource):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = with_external_id(request_body(request), external_id)
        return self.respond(product_upsert(merchant=self.merchant, payload=payload))

    def patch(self, request, external_id):
        return _product_patch(self, self.get_object(), request_body(request))
