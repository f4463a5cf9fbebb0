"""What the provider callback tests share (and test_email_reports.py and test_esp_credentials.py
borrow): the clock, our site, the numbers, accounts and tokens, a message sent and its
timeline, a customer's consent and a merchant's suppressions, a Twilio post signed with twilio's
own ``RequestValidator``, and Postmark's delivery report posted behind HTTP basic auth."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from notifications import delivery
from notifications.models import Message, MessageEvent, MessageTemplate, Suppression
from notifications.rendering import sample_context
from notifications.services import message_send, message_template_save
from orders.models import Customer

NOON = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
AT = NOON + timedelta(seconds=1)
SITE = "https://app.example"
SHOP_NUMBER = "+14155550100"
SHOPPER_NUMBER = "+14155550123"
PLATFORM_SID = "AC" + "ffeeddccbbaa99887766554433221100"
PLATFORM_TOKEN = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
PLATFORM_NUMBER = "+14155550199"
OTHER_SID = "AC" + "11112222333344445555666677778888"
OTHER_TOKEN = "99990000aaaabbbbccccddddeeeeffff"


WEBHOOK_SECRET = "user:pass"
POSTMARK_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


def sent(merchant, customer, *, channel: str, key: str = "order:1001:shipped") -> Message:
    """A message decided by ``message_send`` and handed over by ``messages_deliver``."""
    variant = (
        {"locale": "en", "sms_body": "Your order {{ order.number }} is on its way."}
        if channel == "sms"
        else {"locale": "en", "subject": "On its way", "html_body": "<p>Shipped</p>"}
    )
    key_name = f"shipped_{channel}"
    template = MessageTemplate.unscoped.filter(merchant=merchant, key=key_name).first()
    template = template or message_template_save(
        merchant=merchant,
        payload={
            "key": key_name,
            "name": f"Shipped ({channel})",
            "channel": channel,
            "category": "transactional",
            "kind": "status",
            "variants": [variant],
        },
    )
    context = {k: v for k, v in sample_context().items() if not k.endswith("_url")}
    message = message_send(
        merchant=merchant,
        template=template,
        customer=customer,
        context=context,
        idempotency_key=key,
        now=NOON,
    )
    delivery.messages_deliver(
        merchant=merchant,
        message_ids=[message.pk],
        claim=message.claim,
        now=AT,
        rng=random.Random(7),
    )
    message.refresh_from_db()
    return message


def timeline(message):
    return list(
        MessageEvent.unscoped.filter(message=message)
        .order_by("id")
        .values_list("status", "reason", "detail", "provider_event_id")
    )


def consent(customer):
    customer = Customer.unscoped.get(pk=customer.pk)
    return customer.sms_marketing_consent, customer.sms_consent_source


def suppressions(merchant):
    return list(
        Suppression.unscoped.filter(merchant=merchant)
        .order_by("channel", "address")
        .values_list("channel", "address", "reason")
    )


def twilio_post(client, url: str, params: dict[str, str], token: str, signature: str = ""):
    """POST ``params`` to ``url`` form-encoded, signed with ``token`` as Twilio signs."""
    signature = signature or RequestValidator(token).compute_signature(url, params)
    return client.post(
        url.removeprefix(SITE),
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


POSTMARK_TRACKING = "/webhooks/email/postmark/"


def basic_auth(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def postmark_post(client, path: str, payload: dict, credentials: str = WEBHOOK_SECRET):
    return client.post(
        path,
        data=json.dumps(payload),
        content_type="application/json",
        headers={"Authorization": basic_auth(credentials)},
    )


def metadata(message) -> dict[str, str]:
    return {"message_id": str(message.pk), "merchant_id": str(message.merchant_id)}


def postmark_delivery(message, **changes) -> dict:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": POSTMARK_ID,
        "Recipient": "ada@example.com",
        "Tag": "status",
        "DeliveredAt": "2026-06-02T15:00:04.9070259Z",
        "Details": "smtp;250 2.0.0 OK",
        "Metadata": metadata(message),
        **changes,
    }
