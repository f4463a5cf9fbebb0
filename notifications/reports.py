"""What providers tell us after a send: delivery reports (anymail's normalized tracking events,
Twilio's status callbacks) and replies (STOP, START, HELP by SMS; an unsubscribe by email).

A report moves a message forward (sent → delivered → opened → clicked) but never back, and is
recorded once (the provider's event id is unique per message). A hard bounce or a complaint
suppresses the address for the merchant; so does a Twilio report that the number opted out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from notifications.links import UNSUBSCRIBE_SALT, token_read
from notifications.models import (
    Channel,
    ChannelSettings,
    InboundSms,
    Message,
    MessageEvent,
    MessageStatus,
    Suppression,
    SuppressionReason,
)
from notifications.preferences import contact_unsubscribe, sms_opt_in, sms_opt_out
from orders.models import Customer
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import current_merchant_or_none

logger = logging.getLogger(__name__)

S = MessageStatus
PROGRESS = (S.SENDING, S.SENT, S.DELIVERED, S.OPENED, S.CLICKED)
# Which statuses a report may move a message from.
MAY_FOLLOW = {
    S.SENT: {S.SENDING},
    S.DELIVERED: {S.SENDING, S.SENT},
    S.OPENED: {S.SENDING, S.SENT, S.DELIVERED},
    S.CLICKED: {S.SENDING, S.SENT, S.DELIVERED, S.OPENED},
    S.BOUNCED: {S.SENDING, S.SENT, S.DELIVERED},
    S.FAILED: {S.SENDING, S.SENT},
    S.COMPLAINED: {S.SENDING, S.SENT, S.DELIVERED, S.OPENED, S.CLICKED, S.BOUNCED},
}
SUPPRESSES = {S.BOUNCED: SuppressionReason.BOUNCE, S.COMPLAINED: SuppressionReason.COMPLAINT}


@dataclass(frozen=True)
class Report:
    """A provider's report about one message, in our words."""

    status: str | None  # None: kept in the timeline, the status unchanged (a deferral, a reply)
    note: str  # what the provider said ("deferred", "autoresponded", its description)
    event_id: str
    occurred_at: datetime
    suppress: str = ""  # a SuppressionReason beyond the status's own


def report_record(*, message: Message, report: Report) -> bool:
    """Apply ``report`` to ``message``: a timeline entry, the status moved forward when it
    may, the address suppressed after a hard bounce or a complaint. False when this report was
    already recorded."""
    with transaction.atomic():
        message = Message.unscoped.select_for_update().get(pk=message.pk)
        status = report.status if report.status in MAY_FOLLOW else None
        # A send that timed out may have gone after all: its report ends the retry.
        retrying = message.status == S.DEFERRED and message.reason == "retry"
        moves = status is not None and (message.status in MAY_FOLLOW[status] or retrying)
        try:
            with transaction.atomic():
                MessageEvent.unscoped.create(
                    merchant_id=message.merchant_id,
                    message=message,
                    # The provider's status, even when it may not move the message's
                    # (an open reported after a click): the timeline shows what was reported.
                    status=status or message.status,
                    reason="" if moves else "status_kept",
                    detail=report.note[:1000],
                    occurred_at=report.occurred_at,
                    provider_event_id=report.event_id[:200],
                )
        except IntegrityError:
            return False  # the provider sent this report before
        if moves:
            if retrying:
                message.reason, message.detail, message.deferred_until = "", "", None
            message.status = status
            message.next_attempt_at = None
            message.claim = ""
            if status in (S.BOUNCED, S.FAILED, S.COMPLAINED):
                message.reason, message.detail = str(status), report.note[:1000]
            message.updated_at = timezone.now()
            message.save()
        reason = report.suppress or SUPPRESSES.get(report.status, "")
        if reason and message.to:
            Suppression.unscoped.get_or_create(
                merchant_id=message.merchant_id,
                channel=message.channel,
                address=message.to,
                defaults={"reason": reason, "detail": report.note[:1000]},
            )
    return True


# --- email (anymail) --------------------------------------------------------------------------

ANYMAIL_STATUS = {
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "opened": S.OPENED,
    "clicked": S.CLICKED,
    "bounced": S.BOUNCED,
    "complained": S.COMPLAINED,
    "rejected": S.FAILED,
    "failed": S.FAILED,
}
HARD_REJECTIONS = {"invalid", "bounced"}


def _reportable() -> Any:
    """The messages a report may be about. On a merchant's own report URL (its own ESP, its
    own secret, the merchant in scope): that merchant's. On the platform's: those of merchants
    sending through the platform's provider, so no merchant's secret reaches another's."""
    merchant = current_merchant_or_none()
    emails = Message.unscoped.filter(channel=Channel.EMAIL)
    if merchant is not None:
        return emails.filter(merchant=merchant)
    own = ChannelSettings.unscoped.exclude(email_provider="").values("merchant_id")
    return emails.exclude(merchant_id__in=own)


def email_message_find(event) -> Message | None:
    """The message an anymail event is about: by the id we put in its metadata, else by the
    provider's message id."""
    reportable = _reportable()
    ours = (getattr(event, "metadata", None) or {}).get("message_id")
    if isinstance(ours, str | int) and str(ours).isdigit():
        found = reportable.filter(pk=int(ours)).first()
        if found is not None:
            return found
    if event.message_id:
        return reportable.filter(provider_message_id=str(event.message_id)).order_by("-pk").first()
    return None


def email_tracking_record(*, event, esp_name: str) -> bool:
    """Record one anymail tracking event. Unknown messages are logged and dropped (not an
    error: the provider would retry it forever)."""
    message = email_message_find(event)
    if message is None:
        logger.info("A %s %s report for an unknown message; dropped", esp_name, event.event_type)
        return False
    if event.event_type == "unsubscribed" and message.customer_id:
        merchant = Merchant.objects.get(pk=message.merchant_id)
        contact_unsubscribe(
            merchant=merchant,
            customer_id=message.customer_id,
            channel=Channel.EMAIL,
            source=f"esp_{esp_name.lower()}"[:50],
        )
    status = ANYMAIL_STATUS.get(event.event_type)
    suppress = ""
    if event.event_type == "rejected" and event.reject_reason in HARD_REJECTIONS:
        suppress = SuppressionReason.BOUNCE
    parts = [event.event_type, event.description or "", event.mta_response or ""]
    report = Report(
        status=status,
        note=" - ".join(p for p in parts if p),
        event_id=str(event.event_id or ""),
        occurred_at=event.timestamp or timezone.now(),
        suppress=suppress,
    )
    return report_record(message=message, report=report)


UNSUBSCRIBE_SUBJECT = re.compile(r"unsubscribe\s+(\S+)", re.IGNORECASE)


def email_inbound_record(*, event) -> bool:
    """A reply to a List-Unsubscribe mailto: its subject carries the signed token."""
    message = getattr(event, "message", None)
    match = UNSUBSCRIBE_SUBJECT.search((getattr(message, "subject", "") or "").strip())
    data = token_read(match.group(1), salt=UNSUBSCRIBE_SALT) if match else None
    if data is None:
        return False
    merchant = Merchant.objects.filter(pk=data["m"], is_active=True).first()
    if merchant is None:
        return False
    customer = contact_unsubscribe(
        merchant=merchant, customer_id=data["c"], channel=data["ch"], source="unsubscribe_mailto"
    )
    return customer is not None


# --- SMS (Twilio) -----------------------------------------------------------------------------

TWILIO_STATUS = {
    "sent": S.SENT,
    "delivered": S.DELIVERED,
    "read": S.OPENED,
    "undelivered": S.FAILED,
    "failed": S.FAILED,
}
# Error codes on a failed text that say the number cannot take texts at all.
TWILIO_DEAD_NUMBER = {"30005", "30006"}
TWILIO_OPTED_OUT = {"21610"}


def sms_auth_token(message: Message) -> str:
    """The auth token Twilio signed a message's status callback with: the account it was sent
    through (the merchant's own, else the platform's)."""
    own = ChannelSettings.unscoped.filter(merchant_id=message.merchant_id).first()
    if own is not None and own.has_own_sms:
        return own.twilio_auth_token
    return settings.TWILIO_AUTH_TOKEN


def sms_status_record(*, message: Message, params: dict[str, str]) -> bool:
    status_name = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    code = params.get("ErrorCode") or ""
    suppress = ""
    if code in TWILIO_OPTED_OUT:
        suppress = SuppressionReason.SMS_STOP
    elif code in TWILIO_DEAD_NUMBER:
        suppress = SuppressionReason.BOUNCE
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    note = status_name + (f" (Twilio error {code})" if code else "")
    report = Report(
        status=TWILIO_STATUS.get(status_name),
        note=note,
        event_id=f"{sid}:{status_name}",
        occurred_at=timezone.now(),
        suppress=suppress,
    )
    return report_record(message=message, report=report)


STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword(body: str) -> str:
    """The reply's keyword, as carriers read it: the whole message, trimmed, any case."""
    word = " ".join((body or "").split()).upper().strip(".!")
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return ""


def sms_inbound_merchants(
    *, account_sid: str, to: str, service_sid: str, sender: str, signed: Callable[[str], bool]
) -> list[Merchant] | None:
    """The merchants a reply concerns, or ``None`` when no account it names signed it
    (``signed(auth_token)`` checks the request's signature). A merchant's own account: the
    merchants holding that account, sending from that number (or service); holding it means
    its SID *and* the auth token that signed the reply, since any merchant can type in a SID.
    The platform's account: the merchants without their own account that texted or know the
    sender's number."""
    rows = ChannelSettings.unscoped.filter(twilio_account_sid=account_sid or "-")
    own = [
        s
        for s in rows.select_related("merchant").order_by("pk")
        if s.has_own_sms and signed(s.twilio_auth_token)
    ]
    if own:
        matching = [
            s
            for s in own
            if (to and s.sms_from_number == to)
            or (service_sid and s.sms_messaging_service_sid == service_sid)
        ] or own
        return [s.merchant for s in matching]
    if not account_sid or account_sid != settings.TWILIO_ACCOUNT_SID:
        return None
    if not signed(settings.TWILIO_AUTH_TOKEN):
        return None
    own_ids = ChannelSettings.unscoped.exclude(twilio_account_sid="").values("merchant_id")
    texted = Message.unscoped.filter(channel=Channel.SMS, to=sender).values("merchant_id")
    known = Customer.unscoped.filter(phone=sender).values("merchant_id")
    merchants = list(
        Merchant.objects.filter(Q(pk__in=texted) | Q(pk__in=known))
        .exclude(pk__in=own_ids)
        .order_by("pk")
    )
    # The store that texted the number last comes first: HELP answers for it.
    last = dict(
        Message.unscoped.filter(channel=Channel.SMS, to=sender, merchant__in=merchants)
        .values("merchant_id")
        .annotate(last=Max("created_at"))
        .values_list("merchant_id", "last")
    )
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(merchants, key=lambda m: last.get(m.pk) or never, reverse=True)


def _reply_first_seen(merchant: Merchant, message_sid: str, word: str, now: datetime) -> bool:
    """Record the reply's ``MessageSid`` for the merchant; False when it was recorded before
    (Twilio's retry, or a captured request sent again). Call inside the transaction of what
    the reply does, so both are kept or neither."""
    try:
        with transaction.atomic():
            InboundSms.unscoped.create(
                merchant=merchant, message_sid=message_sid, keyword=word, received_at=now
            )
    except IntegrityError:
        return False
    return True


def sms_reply_record(
    *,
    merchants: list[Merchant],
    sender: str,
    body: str,
    message_sid: str,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Act on a shopper's reply: opt out, opt in, or help, once per ``MessageSid``: a reply
    already acted on (a signed START captured and replayed after a later STOP) does nothing
    and is not answered again. A reply without a SID (Twilio always sends one, and its
    signature covers it) is not acted on. Returns the keyword and the text to answer with (""
    for none: Twilio itself confirms STOP and START)."""
    now = now or timezone.now()
    word = keyword(body)
    sid = (message_sid or "").strip()
    if not sid or len(sid) > 64:
        logger.warning("An SMS reply without a usable MessageSid; not acted on")
        return word, ""
    first_for = []
    for merchant in merchants:
        with transaction.atomic():
            if not _reply_first_seen(merchant, sid, word, now):
                continue
            first_for.append(merchant)
            if word == "stop":
                sms_opt_out(merchant=merchant, number=sender, now=now)
            elif word == "start":
                sms_opt_in(merchant=merchant, number=sender, now=now)
    if word != "help" or not first_for:
        return word, ""
    return word, help_text(first_for[0])


def help_text(merchant: Merchant) -> str:
    """The merchant's own help text when the reply came to its own Twilio account; on the
    platform's shared number, a text made from its store name and support contact (so no
    merchant's free text reaches shoppers another store texted)."""
    own = ChannelSettings.unscoped.filter(merchant=merchant).first()
    if own is not None and own.has_own_sms and own.sms_help_text:
        return own.sms_help_text
    contact = merchant.support_email or merchant.support_url
    reach = f" Help: {contact}." if contact else ""
    return f"{merchant.name}: order and delivery texts.{reach} Reply STOP to opt out."
