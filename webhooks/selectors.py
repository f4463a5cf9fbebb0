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


def webhook_deliveries_of(
    *, endpoint_id: int, deliveries: QuerySet[WebhookDelivery] | None = None
) -> QuerySet[WebhookDelivery]:
    """The current merchant's deliveries (or the given scoped ``deliveries``) to the endpoint
    ``endpoint_id``, with their attempts (a second query for any number of deliveries). In no
    particular order: the API's cursor pagination orders them itself."""
    deliveries = WebhookDelivery.objects.all() if deliveries is None else deliveries
    return deliveries.filter(endpoint_id=endpoint_id).prefetch_related("attempt_log")


def webhook_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first, with their attempts."""
    return webhook_deliveries_of(endpoint_id=endpoint.pk).order_by("-created_at", "-id")
