"""Journeys in the integrator API: list them, read one with what its enrollments did at each
step, and simulate one for a customer (nothing is sent or written).

The counts are ``journeys/selectors.py``'s, as the dashboard's are: one aggregate query per page
of journeys for the enrollment counts, two for a journey's per-step counts, whatever the number
of enrollments."""

from __future__ import annotations

import django_filters as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from journeys.errors import JourneysErrorCode
from journeys.models import Journey, JourneyStatus
from journeys.selectors import (
    enrollment_counts,
    journey_counts,
    journey_draft_changed,
    journey_split_results,
    journey_step_counts,
    no_enrollments,
)
from journeys.serializers import (
    JourneyDetailSerializer,
    JourneySerializer,
    JourneySimulateIn,
    SimulationSerializer,
)
from orders.models import Customer
from postpurchase.api.views import MerchantScopedGenericAPIView
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.validation import parse_payload

TAG = "Journeys"
JOURNEY_ID = OpenApiParameter(
    name="id",
    location=OpenApiParameter.PATH,
    type=int,
    description="The journey's id (another merchant's answers 404).",
)
DRAFT = OpenApiParameter(
    name="draft",
    location=OpenApiParameter.QUERY,
    type=bool,
    required=False,
    description=(
        "true: simulate the draft as if published now; false: the live version (the default). "
        "The same as the body's draft; given in both, they must agree."
    ),
)
QUERY_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


# --- views ----------------------------------------------------------------------------------


class JourneyFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=JourneyStatus.choices,
        help_text="draft (never published), live, paused or archived.",
    )
    key = filters.CharFilter(help_text="The journey's key.")

    class Meta:
        model = Journey
        fields: list[str] = []


class _Journeys(MerchantScopedGenericAPIView):
    model = Journey
    serializer_class = JourneySerializer
    filterset_class = JourneyFilter
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["id", "updated_at"]
    ordering = ["-id"]
    lookup_url_kwarg = "pk"

    def filter_scoped(self, queryset):
        return queryset.select_related("live_version")


LIST_EXAMPLE = OpenApiExample(
    "A live journey",
    value={
        "next": None,
        "previous": None,
        "results": [
            {
                "id": 12,
                "key": "order-follow-up",
                "name": "Order follow-up",
                "description": "Confirm, then ask for a review a week after delivery.",
                "status": "live",
                "live_version": {
                    "number": 3,
                    "published_at": "2026-06-01T09:00:00Z",
                    "trigger_type": "event",
                    "trigger_event": "order.placed",
                },
                "counts": {
                    "entered": 1250,
                    "active": 40,
                    "waiting": 310,
                    "completed": 820,
                    "exited": 80,
                    "failed": 0,
                    "converted": 190,
                    "holdout": 125,
                },
                "created_at": "2026-05-20T10:00:00Z",
                "updated_at": "2026-06-01T09:00:00Z",
            }
        ],
    },
    response_only=True,
)
DETAIL_EXAMPLE = OpenApiExample(
    "A live journey with its step counts",
    value={
        **LIST_EXAMPLE.value["results"][0],
        "live_version": {
            **LIST_EXAMPLE.value["results"][0]["live_version"],
            "definition": {
                "trigger": {"type": "event", "event": "order.placed", "conditions": []},
                "entry": {"per": "order", "reentry": "always", "cooldown_hours": 0},
                "exit_events": ["order.cancelled"],
                "goal": None,
                "holdout_percent": 10,
                "start": "confirm",
                "steps": [
                    {
                        "id": "confirm",
                        "type": "send",
                        "template": "order_confirmation",
                        "next": "wait",
                    },
                    {"id": "wait", "type": "delay", "days": 7, "hours": 0, "next": "ask"},
                    {"id": "ask", "type": "send", "template": "review_request", "next": ""},
                ],
            },
        },
        "step_counts": {
            "confirm": {
                "entered": 10,
                "outcomes": {"queued": 8, "suppressed:no_consent": 1, "held_out": 1},
            },
            "wait": {"entered": 10, "outcomes": {"waiting": 10}},
            "ask": {"entered": 4, "outcomes": {"queued": 3, "held_out": 1}},
        },
        "draft": {"trigger": {"event": "order.placed"}, "start": "confirm", "steps": ["…"]},
        "draft_changed": False,
    },
    response_only=True,
)


@extend_schema(
    tags=[TAG],
    summary="List journeys",
    description="Newest first, each with its live version and its enrollments counted by state.",
    examples=[LIST_EXAMPLE],
)
class JourneyListView(mixins.ListModelMixin, _Journeys):
    def get(self, request):
        journeys = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        counts = enrollment_counts(journey_ids=[journey.pk for journey in journeys])
        for journey in journeys:
            journey.enrollment_counts = counts.get(journey.pk) or no_enrollments()
        return self.get_paginated_response(self.get_serializer(journeys, many=True).data)


@extend_schema(
    tags=[TAG],
    summary="Get a journey",
    description=(
        "The journey, its live version's definition, what that version's enrollments did at "
        "each step (step_counts), and its draft."
    ),
    responses={200: JourneyDetailSerializer},
    parameters=[JOURNEY_ID],
    examples=[DETAIL_EXAMPLE],
)
class JourneyDetailView(_Journeys):
    serializer_class = JourneyDetailSerializer

    def get(self, request, pk):
        journey = self.get_object()
        journey.enrollment_counts = journey_counts(journey=journey)
        journey.step_counts = journey_step_counts(journey=journey)
        journey.split_results = journey_split_results(journey=journey)
        journey.draft_changed = journey_draft_changed(journey=journey)
        return Response(self.get_serializer(journey).data)


SIMULATE_REQUEST = OpenApiExample(
    "An order, then its delivery",
    value={
        "customer_external_id": "cust-77",
        "events": [
            {
                "type": "order.placed",
                "at": "2026-11-20T14:05:00Z",
                "payload": {
                    "order_id": 311,
                    "external_id": "ord-311",
                    "number": "#4812",
                    "currency": "EUR",
                    "total": "84.99",
                    "placed_at": "2026-11-20T14:05:00+00:00",
                    "line_count": 1,
                    "skus": ["TS-1"],
                    "categories": ["footwear"],
                    "first_order": True,
                },
            },
            {
                "type": "shipment.delivered",
                "at": "2026-11-23T11:30:00Z",
                "payload": {
                    "shipment_id": 512,
                    "external_id": "ful-311",
                    "order_id": 311,
                    "order_external_id": "ord-311",
                    "order_number": "#4812",
                    "carrier": "UPS",
                    "tracking_number": "1Z311",
                    "tracking_url": "",
                    "status": "delivered",
                    "estimated_delivery": None,
                    "status_at": "2026-11-23T11:30:00+00:00",
                },
            },
        ],
    },
    request_only=True,
)


def _simulated(at: str, step_id: str, step_type: str, outcome: str, detail: str = "", sent=None):
    message = None
    if sent is not None:
        message = {
            "template": sent,
            "channel": "email",
            "status": "queued",
            "reason": "",
            "deferred_until": None,
        }
    return {
        "at": at,
        "step_id": step_id,
        "step_type": step_type,
        "outcome": outcome,
        "detail": detail,
        "message": message,
    }


PLACED, A_WEEK_ON = "2026-11-20T14:05:00+00:00", "2026-11-27T14:05:00+00:00"
SIMULATE_RESPONSE = OpenApiExample(
    "What would happen",
    value={
        "entered": True,
        "reason": "",
        "timeline": [
            _simulated(PLACED, "", "entry", "entered", "order.placed #4812"),
            _simulated(
                PLACED, "confirm", "send", "queued", "order_confirmation", sent="order_confirmation"
            ),
            _simulated(PLACED, "wait", "delay", "waiting", f"until {A_WEEK_ON}"),
            _simulated(A_WEEK_ON, "ask", "send", "queued", "review_request", sent="review_request"),
            _simulated(A_WEEK_ON, "", "end", "completed"),
        ],
        "end": {"state": "completed", "reason": "", "at": A_WEEK_ON},
    },
    response_only=True,
)


@extend_schema_view(
    post=extend_schema(
        tags=[TAG],
        summary="Simulate a journey for a customer",
        description=(
            "Runs the journey for one of your customers against the events you give, on a "
            "simulated clock (months of waits in an instant), and answers with each step it "
            "would take and each message it would send, checked against the customer's "
            "consent, suppression, caps and quiet hours. Nothing is sent and nothing is "
            "written. The live version, or with draft=true (in the query or the body) the draft "
            "as if published now "
            "(409 when there is no live version to simulate). Name the customer by "
            "customer_id or customer_external_id; another merchant's customer answers 404."
        ),
        request=JourneySimulateIn,
        responses={200: SimulationSerializer},
        parameters=[JOURNEY_ID, DRAFT],
        examples=[SIMULATE_REQUEST, SIMULATE_RESPONSE],
    )
)
class JourneySimulateView(_Journeys):
    def post(self, request, pk):
        journey = self.get_object()  # another merchant's, or none: 404 before the body is read
        queried = _draft_queried(request.query_params.getlist("draft"))
        if not isinstance(request.data, dict):
            raise DomainError(JourneysErrorCode.INVALID, "The request body must be a JSON object.")
        data = parse_payload(JourneySimulateIn, request.data)
        if queried is not None and "draft" in request.data and data.draft != queried:
            message = "The query's draft and the body's disagree; give one."
            raise DomainError(JourneysErrorCode.DRAFT_MISMATCH, message, field="draft")
        customer = _customer(data)
        from journeys.simulation import journey_simulate  # lands separately; loaded on demand

        result = journey_simulate(
            journey=journey,
            customer=customer,
            events=[
                {"type": event.type, "at": event.at.isoformat(), "payload": event.payload}
                for event in data.events
            ],
            start=data.start,
            draft=data.draft if queried is None else queried,
        )
        return Response(result)


def _draft_queried(values: list[str]) -> bool | None:
    """``?draft=true`` / ``false`` (or 1 / 0); None when not given; anything else is a 400
    naming the parameter."""
    if not values:
        return None
    if len(values) > 1 or values[0].strip().lower() not in QUERY_BOOLEANS:
        message = "The query parameter draft is true or false (once)."
        raise DomainError(JourneysErrorCode.INVALID, message, field="draft")
    return QUERY_BOOLEANS[values[0].strip().lower()]


def _customer(data: JourneySimulateIn) -> Customer:
    """The merchant's own customer the body names, or a 404 naming the field."""
    if data.customer_id is not None:
        field, value = "customer_id", data.customer_id
        customer = Customer.objects.filter(pk=value).first()
    else:
        field, value = "customer_external_id", data.customer_external_id
        customer = Customer.objects.filter(external_id=value).first()
    if customer is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No customer has {field} {value!r}.", field=field)
    return customer
