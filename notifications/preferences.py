"""What a shopper has said about being contacted: marketing consent per channel (on the
customer), topics switched off (``ContactPreference``), and SMS opt-outs by reply (a
suppression of the number). Each change is stamped with when and where it came from."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from notifications.errors import NotificationsErrorCode
from notifications.models import (
    Channel,
    ContactPreference,
    Kind,
    Suppression,
    SuppressionReason,
)
from orders.models import Customer
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant

# The kinds of marketing message a shopper can switch off one by one. Order confirmations and
# status updates are transactional: consent does not apply to them.
TOPICS = (Kind.ONBOARDING, Kind.FEEDBACK, Kind.RELATIONSHIP, Kind.RE_ENGAGEMENT)
SMS_STOP_SOURCE = "sms_stop"


def _consent_set(customer: Customer, channel: str, given: bool, source: str, now: datetime):
    setattr(customer, f"{channel}_marketing_consent", given)
    setattr(customer, f"{channel}_consent_updated_at", now)
    setattr(customer, f"{channel}_consent_source", source[:50])
    return [
        f"{channel}_marketing_consent",
        f"{channel}_consent_updated_at",
        f"{channel}_consent_source",
    ]


def _locked(merchant: Merchant, customer_id: int) -> Customer | None:
    return (
        Customer.unscoped.select_for_update(no_key=True)
        .filter(merchant=merchant, pk=customer_id)
        .first()
    )


def contact_unsubscribe(
    *,
    merchant: Merchant,
    customer_id: int,
    channel: str,
    source: str,
    now: datetime | None = None,
) -> Customer | None:
    """Withdraw the customer's marketing consent on ``channel``. Returns the customer, or
    ``None`` when it no longer exists (an unsubscribe link outliving its customer)."""
    if channel not in Channel.values:
        raise DomainError(
            NotificationsErrorCode.UNKNOWN_CHANNEL, "No such channel.", field="channel"
        )
    now = now or timezone.now()
    with transaction.atomic():
        customer = _locked(merchant, customer_id)
        if customer is None:
            return None
        if getattr(customer, f"{channel}_marketing_consent"):
            customer.save(update_fields=_consent_set(customer, channel, False, source, now))
    return customer


def muted_kinds(*, merchant: Merchant, customer_id: int) -> list[str]:
    found = (
        ContactPreference.unscoped.filter(merchant=merchant, customer_id=customer_id)
        .values_list("muted_kinds", flat=True)
        .first()
    )
    return list(found or [])


def contact_preferences_save(
    *,
    merchant: Merchant,
    customer_id: int,
    email_marketing: bool,
    sms_marketing: bool,
    muted: list[str],
    source: str = "preference_centre",
    now: datetime | None = None,
) -> Customer | None:
    """Save what the shopper chose in the preference centre: consent per channel (stamped only
    where it changed) and the topics switched off."""
    unknown = sorted(set(muted) - set(TOPICS))
    if unknown:
        raise DomainError(
            NotificationsErrorCode.UNKNOWN_TOPIC, f"Not a topic: {unknown[0]}.", field="topics"
        )
    now = now or timezone.now()
    with transaction.atomic():
        customer = _locked(merchant, customer_id)
        if customer is None:
            return None
        fields: list[str] = []
        for channel, given in ((Channel.EMAIL, email_marketing), (Channel.SMS, sms_marketing)):
            if getattr(customer, f"{channel}_marketing_consent") != given:
                fields += _consent_set(customer, channel, given, source, now)
        if fields:
            customer.save(update_fields=fields)
        ContactPreference.unscoped.update_or_create(
            merchant=merchant,
            customer=customer,
            defaults={"muted_kinds": [k for k in TOPICS if k in set(muted)], "updated_at": now},
        )
    return customer


def sms_opt_out(*, merchant: Merchant, number: str, now: datetime | None = None) -> int:
    """The number replied STOP (or another opt-out word): nothing more is texted to it, and the
    customers with that number lose their SMS marketing consent. Returns how many customers."""
    now = now or timezone.now()
    with transaction.atomic():
        Suppression.unscoped.get_or_create(
            merchant=merchant,
            channel=Channel.SMS,
            address=number,
            defaults={"reason": SuppressionReason.SMS_STOP, "created_at": now},
        )
        changed = 0
        # Only consent that was given is withdrawn (and marked as STOP's doing), so that a later
        # START gives back what STOP took and nothing the shopper never gave.
        for customer in Customer.unscoped.select_for_update(no_key=True).filter(
            merchant=merchant, phone=number, sms_marketing_consent=True
        ):
            customer.save(update_fields=_consent_set(customer, "sms", False, SMS_STOP_SOURCE, now))
            changed += 1
    return changed


def sms_opt_in(*, merchant: Merchant, number: str, now: datetime | None = None) -> int:
    """The number replied START (or YES, UNSTOP): the STOP is lifted, and consent that STOP took
    away is given back. Other suppressions (a merchant's own) stay. Returns how many customers."""
    now = now or timezone.now()
    with transaction.atomic():
        Suppression.unscoped.filter(
            merchant=merchant,
            channel=Channel.SMS,
            address=number,
            reason=SuppressionReason.SMS_STOP,
        ).delete()
        changed = 0
        for customer in Customer.unscoped.select_for_update(no_key=True).filter(
            merchant=merchant, phone=number, sms_consent_source=SMS_STOP_SOURCE
        ):
            customer.save(update_fields=_consent_set(customer, "sms", True, "sms_start", now))
            changed += 1
    return changed
