"""One message handed to its channel, inside a hand-off run (``notifications.delivery``): the
email built with the merchant's identity and, for marketing, one-click unsubscribe headers, then
sent on the run's connection; a text sent through the run's twilio client with its status
callback."""

from __future__ import annotations

import logging
from urllib.parse import quote

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.urls import reverse

from notifications import channels, sender
from notifications.channels import SendOutcome
from notifications.links import unsubscribe_token, unsubscribe_url
from notifications.models import Category, Channel, Message
from postpurchase.tenancy.models import Merchant

logger = logging.getLogger(__name__)


def send_one(merchant, message, channel_settings, connections) -> SendOutcome:
    """One send through the run's ``connections``; an error of ours or a library's that the
    channel did not classify fails this message alone (recorded with its type), never the
    run."""
    try:
        if message.channel == Channel.EMAIL:
            return _email_send(merchant, message, connections, channel_settings)
        return _sms_send(message, channel_settings, connections)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        logger.exception("Sending message %s failed unexpectedly", message.pk)
        detail = f"{type(exc).__name__}: {channels._detail(exc)}"[:1000]
        return SendOutcome(False, message.channel, reason="error", detail=detail)


def sender_identity(merchant: Merchant, channel_settings=None) -> tuple[str, str]:
    """From and Reply-To (``notifications.sender``): the merchant's sender address through its
    own provider or a verified domain, else the platform's address under the merchant's name;
    replies go to its support address, else its sender address."""
    own_provider = channel_settings is not None and bool(channel_settings.email_provider)
    return sender.sender_identity(merchant, own_provider=own_provider)


def unsubscribe_headers(merchant: Merchant, message: Message) -> dict[str, str]:
    """RFC 2369 and RFC 8058 headers for a marketing email: one-click https, and mailto."""
    if message.category != Category.MARKETING or not message.customer_id:
        return {}
    https = unsubscribe_url(
        merchant=merchant, customer_id=message.customer_id, channel=Channel.EMAIL
    )
    links = [f"<{https}>"]
    mailbox = settings.UNSUBSCRIBE_MAILTO or merchant.support_email or merchant.sender_email
    if mailbox:
        token = unsubscribe_token(
            merchant_id=merchant.pk, customer_id=message.customer_id, channel=Channel.EMAIL
        )
        links.append(f"<mailto:{mailbox}?subject={quote('unsubscribe ' + token)}>")
    return {
        "List-Unsubscribe": ", ".join(links),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _identity(merchant: Merchant, channel_settings) -> tuple[str, str]:
    """``sender_identity`` once per merchant instance (a run sends many with one)."""
    cached = getattr(merchant, "_sender_identity", None)
    if cached is None:
        cached = merchant._sender_identity = sender_identity(merchant, channel_settings)
    return cached


def _email_send(
    merchant: Merchant,
    message: Message,
    connections: channels.ChannelConnections,
    channel_settings,
) -> SendOutcome:
    backend = connections.email_backend(channel_settings)
    if isinstance(backend, SendOutcome):  # not configured: every email of the run fails so
        return backend
    backend, provider = backend
    from_email, reply_to = _identity(merchant, channel_settings)
    email = channels.email_build(
        subject=message.subject,
        text=message.text,
        html=message.html,
        to=message.to,
        from_email=from_email,
        reply_to=reply_to,
        headers=unsubscribe_headers(merchant, message),
        metadata={"message_id": str(message.pk), "merchant_id": str(merchant.pk)},
        tags=[message.kind] if message.kind else [],
        connection=backend,
    )
    return connections.email_send(email, provider)


def status_callback_url(message: Message) -> str:
    path = reverse("notifications_webhooks:sms_status")
    return f"{settings.SITE_URL.rstrip('/')}{path}?message={message.pk}"


def _sms_send(
    message: Message, channel_settings, connections: channels.ChannelConnections
) -> SendOutcome:
    return connections.sms_send(
        route=channels.sms_route(channel_settings),
        to=message.to,
        body=message.sms,
        status_callback=status_callback_url(message),
    )
