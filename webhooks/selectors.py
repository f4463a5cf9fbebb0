"""Reads for outbound webhooks, always through the scoped managers (the current merchant's)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

DELIVERY_LOG_LENGTH = 50


def webhook_endpoints() -> QuerySet[WebhookEndpoint]:
    """The current merchant's endpoints with the number of deliveries still to be sent."""
    return WebhookEndpoint.objects.annotate(
        pending_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING))
    ).order_by("-created_at", "-id")


def webhook_endpoint_get(*, endpoint_id: int) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id).first()


def webhook_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first, with their attempts."""
    return (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")
    )
