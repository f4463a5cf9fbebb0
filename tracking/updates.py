"""Parcel updates a shopper asks for on the tracking page: this order's status messages by email
or SMS at an address they give (a gift's recipient, a phone for texts), with their consent
recorded: the words they agreed to, when, and where (``tracking_page``).

The updates are the merchant's own status templates (``shipped``, ``out_for_delivery``,
``delivered``, ``delayed`` and their ``_sms`` twins, notifications/defaults.py), sent through
``message_send`` like every message: suppression, the merchant's sending limits and quiet hours
apply, and each message has its key (subscription and event), so a re-delivered event sends once.
A merchant who deleted a template sends nothing for it.

Whoever holds the link (forwarded or not) can use the form, so what it can do is bounded:
``MAX_PER_ORDER`` live subscriptions an order and ``MAX_EVER`` in all, an address is required
(never an empty one the outbox would swap for the customer's), a number must be of the
merchant's or the delivery's country and not premium-rate or shared-cost, the customer's own
email is refused (their journeys already write there), and each post is counted by the shell's
throttle. The messages go to the subscriber as no customer: greeted "Hi there", with none of
the customer's details or consent links (the outbox adds those only to the customer's own
address); the tracking link in them is where updates are stopped.
"""

from __future__ import annotations

import logging
from datetime import datetime

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.context import message_context
from notifications.models import Channel, MessageTemplate
from notifications.outbox import message_send
from orders import events as order_events
from orders.models import Order, Shipment
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.events.models import Event
from postpurchase.shopper.views import masked_email
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import check_email, to_e164
from tracking.links import tracking_page_url
from tracking.models import TrackingSubscription, UpdateChannel

logger = logging.getLogger(__name__)

SOURCE = "tracking_page"
MAX_PER_ORDER = 3  # live at once
MAX_EVER = 6  # ever, stopped ones included: swapping numbers in and out is bounded too
# The words beside the page's checkbox; what each subscription records is exactly what was shown.
CONSENT_AGREE = "Send me this order’s updates at the number or address above."
SMS_TERMS = "Texts: message and data rates may apply. Reply STOP to stop them."
CONSENT_TEXT = {
    UpdateChannel.EMAIL: CONSENT_AGREE,
    UpdateChannel.SMS: f"{CONSENT_AGREE} {SMS_TERMS}",
}
# event → the status template it sends (the SMS one is "<key>_sms")
TEMPLATES = {
    order_events.SHIPMENT_IN_TRANSIT: "shipped",
    order_events.SHIPMENT_OUT_FOR_DELIVERY: "out_for_delivery",
    order_events.SHIPMENT_DELIVERED: "delivered",
    order_events.SHIPMENT_DELAYED: "delayed",
    order_events.SHIPMENT_EXCEPTION: "delayed",
}
CONSUMER = "tracking.updates"
# The ``customer`` a subscriber's message is rendered with: the templates' variables, none of
# them the customer's ("Hi there,").
RECIPIENT = {
    "first_name": "there",
    "last_name": "",
    "email": "",
    "phone": "",
    "locale": "",
    "timezone": "",
    "orders_count": 0,
    "total_spent": "",
    "tags": [],
}


# Numbers an opt-in may not text: paid by the sender or the receiver at premium rates, or not
# a person's line (SMS pumping's favourites).
REFUSED_NUMBER_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
        phonenumbers.PhoneNumberType.VOICEMAIL,
        phonenumbers.PhoneNumberType.PAGER,
    }
)


def _refuse(channel: str, message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, field=channel)


def address_clean(*, channel: str, address: str, merchant: Merchant, order: Order) -> str:
    """The address as stored: a lower-cased email, or an E.164 number of the merchant's country
    or the order's destination (not a premium or shared-cost one); ``DomainError`` naming the
    field otherwise."""
    address = address.strip()
    if channel not in UpdateChannel.values:
        raise _refuse("channel", "Choose email or text message.")
    if not address:
        words = "a mobile number" if channel == UpdateChannel.SMS else "an email address"
        raise _refuse(channel, f"Enter {words}.")
    try:
        if channel == UpdateChannel.EMAIL:
            return check_email(address).lower()
        number = to_e164(address, merchant.country or None)
    except ValueError as exc:
        raise _refuse(channel, str(exc)) from None
    parsed = phonenumbers.parse(number)
    shipping = order.shipping_address if isinstance(order.shipping_address, dict) else {}
    countries = {merchant.country.upper(), str(shipping.get("country_code") or "").upper()} - {""}
    if phonenumbers.region_code_for_number(parsed) not in countries:
        raise _refuse(channel, "Texts go to numbers of the store’s or the delivery’s country.")
    if phonenumbers.number_type(parsed) in REFUSED_NUMBER_TYPES:
        raise _refuse(channel, "This number cannot receive texts from us.")
    return number


def subscription_create(
    *, merchant: Merchant, order: Order, channel: str, address: str, now: datetime | None = None
) -> TrackingSubscription:
    """Record that the shopper wants this order's updates at ``address`` (again: it is on
    once more, with the new consent time)."""
    now = now or timezone.now()
    address = address_clean(channel=channel, address=address, merchant=merchant, order=order)
    customer = order.customer
    if (
        channel == UpdateChannel.EMAIL
        and customer is not None
        and customer.email.lower() == address
    ):
        raise DomainError(
            ErrorCode.INVALID,
            "This order’s updates already go to that address.",
            field=channel,
        )
    with transaction.atomic():
        Order.objects.select_for_update().filter(pk=order.pk).first()  # one writer per order
        live = TrackingSubscription.objects.filter(order=order, stopped_at__isnull=True)
        found = TrackingSubscription.objects.filter(
            order=order, channel=channel, address=address
        ).first()
        if found is None and TrackingSubscription.objects.filter(order=order).count() >= MAX_EVER:
            raise DomainError(
                ErrorCode.INVALID,
                f"An order can be sent to {MAX_EVER} addresses at most, stopped ones included.",
                field=channel,
            )
        if (found is None or found.stopped_at is not None) and live.count() >= MAX_PER_ORDER:
            raise DomainError(
                ErrorCode.INVALID,
                f"An order can send its updates to {MAX_PER_ORDER} addresses at most.",
                field=channel,
            )
        values = {
            "consent_text": CONSENT_TEXT[channel],
            "source": SOURCE,
            "consented_at": now,
            "stopped_at": None,
        }
        if found is not None:
            for name, value in values.items():
                setattr(found, name, value)
            found.save(update_fields=list(values))
            return found
        try:
            with transaction.atomic():
                return TrackingSubscription.objects.create(
                    merchant=merchant, order=order, channel=channel, address=address, **values
                )
        except IntegrityError:  # made meanwhile by the same shopper's other tab
            return TrackingSubscription.objects.get(order=order, channel=channel, address=address)


def subscription_stop(*, order: Order, subscription_id: int, now: datetime | None = None) -> bool:
    """Stop one of this order's subscriptions; ``False`` when it is not this order's."""
    stopped = TrackingSubscription.objects.filter(
        order=order, pk=subscription_id, stopped_at__isnull=True
    ).update(stopped_at=now or timezone.now())
    return stopped == 1


def masked_address(subscription: TrackingSubscription) -> str:
    """Enough to recognise on a forwarded page, too little to learn: ``a•••@x.net``, ``•••4567``."""
    if subscription.channel == UpdateChannel.SMS:
        return "•••" + subscription.address[-4:]
    return masked_email(subscription.address)


def updates_handle_event(event: Event) -> None:
    """Consumer of the shipment events (``tracking.updates``): each live subscription of the
    event's order gets the status message for it."""
    key = TEMPLATES.get(event.type)
    order_id = event.payload.get("order_id") if isinstance(event.payload, dict) else None
    shipment_id = event.payload.get("shipment_id") if isinstance(event.payload, dict) else None
    if key is None or event.is_history or type(order_id) is not int:
        return
    subscriptions = list(
        TrackingSubscription.objects.filter(order_id=order_id, stopped_at__isnull=True)
    )
    if not subscriptions:
        return
    merchant = Merchant.objects.get(pk=event.merchant_id)
    order = Order.objects.select_related("customer").filter(pk=order_id).first()
    shipment = Shipment.objects.filter(pk=shipment_id, order_id=order_id).first()
    if order is None:
        return
    keys = {UpdateChannel.EMAIL: key, UpdateChannel.SMS: f"{key}_sms"}
    templates = {
        template.key: template
        for template in MessageTemplate.objects.filter(key__in=list(keys.values()))
    }
    link = tracking_page_url(
        merchant=merchant, order_id=order.pk, shipment_id=shipment.pk if shipment else None
    )
    context = message_context(
        merchant=merchant, order=order, shipment=shipment, links={"tracking_url": link}
    )
    # Someone who holds the link, not necessarily the customer: greeted without a name, and
    # nothing of the customer's (their email, phone, consent links) goes to them.
    context["customer"] = RECIPIENT
    for subscription in subscriptions:
        template = templates.get(keys[subscription.channel])
        channel = Channel.EMAIL if subscription.channel == UpdateChannel.EMAIL else Channel.SMS
        if template is None or template.channel != channel or not subscription.address:
            continue
        try:
            message_send(
                merchant=merchant,
                template=template,
                customer=None,
                context=context,
                idempotency_key=f"tracking-update:{subscription.pk}:{event.pk}",
                to=subscription.address,
            )
        except DomainError as exc:  # an address the outbox refuses: logged, the others go on
            logger.warning(
                "tracking update not sent",
                extra={"subscription": subscription.pk, "event": event.pk, "code": exc.code},
            )
