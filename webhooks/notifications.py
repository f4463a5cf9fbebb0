"""Telling a merchant about its webhook endpoints: the email sent when one is disabled."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from postpurchase.tenancy.models import Membership
from postpurchase.tenancy.permissions import Role
from webhooks.models import WebhookEndpoint

logger = logging.getLogger(__name__)


def endpoint_disabled_notify(*, endpoint_id: int) -> None:
    """Email the merchant's owners and admins that an endpoint was disabled."""
    endpoint = WebhookEndpoint.unscoped.select_related("merchant").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    recipients = sorted(
        Membership.objects.filter(
            merchant_id=endpoint.merchant_id,
            role__in=[Role.OWNER, Role.ADMIN],
            user__is_active=True,
        ).values_list("user__email", flat=True)
    )
    if not recipients:
        return
    page = settings.SITE_URL.rstrip("/") + reverse(
        "dashboard:settings_webhook_detail", kwargs={"pk": endpoint.pk}
    )
    message = (
        f"We stopped sending webhooks to {endpoint.url} for {endpoint.merchant.name}.\n\n"
        f"Why: {endpoint.disabled_reason}\n\n"
        "Events that happen while it is disabled are not sent to it. Once the endpoint "
        f"answers again, enable it here:\n{page}\n"
    )
    try:
        send_mail(
            f"Webhook endpoint disabled: {endpoint.url}",
            message,
            None,
            recipients,
        )
    except Exception:
        logger.exception("Could not email the disabling of webhook endpoint %s", endpoint_id)
