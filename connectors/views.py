"""The inbound webhook endpoints. Plain Django views: the sender signs the raw body, so nothing
may parse or reshape it before the signature is checked, and the answer is a small JSON body."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors import services
from postpurchase.api.exceptions import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from postpurchase.errors import DomainError

STATUS_FOR_CODE = {
    services.ConnectorErrorCode.SIGNATURE_INVALID: 401,
    # Signed with the connection's secret, but from another store than the connection's.
    services.ConnectorErrorCode.SHOP_MISMATCH: 403,
}
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden"}


def _problem(error: DomainError) -> JsonResponse:
    status = STATUS_FOR_CODE.get(error.code, 400)
    body = {
        "type": PROBLEM_BASE + error.code,
        "title": TITLES[status],
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
