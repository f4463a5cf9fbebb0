"""How the dashboard writes money, statuses and event names; the template filters in
``templatetags/dashboard.py`` and the views both use these."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import UnknownCurrencyError, format_currency

# The dashboard is written in English, so amounts are formatted the English way in any currency.
MONEY_LOCALE = "en"

STATUS_TONES = {
    "success": {"paid", "fulfilled", "delivered", "active"},
    "info": {
        "in_transit",
        "out_for_delivery",
        "available_for_pickup",
        "partially_fulfilled",
        "authorized",
    },
    "warning": {
        "pending",
        "partially_paid",
        "partially_refunded",
        "info_received",
        "delayed",
        "failed_attempt",
        "expired",
    },
    "danger": {"exception", "returned_to_sender", "cancelled", "refunded", "voided", "revoked"},
}


def money(amount, currency: str = "") -> str:
    """``{{ order.total|money:order.currency }}`` → ``€85.00``."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    try:
        return format_currency(value, currency or "USD", locale=MONEY_LOCALE)
    except (UnknownCurrencyError, ValueError):
        return f"{value:.2f} {currency}".strip()


def status_tone(status: str) -> str:
    """The colour family of a status badge: ``success``, ``info``, ``warning``, ``danger`` or
    ``neutral``."""
    for tone, statuses in STATUS_TONES.items():
        if status in statuses:
            return tone
    return "neutral"


def event_label(event_type: str) -> str:
    """``shipment.out_for_delivery`` → ``Shipment out for delivery``."""
    return event_type.replace(".", " ").replace("_", " ").capitalize()


def initials(name: str) -> str:
    """Up to two initials for a name, for avatars: ``Alpha Apparel`` → ``AA``."""
    words = [word for word in str(name).split() if word[:1].isalnum()]
    return "".join(word[0] for word in words[:2]).upper() or "?"
