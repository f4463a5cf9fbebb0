"""The signed links in messages: unsubscribe (one click, RFC 8058) and the preference centre,
on the shopper shell's tokens (``postpurchase.shopper.tokens``).

Each token names the merchant and the customer (and, to unsubscribe, the channel). They never
expire: a shopper may unsubscribe from an email months old. The salts are the ones these links
were always signed with, so links in messages already delivered keep working. The unsubscribe
link only ever lowers what is sent; the preference centre can also switch consent back on, so
whoever holds a forwarded link can too (as with every store's emailed preference link); each
change is stamped with its source and time on the customer.
"""

from __future__ import annotations

from typing import Any

from notifications.models import Channel
from postpurchase.shopper.tokens import LinkPurpose, link_read, link_token, link_url

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
PREFERENCES_SALT = "notifications.preferences"
UNSUBSCRIBE = LinkPurpose(UNSUBSCRIBE_SALT, fields={"c": int, "ch": str})
PREFERENCES = LinkPurpose(PREFERENCES_SALT, fields={"c": int})
PURPOSES = {UNSUBSCRIBE_SALT: UNSUBSCRIBE, PREFERENCES_SALT: PREFERENCES}


def unsubscribe_token(*, merchant_id: int, customer_id: int, channel: str) -> str:
    return link_token(purpose=UNSUBSCRIBE, merchant_id=merchant_id, c=customer_id, ch=channel)


def preferences_token(*, merchant_id: int, customer_id: int) -> str:
    return link_token(purpose=PREFERENCES, merchant_id=merchant_id, c=customer_id)


def token_read(token: str, *, salt: str, merchant_id: int | None = None) -> dict[str, Any] | None:
    """The token's content (``m``, ``c`` and, to unsubscribe, ``ch``), or ``None`` when it was
    not made by us for this purpose (and, given ``merchant_id``, this merchant)."""
    data = link_read(token, purpose=PURPOSES[salt], merchant_id=merchant_id)
    if data is not None and salt == UNSUBSCRIBE_SALT and data["ch"] not in Channel.values:
        return None
    return data


def unsubscribe_url(*, merchant, customer_id: int, channel: str) -> str:
    token = unsubscribe_token(merchant_id=merchant.pk, customer_id=customer_id, channel=channel)
    return link_url(merchant=merchant, view_name="shopper_notifications:unsubscribe", token=token)


def preferences_url(*, merchant, customer_id: int) -> str:
    token = preferences_token(merchant_id=merchant.pk, customer_id=customer_id)
    return link_url(merchant=merchant, view_name="shopper_notifications:preferences", token=token)


def shopper_links(*, merchant, customer_id: int, channel: str) -> dict[str, str]:
    """The two links every message to a known customer can use."""
    return {
        "preferences_url": preferences_url(merchant=merchant, customer_id=customer_id),
        "unsubscribe_url": unsubscribe_url(
            merchant=merchant, customer_id=customer_id, channel=channel
        ),
    }
