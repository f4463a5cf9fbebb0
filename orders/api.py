"""The commerce model in the integrator API: customers, products, orders (one at a time or in
bulk), shipments and their tracking events.

Each resource is addressed by our id (``/orders/{id}``) and by the merchant's own id
(``/orders/by-external-id/{external_id}``). ``POST`` to a collection and ``PUT`` by external id
are upserts; ``PATCH`` changes only the fields sent. Every write goes through the same services
as every other ingestion path, so validation, events and idempotency are the same."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from pydantic import BaseModel, Field
from rest_framework import filters, mixins, serializers, status
from rest_framework.response import Response

from orders import api_examples as ex
from orders import serializers as out
from orders.filters import CustomerFilter, OrderFilter, ProductFilter, ShipmentFilter
from orders.models import (
    Customer,
    Order,
    OrderLine,
    Product,
    Shipment,
    ShipmentLine,
    TrackingEvent,
)
from orders.schemas import CheckpointIn, CustomerIn, OrderIn, ProductIn, ShipmentIn
from orders.services import (
    IngestResult,
    customer_upsert,
    product_upsert,
    shipment_ingest,
    shipment_tracking_update,
)
from orders.services.orders import BULK_MAX, order_bulk_ingest, order_ingest
from orders.updates import customer_update
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.validation import money_str, parse_payload

EXPAND_PARAMETER = OpenApiParameter(
    name="expand",
    type=str,
    enum=["shipments"],
    description="expand=shipments includes each order's shipments.",
)
INGEST_RESULT_HEADER = "Ingest-Result"
BULK_STATUSES = ("created", "updated", "unchanged", "stale", "failed")


def _body(request) -> dict[str, Any]:
    if request.stream is None:  # DRF's mark of an empty body (Content-Length 0 or none)
        raise DomainError(
            ErrorCode.INVALID, "The request needs a JSON object as its body.", field="body"
        )
    if not isinstance(request.data, dict):
        raise DomainError(ErrorCode.INVALID, "The request body must be a JSON object.")
    return request.data


def _with_external_id(body: dict[str, Any], external_id: str) -> dict[str, Any]:
    """The body of a ``PUT``/``PATCH`` by external id: the URL names the object."""
    given = body.get("external_id", external_id)
    if given != external_id:
        raise DomainError(
            ErrorCode.INVALID,
            "external_id in the body differs from the one in the URL.",
            field="external_id",
        )
    return {**body, "external_id": external_id}


def _outcome(result: IngestResult) -> str:
    if result.created:
        return "created"
    if result.stale:
        return "stale"
    return "updated" if result.changed else "unchanged"


class _Resource(MerchantScopedGenericAPIView):
    """A collection of the current merchant's rows, filtered and cursor-paginated."""

    filter_backends = [DjangoFilterBackend, filters.OrderingFilter]
    ordering_fields = ["id", "updated_at"]
    ordering = ["-id"]
    lookup_url_kwarg = "pk"

    def respond(self, result: IngestResult) -> Response:
        """The object after an upsert: 201 when it was created, else 200; the header
        ``Ingest-Result`` says created, updated, unchanged or stale (older than what we hold,
        so ignored)."""
        instance = self.filter_scoped(self.model.objects.filter(pk=result.instance.pk)).get()
        serializer = self.get_serializer(instance)
        return Response(
            serializer.data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            headers={INGEST_RESULT_HEADER: _outcome(result)},
        )


class _ByExternalId(_Resource):
    lookup_field = "external_id"
    lookup_url_kwarg = "external_id"


# --- customers ------------------------------------------------------------------------------


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
class CustomerListView(_Customers, mixins.ListModelMixin, _Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(customer_upsert(merchant=self.merchant, payload=_body(request)))


@extend_schema_view(
    get=extend_schema(tags=["Customers"], summary="Get a customer"),
    patch=extend_schema(
        tags=["Customers"],
        summary="Change some of a customer's fields",
        request=CustomerIn,
    ),
)
class CustomerDetailView(_Customers, mixins.RetrieveModelMixin, _Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        customer = self.get_object()
        return self.respond(
            customer_update(merchant=self.merchant, customer=customer, changes=_body(request))
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
class CustomerByExternalIdView(_Customers, mixins.RetrieveModelMixin, _ByExternalId):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = _with_external_id(_body(request), external_id)
        return self.respond(customer_upsert(merchant=self.merchant, payload=payload))

    def patch(self, request, external_id):
        customer = self.get_object()
        changes = _with_external_id(_body(request), external_id)
        return self.respond(
            customer_update(merchant=self.merchant, customer=customer, changes=changes)
        )


# --- products -------------------------------------------------------------------------------


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
class ProductListView(_Products, mixins.ListModelMixin, _Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(product_upsert(merchant=self.merchant, payload=_body(request)))


def _product_patch(view: _Resource, product: Product, body: dict) -> Response:
    payload = {"title": product.title, **body, "external_id": product.external_id}
    if body.get("external_id", product.external_id) != product.external_id:
        raise DomainError(
            ErrorCode.INVALID, "A product's external_id cannot change.", field="external_id"
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
class ProductDetailView(_Products, mixins.RetrieveModelMixin, _Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        return _product_patch(self, self.get_object(), _body(request))


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
class ProductByExternalIdView(_Products, mixins.RetrieveModelMixin, _ByExternalId):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = _with_external_id(_body(request), external_id)
        return self.respond(product_upsert(merchant=self.merchant, payload=payload))

    def patch(self, request, external_id):
        return _product_patch(self, self.get_object(), _body(request))


# --- orders ---------------------------------------------------------------------------------


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
                Prefetch("shipments", queryset=_shipments(Shipment.unscoped.order_by("id")))
            )
        return queryset

    def respond(self, result: IngestResult) -> Response:
        """As ``_Resource.respond``; an order the engine just wrote already holds its customer
        and lines as they now are, so it is shown without reading it back."""
        order = result.instance
        expand = self.expands_shipments()
        if expand or "lines" not in getattr(order, "_prefetched_objects_cache", {}):
            return super().respond(result)
        return Response(
            self.get_serializer(order).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            headers={INGEST_RESULT_HEADER: _outcome(result)},
        )


def _order_patch(view: _Resource, order: Order, body: dict) -> Response:
    if body.get("external_id", order.external_id) != order.external_id:
        raise DomainError(
            ErrorCode.INVALID, "An order's external_id cannot change.", field="external_id"
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
class OrderListView(_Orders, mixins.ListModelMixin, _Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(
            order_ingest(merchant=self.merchant, payload=_body(request), source="api")
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
class OrderDetailView(_Orders, mixins.RetrieveModelMixin, _Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        return _order_patch(self, self.get_object(), _body(request))


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
class OrderByExternalIdView(_Orders, mixins.RetrieveModelMixin, _ByExternalId):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = _with_external_id(_body(request), external_id)
        return self.respond(order_ingest(merchant=self.merchant, payload=payload, source="api"))

    def patch(self, request, external_id):
        return _order_patch(self, self.get_object(), _body(request))


# --- shipments ------------------------------------------------------------------------------


def _shipments(queryset):
    return queryset.select_related("order").prefetch_related(
        Prefetch("lines", queryset=ShipmentLine.unscoped.select_related("order_line"))
    )


class _Shipments:
    model = Shipment
    serializer_class = out.ShipmentSerializer
    filterset_class = ShipmentFilter

    def filter_scoped(self, queryset):
        return _shipments(queryset)


def _shipment_patch(view: _Resource, shipment: Shipment, body: dict) -> Response:
    if body.get("external_id", shipment.external_id) != shipment.external_id:
        raise DomainError(
            ErrorCode.INVALID, "A shipment's external_id cannot change.", field="external_id"
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
class ShipmentListView(_Shipments, mixins.ListModelMixin, _Resource):
    def get(self, request):
        return self.list(request)

    def post(self, request):
        return self.respond(shipment_ingest(merchant=self.merchant, payload=_body(request)))


@extend_schema_view(
    get=extend_schema(tags=["Shipments"], summary="Get a shipment"),
    patch=extend_schema(
        tags=["Shipments"],
        summary="Change some of a shipment's fields",
        request=ShipmentIn,
    ),
)
class ShipmentDetailView(_Shipments, mixins.RetrieveModelMixin, _Resource):
    def get(self, request, **kwargs):
        return self.retrieve(request)

    def patch(self, request, **kwargs):
        return _shipment_patch(self, self.get_object(), _body(request))


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
class ShipmentByExternalIdView(_Shipments, mixins.RetrieveModelMixin, _ByExternalId):
    def get(self, request, external_id):
        return self.retrieve(request)

    def put(self, request, external_id):
        payload = _with_external_id(_body(request), external_id)
        return self.respond(shipment_ingest(merchant=self.merchant, payload=payload))

    def patch(self, request, external_id):
        return _shipment_patch(self, self.get_object(), _body(request))


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
class TrackingEventListView(mixins.ListModelMixin, _Resource):
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
        checkpoint = parse_payload(CheckpointIn, _body(request))
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


# --- bulk -----------------------------------------------------------------------------------


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
        orders = _body(request).get("orders")
        if not isinstance(orders, list) or not orders:
            raise DomainError(
                ErrorCode.INVALID, "orders must be a non-empty list of orders.", field="orders"
            )
        if not all(isinstance(order, dict) for order in orders):
            raise DomainError(
                ErrorCode.INVALID, "Each of orders must be a JSON object.", field="orders"
            )
        if len(orders) > BULK_MAX:
            raise DomainError(
                "too_large",
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
