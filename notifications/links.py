"""Signed links a shopper follows from a message: unsubscribe (one click, RFC 8058) and the
preference centre. No login: the link is the shopper's proof. Each token names the merchant
and the customer (and, to unsubscribe, the channel), signed with ``SECRET_KEY`` and a salt of
its own, so a token made for one purpose is refused by the other. They do not expire: a
shopper may unsubscribe from an email months old. The unsubscribe link only ever lowers what is
sent; the preference centre can also switch consent back on, so whoever holds a forwarded link
can too (as with every store's emailed preference link); each change is stamped with its source
and time on the customer.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing

from notifications.models import Channel

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
PREFERENCES_SALT = "notifications.preferences"


def unsubscribe_token(*, merchant_id: int, customer_id: int, channel: str) -> str:
    return signing.dumps({"m": merchant_id, "c": customer_id, "ch": channel}, salt=UNSUBSCRIBE_SALT)


def preferences_token(*, merchant_id: int, customer_id: int) -> str:
    return signing.dumps({"m": merchant_id, "c": customer_id}, salt=PREFERENCES_SALT)


def token_read(token: str, *, salt: str) -> dict[str, Any] | None:
    """The token's content, or ``None`` when it was not made by us for this purpose."""
    try:
        data = signing.loads(token, salt=salt)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("m"), int):
        return None
    if not isinstance(data.get("c"), int):
        return None
    if salt == UNSUBSCRIBE_SALT and data.get("ch") not in Channel.values:
        return None
    return data


def _site() -> str:
    return settings.SITE_URL.rstrip("/")


def unsubscribe_url(*, merchant, customer_id: int, channel: str) -> str:
    token = unsubscribe_token(merchant_id=merchant.pk, customer_id=customer_id, channel=channel)
    return f"{_site()}/s/{merchant.slug}/unsubscribe/{token}/"


def preferences_url(*, merchant, customer_id: int) -> str:
    token = preferences_token(merchant_id=merchant.pk, customer_id=customer_id)
    return f"{_site()}/s/{merchant.slug}/preferences/{token}/"


def shopper_links(*, merchant, customer_id: int, channel: str) -> dict[str, str]:
    """The two links every message to a known customer can use."""
    return {
        "preferences_url": preferences_url(merchant=merchant, customer_id=customer_id),
        "unsubscribe_url": unsubscribe_url(
            merchant=merchant, customer_id=customer_id, channel=channel
        ),
    }
