"""The outbox: ``message_send`` (one message) and ``message_send_batch`` (many, as the journey
engine sends them) are the only way a message goes out.

For each request: the template rendered (before any row is locked, so a slow template holds no
other send back), then, in one transaction that holds the customers' rows (in id order, so two
batches cannot deadlock): the idempotency key looked up, the decision made (address,
suppression, marketing consent and topics, the frequency cap, sending hours), and the
``Message`` written with its first ``MessageEvent``. Queued messages are claimed and handed to
the channels after commit (``notifications.delivery``). A batch reads what it needs in a few
queries whatever its size; messages of one batch to one customer count toward the cap one after
the other, as separate calls would.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import escape

from notifications import delivery, team_recipients
from notifications.context import merchant_context
from notifications.errors import NotificationsErrorCode
from notifications.layout import email_frame
from notifications.links import shopper_links
from notifications.marketing_hold import HELD, HELD_DETAIL, is_held
from notifications.models import (
    CapMode,
    Category,
    Channel,
    ContactPreference,
    Message,
    MessageStatus,
    MessageTemplate,
    SendingPolicy,
    Suppression,
)
from notifications.quiet_hours import next_opening
from notifications.rendering import RenderError
from orders.models import Customer
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.pgbulk import insert_new
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import check_email, to_e164

COUNTED = (  # what counts toward the frequency cap: everything but what never went
    MessageStatus.QUEUED,
    MessageStatus.DEFERRED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.OPENED,
    MessageStatus.CLICKED,
    MessageStatus.BOUNCED,
    MessageStatus.COMPLAINED,
)


# The longest a message can wait before it goes: a deferral (the cap, sending hours) plus
# retries. A message written earlier than this before a window cannot count in it.
MAX_DEFERRAL = timedelta(days=32)


@dataclass(frozen=True)
class SendRequest:
    """One message to send: what, to whom, with what data, under which idempotency key."""

    template: MessageTemplate
    customer: Customer | None
    context: dict[str, Any]
    idempotency_key: str
    to: str = ""


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str = ""
    deferred_until: datetime | None = None


def sending_policy(merchant: Merchant) -> SendingPolicy:
    """The merchant's sending rules (the defaults when it has set none)."""
    found = SendingPolicy.unscoped.filter(merchant=merchant).first()
    return found or SendingPolicy(merchant=merchant)


def _address(channel: str, customer: Customer | None, to: str) -> str:
    if to:
        return to
    if customer is None:
        return ""
    return customer.email.lower() if channel == Channel.EMAIL else customer.phone


@dataclass
class _Known:
    """What a batch's decisions read, loaded once for the whole batch."""

    suppressed: dict[tuple[str, str], str]
    muted: dict[int, list[str]]
    taken: dict[int, list[datetime]]  # each customer's counted marketing times, sorted
    zones: dict[int | None, ZoneInfo]


def _decide(
    *,
    template: MessageTemplate,
    customer: Customer | None,
    address: str,
    policy: SendingPolicy,
    known: _Known,
    zone: ZoneInfo,
    now: datetime,
) -> Decision:
    """Whether a message goes now, waits, or does not go: address, suppression, consent and
    topic (for marketing), the frequency cap (marketing), then sending hours."""
    if not address:
        return Decision(MessageStatus.SUPPRESSED, "no_address")
    suppressed = known.suppressed.get((template.channel, address))
    if suppressed:
        return Decision(MessageStatus.SUPPRESSED, f"suppressed_{suppressed}")
    marketing = template.category == Category.MARKETING
    if marketing:
        channel = "email" if template.channel == Channel.EMAIL else "sms"
        if customer is None or not getattr(customer, f"{channel}_marketing_consent"):
            return Decision(MessageStatus.SUPPRESSED, "no_consent")
        if template.kind in known.muted.get(customer.pk, ()):
            return Decision(MessageStatus.SUPPRESSED, "topic_off")
    capped = marketing and customer is not None and policy.marketing_cap
    taken = known.taken.get(customer.pk, []) if capped else []
    quiet = template.channel == Channel.SMS or policy.quiet_hours_for_email
    if template.category == Category.TRANSACTIONAL and policy.transactional_anytime:
        quiet = False
    window = timedelta(hours=policy.cap_window_hours)
    skip = policy.cap_mode == CapMode.SKIP
    if capped and skip and not _fits(now, taken, window, policy.marketing_cap):
        return Decision(MessageStatus.SUPPRESSED, "frequency_cap")
    due, reason = now, ""
    # The earliest moment both the cap and the sending hours allow: the cap can only open when
    # a counted message leaves a window, the hours only at their start.
    openings = sorted({t + window for t in taken if t + window > now})
    for _ in range(2 * len(openings) + 4):
        if capped and not _fits(due, taken, window, policy.marketing_cap):
            later = [t for t in openings if t > due]
            if not later:  # pragma: no cover - the last opening always fits
                break
            due, reason = later[0], "frequency_cap"
            continue
        opening = next_opening(due, zone, policy.send_from, policy.send_until)
        if not quiet or opening is None:
            break
        due, reason = opening, reason or "quiet_hours"
    if due > now:
        return Decision(MessageStatus.DEFERRED, reason, due)
    return Decision(MessageStatus.QUEUED)


def _marketing_times(
    merchant: Merchant, customer_ids: set[int], policy: SendingPolicy, now: datetime
) -> dict[int, list[datetime]]:
    """When each customer's counted marketing messages go: when one went (its first attempt),
    else when it waits to go (a deferral's end), else when it was written (queued)."""
    if not customer_ids or not policy.marketing_cap:
        return {}
    since = now - timedelta(hours=policy.cap_window_hours)
    rows = (
        Message.unscoped.filter(
            merchant=merchant,
            customer_id__in=customer_ids,
            category=Category.MARKETING,
            status__in=COUNTED,
            # a message counts from its creation at the earliest: older ones cannot count
            created_at__gt=since - MAX_DEFERRAL,
        )
        .annotate(counted_at=Coalesce("first_attempt_at", "deferred_until", "created_at"))
        .filter(counted_at__gt=since)
        .values_list("customer_id", "counted_at")
    )
    taken: dict[int, list[datetime]] = {}
    for customer_id, when in rows:
        taken.setdefault(customer_id, []).append(when)
    return {customer_id: sorted(times) for customer_id, times in taken.items()}


def _fits(at: datetime, taken: list[datetime], window: timedelta, cap: int) -> bool:
    """Whether one more message at ``at`` keeps every window of that length at ``cap`` or
    fewer: fewer than ``cap`` others within a window's length either side of it."""
    return sum(1 for t in taken if at - window < t < at + window) < cap


def shopper_zone(customer: Customer | None, merchant: Merchant) -> ZoneInfo:
    """The shopper's time zone, else the merchant's."""
    for name in (customer.timezone if customer is not None else "", merchant.timezone):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def message_send(
    *,
    merchant: Merchant,
    template: MessageTemplate,
    customer: Customer | None,
    context: dict[str, Any],
    idempotency_key: str,
    to: str = "",
    now: datetime | None = None,
) -> Message:
    """Send one message (see ``message_send_batch``). A second call with the same
    ``idempotency_key`` returns the first message and writes nothing."""
    request = SendRequest(template, customer, context, idempotency_key, to)
    return message_send_batch(merchant=merchant, requests=[request], now=now)[0]


def _check(merchant: Merchant, request: SendRequest) -> str:
    """The request's explicit recipient, cleaned; raises on a bad key, template or address."""
    key = request.idempotency_key
    if not key or not isinstance(key, str) or len(key) > 300:
        message = "An idempotency key of 1 to 300 characters is required."
        raise DomainError(NotificationsErrorCode.INVALID, message, field="idempotency_key")
    if request.template.merchant_id != merchant.pk:
        raise DomainError(ErrorCode.NOT_FOUND, "No such template.", field="template")
    return _clean_to(request.template.channel, request.to, merchant.country)


def message_send_batch(
    *, merchant: Merchant, requests: list[SendRequest], now: datetime | None = None
) -> list[Message]:
    """Decide, render and write each request's message, in one transaction; returns the
    messages in the requests' order (an earlier message where a key was seen before, in this
    batch or any earlier call)."""
    addresses = [_check(merchant, request) for request in requests]
    now = now or timezone.now()
    policy = sending_policy(merchant)
    rendered = render_batch(merchant, requests)
    with transaction.atomic():
        customers = _lock_customers(merchant, requests)
        keys = {request.idempotency_key for request in requests}
        found = {
            m.idempotency_key: m
            for m in Message.unscoped.filter(merchant=merchant, idempotency_key__in=keys)
        }
        for i, request in enumerate(requests):
            customer = customers.get(request.customer.pk) if request.customer else None
            addresses[i] = _address(request.template.channel, customer, addresses[i])
        known = _load_known(merchant, requests, customers, addresses, policy, now)
        claim, fresh = delivery.new_claim(), []
        for request, address, content in zip(requests, addresses, rendered, strict=True):
            if request.idempotency_key in found:
                continue
            customer = customers.get(request.customer.pk) if request.customer else None
            message = _message(merchant, request, customer, address, content, policy, known, now)
            if message.status == MessageStatus.QUEUED:
                message.claim, message.next_attempt_at = claim, now + delivery.LEASE
            found[request.idempotency_key] = message
            fresh.append(message)
        fresh = _insert(merchant, fresh, found)
        _written(merchant, fresh, claim, now)
    return [found[request.idempotency_key] for request in requests]


def _lock_customers(merchant: Merchant, requests: list[SendRequest]) -> dict[int, Customer]:
    """The requests' customers, locked in id order: sends for one customer are serialised, so
    two at once cannot both slip under the cap."""
    ids = sorted({request.customer.pk for request in requests if request.customer is not None})
    if not ids:
        return {}
    locked = {
        customer.pk: customer
        for customer in Customer.unscoped.select_for_update(no_key=True)
        .filter(merchant=merchant, pk__in=ids)
        .order_by("pk")
    }
    if len(locked) != len(ids):
        raise DomainError(ErrorCode.NOT_FOUND, "No such customer.", field="customer")
    return locked


def _load_known(
    merchant: Merchant,
    requests: list[SendRequest],
    customers: dict[int, Customer],
    addresses: list[str],
    policy: SendingPolicy,
    now: datetime,
) -> _Known:
    wanted = {(r.template.channel, a) for r, a in zip(requests, addresses, strict=True) if a}
    suppressed: dict[tuple[str, str], str] = {}
    if wanted:
        rows = Suppression.unscoped.filter(
            merchant=merchant, address__in={address for _, address in wanted}
        ).values_list("channel", "address", "reason")
        suppressed = {(c, a): reason for c, a, reason in rows if (c, a) in wanted}
    marketing = {
        r.customer.pk
        for r in requests
        if r.customer is not None and r.template.category == Category.MARKETING
    }
    muted = (
        dict(
            ContactPreference.unscoped.filter(
                merchant=merchant, customer_id__in=marketing
            ).values_list("customer_id", "muted_kinds")
        )
        if marketing
        else {}
    )
    zones: dict[int | None, ZoneInfo] = {None: shopper_zone(None, merchant)}
    for customer in customers.values():
        zones[customer.pk] = shopper_zone(customer, merchant)
    taken = _marketing_times(merchant, marketing, policy, now)
    return _Known(suppressed=suppressed, muted=muted, taken=taken, zones=zones)


def _message(
    merchant: Merchant,
    request: SendRequest,
    customer: Customer | None,
    address: str,
    content: Any,
    policy: SendingPolicy,
    known: _Known,
    now: datetime,
) -> Message:
    template = request.template
    decision = _decide(
        template=template,
        customer=customer,
        address=address,
        policy=policy,
        known=known,
        zone=known.zones[customer.pk if customer is not None else None],
        now=now,
    )
    held = decision.status != MessageStatus.SUPPRESSED and is_held(
        merchant=merchant, channel=template.channel, category=template.category
    )
    if held:  # waits, with no time to go, for the merchant's postal address
        decision = Decision(MessageStatus.DEFERRED, HELD)
    message = Message(
        merchant=merchant,
        customer=customer,
        template=template,
        template_version_id=template.current_version_id,
        idempotency_key=request.idempotency_key,
        channel=template.channel,
        category=template.category,
        kind=template.kind,
        to=address,
        status=decision.status,
        reason=decision.reason,
        deferred_until=decision.deferred_until,
        next_attempt_at=decision.deferred_until,
        created_at=now,
        updated_at=now,
        detail=HELD_DETAIL if held else "",
    )
    if decision.status != MessageStatus.SUPPRESSED:
        _fill(message, content)
    counts = message.status in (MessageStatus.QUEUED, MessageStatus.DEFERRED)
    if counts and template.category == Category.MARKETING and customer is not None:
        # the next message of this batch to this customer sees this one in its window
        bisect.insort(known.taken.setdefault(customer.pk, []), message.deferred_until or now)
    return message


def _insert(merchant: Merchant, fresh: list[Message], found: dict[str, Message]) -> list[Message]:
    """Write the new messages; returns those this call wrote. The same key sent at once from
    elsewhere (possible without a customer to serialise on): the first writer wins, and
    ``found`` gets its message."""
    if not fresh:
        return []
    if connection.vendor == "postgresql":
        inserted = insert_new(Message, fresh, conflict="(merchant_id, idempotency_key)")
        written = [message for message in fresh if message.pk in inserted]
    else:
        written = _insert_one_by_one(fresh)
    kept = {id(message) for message in written}
    for message in fresh:
        if id(message) not in kept:
            key = message.idempotency_key
            found[key] = Message.unscoped.get(merchant=merchant, idempotency_key=key)
    return written


def _insert_one_by_one(fresh: list[Message]) -> list[Message]:
    written = []
    for message in fresh:
        try:
            with transaction.atomic():
                message.save(force_insert=True)
            written.append(message)
        except IntegrityError:
            continue
    return written


def _written(merchant: Merchant, messages: list[Message], claim: str, now: datetime) -> None:
    """New messages' first timeline entries, and the hand-off of the queued ones after commit."""
    delivery.events_insert((merchant.pk, m.pk, m.status, m.reason, m.detail, now) for m in messages)
    queued = [message.pk for message in messages if claim and message.claim == claim]
    if queued:
        delivery.enqueue_after_commit(queued, claim, merchant.pk)


def _clean_to(channel: str, to: str, region: str) -> str:
    """An explicit recipient, as stored: a lower-cased email or an E.164 number (a national
    one read in the merchant's country)."""
    if not to:
        return ""
    try:
        email = channel == Channel.EMAIL
        cleaned = check_email(to).lower() if email else to_e164(to, region or None)
    except ValueError as exc:
        raise DomainError(NotificationsErrorCode.INVALID, str(exc), field="to") from None
    if len(cleaned) > 254:
        raise DomainError(NotificationsErrorCode.INVALID, "at most 254 characters", field="to")
    return cleaned


def render_batch(merchant: Merchant, requests: list[SendRequest]) -> list[Any]:
    """Each request's rendered message, or why it could not be rendered (text), all in one
    job of the render pool. A known customer's messages to their own address get their signed
    preference and unsubscribe links (the caller's own links win); a message to an explicit
    address (``to``) never carries them, whoever it is about: the links change that
    customer's consent, and the address may be someone else's."""
    from notifications.services import RenderRequest, message_templates_render

    renders = []
    for request in requests:
        context, customer = request.context, request.customer
        if customer is not None and not request.to:
            channel = request.template.channel
            links = shopper_links(merchant=merchant, customer_id=customer.pk, channel=channel)
            context = {**links, **context}
        locale = customer.locale if customer else ""
        renders.append(RenderRequest(request.template, context, locale))
    results = message_templates_render(requests=renders)
    return [str(r) if isinstance(r, RenderError | DomainError) else r for r in results]


def _fill(message: Message, rendered) -> None:
    if isinstance(rendered, str):  # the template failed on this data
        message.status, message.reason, message.detail = MessageStatus.FAILED, "render", rendered
        message.deferred_until = message.next_attempt_at = None
        return
    message.locale = rendered.locale
    message.subject, message.preheader = rendered.subject, rendered.preheader
    message.html, message.text, message.sms = rendered.html, rendered.text, rendered.sms


# --- test sends from the dashboard ------------------------------------------------------------


def _test_message(
    *, merchant: Merchant, channel: str, to: str, now: datetime, by=None, **content: Any
) -> Message:
    """A test goes to a staff member's own address, through the same hand-off as any message,
    but none of a shopper's rules (consent, caps, sending hours) apply to it: only suppression.
    Only the team's own addresses and verified phones, and a few an hour
    (``notifications.team_recipients``)."""
    to = _clean_to(channel, to, merchant.country)
    if not to:
        raise DomainError(
            NotificationsErrorCode.REQUIRED, "Give an address to send the test to.", field="to"
        )
    team_recipients.team_recipient_check(merchant=merchant, channel=channel, to=to)
    who = getattr(by, "email", "") or "the dashboard"
    with transaction.atomic():
        team_recipients.send_test_throttle(merchant=merchant, now=now)
        message = Message(
            merchant=merchant,
            idempotency_key=f"test:{delivery.new_claim()}",
            channel=channel,
            category=Category.TRANSACTIONAL,
            to=to,
            status=MessageStatus.QUEUED,
            reason="test",
            detail=f"Test sent by {who}.",
            claim=delivery.new_claim(),
            next_attempt_at=now + delivery.LEASE,
            created_at=now,
            updated_at=now,
            **content,
        )
        suppressed = Suppression.unscoped.filter(merchant=merchant, channel=channel, address=to)
        reason = suppressed.values_list("reason", flat=True).first()
        if reason:
            message.status, message.reason, message.claim = (
                MessageStatus.SUPPRESSED,
                f"suppressed_{reason}",
                "",
            )
            message.next_attempt_at = None
        message.save(force_insert=True)
        _written(merchant, [message], message.claim, now)
    return message


def message_template_send_test(
    *,
    merchant: Merchant,
    template: MessageTemplate,
    to: str,
    context: dict[str, Any] | None = None,
    locale: str = "",
    by=None,
    now: datetime | None = None,
) -> Message:
    """Send a template's current version, rendered with ``context`` (when none: the sample
    shopper and order, with the merchant's own name, address, support links and brand, as a
    shopper would get it), to a staff member. Raises ``RenderError`` when the template fails
    on that data."""
    from notifications.context import merchant_sample_context
    from notifications.services import message_template_render

    if template.merchant_id != merchant.pk:
        raise DomainError(ErrorCode.NOT_FOUND, "No such template.", field="template")
    context = context or merchant_sample_context(merchant)
    rendered = message_template_render(template=template, context=context, locale=locale)
    return _test_message(
        merchant=merchant,
        channel=template.channel,
        to=to,
        now=now or timezone.now(),
        by=by,
        template=template,
        template_version_id=rendered.version_id,
        kind=template.kind,
        locale=rendered.locale,
        subject=f"[Test] {rendered.subject}" if template.channel == Channel.EMAIL else "",
        preheader=rendered.preheader,
        html=rendered.html,
        text=rendered.text,
        sms=rendered.sms,
    )


def channel_send_test(
    *, merchant: Merchant, channel: str, to: str, by=None, now: datetime | None = None
) -> Message:
    """Check a channel's settings end to end: a short message through the merchant's provider
    (or the platform's). Its status in the message log says whether the provider took it."""
    if channel not in Channel.values:
        raise DomainError(
            NotificationsErrorCode.UNKNOWN_CHANNEL, "No such channel.", field="channel"
        )
    line = f"This is a test message from {merchant.name}: your {channel} settings work."
    content: dict[str, Any]
    if channel == Channel.EMAIL:
        subject = f"[Test] {merchant.name} email settings"
        context = merchant_context(merchant)
        html, text = email_frame(
            body_html=f"<p>{escape(line)}</p>",
            body_text=line,
            subject=subject,
            preheader="",
            locale=merchant.default_locale,
            context=context,
            marketing=False,
        )
        content = {"subject": subject, "html": html, "text": text}
    else:
        content = {"sms": line}
    return _test_message(
        merchant=merchant, channel=channel, to=to, now=now or timezone.now(), by=by, **content
    )
