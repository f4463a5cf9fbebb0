"""Reads of the connectors app."""

from __future__ import annotations

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from connectors.models import InboundConfig, InboundDelivery, PrivacyRequest
from postpurchase.tenancy.models import Merchant

RECENT = 50


def inbound_config_get(*, merchant: Merchant) -> InboundConfig | None:
    return InboundConfig.objects.filter(merchant=merchant).first()


def inbound_deliveries_recent(*, merchant: Merchant, limit: int = RECENT) -> QuerySet:
    return InboundDelivery.objects.filter(merchant=merchant).defer("body")[:limit]


def privacy_requests_recent(*, merchant: Merchant, limit: int = RECENT) -> QuerySet:
    has_export = ExpressionWrapper(Q(export__isnull=False), output_field=BooleanField())
    return (
        PrivacyRequest.objects.filter(merchant=merchant)
        .defer("export")
        .annotate(has_export=has_export)[:limit]
    )


def privacy_request_get(*, merchant: Merchant, privacy_request_id: int) -> PrivacyRequest | None:
    return PrivacyRequest.objects.filter(merchant=merchant, pk=privacy_request_id).first()
