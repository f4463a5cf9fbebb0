"""The inbound webhook endpoints. Plain Django views: the sender signs the raw body, so nothing
may parse or reshape it before the signature is checked, and the answer is a small JSON body."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors import services
from postpurchase.api.exceptions import (
    PROBLEM_BASE,
    PROBLEM_CONTENT_TYPE,
    problem_status,
    problem_title,
)
from postpurchase.errors import DomainError


def _problem(error: DomainError) -> JsonResponse:
    """The refusal as problem+json, with the status and title the API gives the same code
    (``DOMAIN_STATUS``, ``PROBLEM_TITLES``): ``signature_invalid`` a 401, ``shop_mismatch``
    (signed with the connection's secret, but sent by another store) a 403, the rest a 400."""
    status = problem_status(error.code)
    body = {
        "type": PROBLEM_BASE + error.code,
        "title": problem_title(error.code),
        "status": status,
        "detail": error.message,
        "code": error.code,
    }
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def _receive(receive, request, merchant_slug: str) -> JsonResponse:
    try:
        delivery, created = receive(
            merchant_slug=merchant_slug, body=request.body, headers=request.headers
        )
    except DomainError as error:
        return _problem(error)
    return JsonResponse({"status": delivery.status if created else "duplicate"})


@csrf_exempt
@require_POST
def shopify_webhook(request, merchant_slug: str) -> JsonResponse:
    return _receive(services.shopify_delivery_receive, request, merchant_slug)


@csrf_exempt
@require_POST
def tracking_webhook(request, merchant_slug: str) -> JsonResponse:
    return _receive(services.tracking_delivery_receive, request, merchant_slug)


@csrf_exempt
@require_POST
def tracking_feed_webhook(request, merchant_slug: str, vendor: str) -> JsonResponse:
    """EasyPost's, Shippo's or AfterShip's own webhook, at the merchant's URL for that service.
    Shippo's token is read from the query string; it is never logged or stored."""

    def receive(**kwargs):
        return services.feed_delivery_receive(
            vendor=vendor, token=request.GET.get("token"), **kwargs
        )

    return _receive(receive, request, merchant_slug)
