"""The hand-off from the outbox to the channels, on rows rather than broker timers.

- A message due a send is *claimed*: a token in ``claim`` and ``next_attempt_at`` moved one
  ``LEASE`` on. ``message_send`` claims a queued message itself and enqueues its hand-off after
  commit; the beat-driven sweep (``messages_due_sweep``, on ``postpurchase.outbox``) claims the
  rest with ``SELECT … FOR UPDATE SKIP LOCKED``: deferred messages whose time has come, retries,
  and claims whose task was lost (their lease ran out).
- The task consumes the claim with one conditional ``UPDATE`` (status ``sending``, the attempt
  counted, a fresh lease) before anything is sent, so a re-delivered task sends nothing twice.
- Just before sending, what may have changed since the message was decided is checked again:
  a suppression (a bounce, a STOP), consent withdrawn, a topic switched off.
- A run sends through one ``channels.ChannelConnections``: one email backend (an SMTP session,
  an ESP's keep-alive pool) and one twilio client serve all its messages, closed when it ends;
  a connection error costs the one message, and the next starts on a new connection.
- The outcome is recorded: ``sent`` with the provider's id; a transient failure (network, 429,
  5xx) is ``deferred`` to a retry after ``RETRY_BACKOFF``, until ``MAX_ATTEMPTS``
  or ``RETRY_WINDOW``; a permanent one is ``failed`` at once with the provider's reason (and a
  refused address suppressed). Every change is a ``MessageEvent``.
- A worker lost mid-send leaves the message ``sending`` until its lease ends; the sweep then
  claims it again (at-least-once, like every email or SMS API without idempotency keys).

No customer row is locked here: ``message_send`` serialises on customers; this path only on
messages.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications import channels, platform_limits, sending
from notifications.channels import SendOutcome
from notifications.models import (
    Category,
    Channel,
    ChannelSettings,
    ContactPreference,
    Message,
    MessageEvent,
    MessageStatus,
    Suppression,
)
from orders.models import Customer
from postpurchase.lanes import BULK_MIN, lane
from postpurchase.outbox import Backoff, give_up_exhausted, sweep
from postpurchase.pending import enqueue_once, started
from postpurchase.pgbulk import copy_insert, unnest_update
from postpurchase.tenancy.models import Merchant

logger = logging.getLogger(__name__)

# A claim keeps a message from the sweep from the claim to the send and from the send to its
# record; it outlasts the task's hard time limit (300 s), so a send in flight is not sent again.
LEASE = timedelta(minutes=10)
# A transient failure is retried after 30 s, 90 s, 4.5 m, 13.5 m, 40.5 m, then every 2 h, each
# less up to a quarter at random.
RETRY_BACKOFF = Backoff(base=timedelta(seconds=30), factor=3, cap=timedelta(hours=2))
RETRY_WINDOW = timedelta(hours=24)
MAX_ATTEMPTS = 10
SWEEP_BATCH = 500
TASK_BATCH = 100  # messages per hand-off task
# Outcomes are written a run at a time; a worker lost mid-run has its run's messages sent again.
RECORD_EVERY = 50
# Sends a task starts, in seconds: well inside its soft time limit (240 s), so a slow provider
# makes it hand the rest back rather than be cut off mid-run.
SEND_BUDGET = timedelta(seconds=150)
DUE = (MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING)
GAVE_UP_UNFINISHED = "Gave up: the last attempt never finished."
# A message of a merchant deactivated after it was claimed is cancelled, not sent. A run asks
# whether its merchant is still active before its first send and again before any send this
# long after the last answer.
DEACTIVATED = "merchant_deactivated"
DEACTIVATED_DETAIL = "Not sent: the merchant was deactivated."
ACTIVE_RECHECK = timedelta(seconds=1)


EVENT_FIELDS = (
    "merchant",
    "message",
    "status",
    "reason",
    "detail",
    "occurred_at",
    "provider_event_id",
)


def events_insert(rows) -> None:
    """Timeline entries, each ``(merchant_id, message_id, status, reason, detail, occurred_at)``,
    written in one statement (a ``COPY`` on PostgreSQL; their ids come from the sequence)."""
    rows = [[*row, ""] for row in rows]  # no provider event id: our own entries
    if not rows:
        return
    if connection.vendor == "postgresql":
        fields = [MessageEvent._meta.get_field(name) for name in EVENT_FIELDS]
        copy_insert(MessageEvent._meta.db_table, fields, rows)
    else:
        names = [MessageEvent._meta.get_field(name).attname for name in EVENT_FIELDS]
        events = (MessageEvent(**dict(zip(names, row, strict=True))) for row in rows)
        MessageEvent.unscoped.bulk_create(events)


def new_claim() -> str:
    return uuid.uuid4().hex


def enqueue_after_commit(message_ids: list[int], claim: str, merchant_id: int) -> None:
    """Hand ``message_ids`` (claimed with ``claim``) to a worker once the transaction commits:
    a few (one order's) to a run that takes every claimed message its merchant has waiting
    (``messages_deliver_pending``), many (an import's) to runs of their own in the bulk lane."""
    if len(message_ids) >= BULK_MIN:
        transaction.on_commit(lambda: _enqueue(message_ids, claim, merchant_id))
    else:
        transaction.on_commit(lambda: _enqueue_pending(merchant_id))


def _enqueue_pending(merchant_id: int, *, bulk: bool = False) -> None:
    """A hand-off run of whatever the merchant has claimed and waiting, unless one is queued
    already (``postpurchase.pending``)."""
    from notifications.tasks import messages_deliver_pending_task

    def send(flag: str) -> None:
        messages_deliver_pending_task.apply_async(
            kwargs={"merchant_id": merchant_id, "flag": flag},
            queue=lane("messages", BULK_MIN if bulk else 1),
        )

    try:
        enqueue_once("messages", merchant_id, send)
    except Exception:
        # The broker is down: the lease runs out and the sweep claims them again.
        logger.warning("Could not enqueue a hand-off run; the sweep will", exc_info=True)


def _enqueue(message_ids: list[int], claim: str, merchant_id: int, *, bulk: bool = False) -> None:
    """Hand-off tasks of ``TASK_BATCH`` messages, in the bulk lane when they are many or
    ``bulk`` (the sweep's), so an import's sends never hold up one order's confirmation
    (``postpurchase.lanes``)."""
    from notifications.tasks import messages_deliver_task

    queue = lane("messages", max(len(message_ids), BULK_MIN) if bulk else len(message_ids))
    for start in range(0, len(message_ids), TASK_BATCH):
        chunk = message_ids[start : start + TASK_BATCH]
        try:
            messages_deliver_task.apply_async(
                kwargs={"message_ids": chunk, "claim": claim, "merchant_id": merchant_id},
                queue=queue,
            )
        except Exception:
            # The broker is down: the lease runs out and the sweep claims them again.
            logger.warning("Could not enqueue messages %s; the sweep will", chunk, exc_info=True)


def messages_due_sweep(*, now: datetime | None = None, batch_size: int = SWEEP_BATCH) -> list[int]:
    """Claim every message due an attempt and enqueue its hand-off, after failing those whose
    last allowed attempt never finished. Rows another sweeper holds are skipped. Marketing
    email held for a postal address the merchant has set since is made due first."""
    from notifications.marketing_hold import held_messages_release

    now = now or timezone.now()
    held_messages_release(now=now)
    _give_up_unfinished(now=now, batch_size=batch_size)
    claim = new_claim()
    return sweep(
        Message.unscoped.filter(status__in=DUE),
        now=now,
        lease=LEASE,
        batch=batch_size,
        mark={"claim": claim},
        enqueue=lambda merchant_id, ids: _enqueue(ids, claim, merchant_id, bulk=True),
    )


def _give_up_unfinished(*, now: datetime, batch_size: int) -> None:
    """Fail the messages whose lease ran out on an attempt that never finished (its worker died)
    when that attempt was the last one allowed, each with a timeline entry."""
    exhausted = Q(attempts__gte=MAX_ATTEMPTS) | Q(first_attempt_at__lte=now - RETRY_WINDOW)
    rows = give_up_exhausted(
        Message.unscoped.filter(exhausted, status=MessageStatus.SENDING),
        now=now,
        batch=batch_size,
        values={
            "status": MessageStatus.FAILED,
            "reason": "unfinished",
            "detail": GAVE_UP_UNFINISHED,
            "next_attempt_at": None,
            "claim": "",
            "updated_at": now,
        },
    )
    events_insert(
        (merchant_id, pk, MessageStatus.FAILED, "unfinished", GAVE_UP_UNFINISHED, now)
        for pk, merchant_id in rows
    )


# --- one hand-off -----------------------------------------------------------------------------


def messages_deliver(
    *,
    merchant: Merchant,
    message_ids: Iterable[int],
    claim: str,
    now: datetime | None = None,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Message]:
    """Make the attempts ``claim`` stands for and record each outcome. Returns the messages it
    handled (not those whose claim was used or replaced: another worker has them)."""
    now = now or timezone.now()
    if not claim or not message_ids:
        return []
    claimed = Q(pk__in=list(message_ids), claim=claim)
    messages = _claims_take(merchant=merchant, claimed=claimed, now=now)
    return _deliver(merchant, messages, now=now, rng=rng, clock=clock)


def messages_deliver_pending(
    *,
    merchant: Merchant,
    now: datetime | None = None,
    limit: int = TASK_BATCH,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
    flag: str = "",
) -> list[Message]:
    """Take the merchant's oldest messages claimed for a hand-off that no run has taken yet (at
    most ``limit``, whoever claimed them), and make their attempts as one run. A message
    written alone enqueues this rather than a run of its own, so under load the first run
    takes every message written since the last one, on one connection, and the runs behind it
    find little or nothing. Rows another run is taking are skipped (``SKIP LOCKED``); a full
    batch enqueues another run, in the bulk lane. ``flag``: the task's ``postpurchase.pending``
    flag, cleared before anything is taken."""
    now = now or timezone.now()
    started(flag)
    messages = _claims_take(
        merchant=merchant, claimed=~Q(claim=""), now=now, limit=limit, skip_locked=True
    )
    if len(messages) >= limit:
        _enqueue_pending(merchant.pk, bulk=True)
    return _deliver(merchant, messages, now=now, rng=rng, clock=clock)


def _deliver(
    merchant: Merchant,
    messages: list[Message],
    *,
    now: datetime,
    rng: random.Random | None,
    clock: Callable[[], float],
) -> list[Message]:
    """One run: the attempts of ``messages`` (taken by ``_claims_take``), each outcome
    recorded."""
    if not messages:
        return []
    channel_settings = ChannelSettings.unscoped.filter(merchant=merchant).first()
    blocked = _blocked(merchant, messages)
    allowance = platform_limits.platform_allowance(
        merchant=merchant,
        messages=[m for m in messages if m.pk not in blocked],
        channel_settings=channel_settings,
        now=now,
    )
    still_active = _ActiveCheck(merchant.pk)
    done: list[tuple[Message, SendOutcome | None, str]] = []
    stop_at = clock() + SEND_BUDGET.total_seconds()
    sent_count = 0
    try:
        # one SMTP session or ESP keep-alive pool, one twilio client, for the whole run;
        # closed on the way out, however the run ends
        with channels.ChannelConnections() as connections:
            for message in messages:
                tick = clock()
                if tick >= stop_at:
                    break  # a slow provider: the rest go back to the queue, within the limit
                reason = blocked.get(message.pk) if still_active(tick) else DEACTIVATED
                if reason:
                    done.append((message, None, reason))
                elif message.pk in allowance.held:  # the platform's quota or countries
                    done.append((message, allowance.held[message.pk], ""))
                else:
                    outcome = sending.send_one(merchant, message, channel_settings, connections)
                    done.append((message, outcome, ""))
                sent_count += 1
                if len(done) >= RECORD_EVERY:
                    _record(done, now=now, rng=rng)
                    done = []
    except SoftTimeLimitExceeded:
        pass  # the message in flight is treated as never sent: it goes back with the rest
    finally:
        # what was sent is always recorded, whatever stopped the run
        _record(done, now=now, rng=rng)
        _release(messages[sent_count:], now=now)
        allowance.give_back(messages[sent_count:], now=now)
    return messages


class _ActiveCheck:
    """Whether the merchant is still active at ``tick`` (the run's clock): asked of the
    database at the first call and again once ``ACTIVE_RECHECK`` has passed since; once
    inactive, always inactive."""

    def __init__(self, merchant_id: int) -> None:
        self.merchant_id = merchant_id
        self.active, self.asked_at = True, None

    def __call__(self, tick: float) -> bool:
        stale = self.asked_at is None or tick - self.asked_at >= ACTIVE_RECHECK.total_seconds()
        if self.active and stale:
            self.active = Merchant.objects.filter(pk=self.merchant_id, is_active=True).exists()
            self.asked_at = tick
        return self.active


def _release(messages: list[Message], *, now: datetime) -> None:
    """Hand back claimed messages that were not attempted: queued again and due at once (the
    sweep takes them), the attempt they were counted for taken back."""
    if not messages:
        return
    with transaction.atomic():
        Message.unscoped.filter(
            pk__in=[m.pk for m in messages], status=MessageStatus.SENDING
        ).update(
            status=MessageStatus.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=now,
            updated_at=now,
        )


def _claims_take(
    *,
    merchant: Merchant,
    claimed: Q,
    now: datetime,
    limit: int | None = None,
    skip_locked: bool = False,
) -> list[Message]:
    """Consume the claim on the merchant's due messages that ``claimed`` selects (the oldest
    ``limit``; with ``skip_locked``, not those another run is taking), and count the attempt,
    before anything is sent."""
    with transaction.atomic():
        messages = list(
            Message.unscoped.select_for_update(skip_locked=skip_locked)
            .filter(claimed, merchant=merchant, status__in=DUE)
            .order_by("pk")[:limit]
        )
        if not messages:
            return []
        resumed = {m.pk for m in messages if m.status == MessageStatus.SENDING}
        Message.unscoped.filter(pk__in=[m.pk for m in messages]).update(
            claim="",
            status=MessageStatus.SENDING,
            reason="",
            detail="",
            deferred_until=None,
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce("first_attempt_at", now),
            next_attempt_at=now + LEASE,
            updated_at=now,
        )
        lost = "The previous attempt never finished."
        events_insert(
            (merchant.pk, m.pk, MessageStatus.SENDING, "resumed", lost, now)
            if m.pk in resumed
            else (merchant.pk, m.pk, MessageStatus.SENDING, "", "", now)
            for m in messages
        )
        for m in messages:  # as the UPDATE left them
            m.claim, m.status, m.reason, m.detail, m.deferred_until = "", "sending", "", "", None
            m.attempts += 1
            m.first_attempt_at = m.first_attempt_at or now
            m.next_attempt_at, m.updated_at = now + LEASE, now
        return messages


def _blocked(merchant: Merchant, messages: list[Message]) -> dict[int, str]:
    """What changed since each message was decided and now stops it: its address suppressed,
    marketing consent withdrawn, its topic switched off."""
    blocked: dict[int, str] = {}
    suppressed_by = {
        (channel, address): reason
        for channel, address, reason in Suppression.unscoped.filter(
            merchant=merchant, address__in={m.to for m in messages}
        ).values_list("channel", "address", "reason")
    }
    marketing = [m for m in messages if m.category == Category.MARKETING and m.customer_id]
    customers = {
        row[0]: row
        for row in Customer.unscoped.filter(
            merchant=merchant, pk__in={m.customer_id for m in marketing}
        ).values_list("pk", "email_marketing_consent", "sms_marketing_consent")
    }
    muted = dict(
        ContactPreference.unscoped.filter(
            merchant=merchant, customer_id__in={m.customer_id for m in marketing}
        ).values_list("customer_id", "muted_kinds")
    )
    for message in messages:
        reason = suppressed_by.get((message.channel, message.to))
        if reason:
            blocked[message.pk] = f"suppressed_{reason}"
        elif message.category == Category.MARKETING:
            row = customers.get(message.customer_id)
            consent = row is not None and row[1 if message.channel == Channel.EMAIL else 2]
            if not consent:
                blocked[message.pk] = "no_consent"
            elif message.kind and message.kind in (muted.get(message.customer_id) or []):
                blocked[message.pk] = "topic_off"
    return blocked


RECORDED_FIELDS = [
    "status",
    "reason",
    "detail",
    "deferred_until",
    "next_attempt_at",
    "provider",
    "provider_message_id",
    "sent_at",
    "updated_at",
    "attempts",  # given back when a message is held rather than attempted
    "first_attempt_at",
]


def _record(
    done: list[tuple[Message, SendOutcome | None, str]],
    *,
    now: datetime,
    rng: random.Random | None,
) -> None:
    """Write what a run of attempts came to, in one transaction. A delivery report that
    arrived first (it can: the provider answers before we record) is not overwritten."""
    if not done:
        return
    with transaction.atomic():
        ids = [message.pk for message, _, _ in done]
        # the content is not needed here: it was read when the claims were taken
        rows = (
            Message.unscoped.select_for_update()
            .filter(pk__in=ids)
            .defer("subject", "preheader", "html", "text", "sms")
            .order_by("pk")
        )
        current = {message.pk: message for message in rows}
        changed, events, suppressions = [], [], []
        for sent, outcome, suppressed in done:
            message = current[sent.pk]
            if message.status != MessageStatus.SENDING:
                _settle_provider(message, outcome, now)
                continue
            _apply(message, outcome, suppressed, now=now, rng=rng)
            changed.append(message)
            events.append(
                (
                    message.merchant_id,
                    message.pk,
                    message.status,
                    message.reason,
                    message.detail,
                    now,
                )
            )
            if outcome is not None and outcome.suppress and not outcome.accepted:
                suppressions.append(
                    Suppression(
                        merchant_id=message.merchant_id,
                        channel=message.channel,
                        address=message.to,
                        reason=outcome.suppress,
                        detail=outcome.detail[:1000],
                        created_at=now,
                    )
                )
        if connection.vendor == "postgresql":  # the ORM's CASE WHEN costs more than the rows
            unnest_update(Message, changed, RECORDED_FIELDS, merchant_id=done[0][0].merchant_id)
        else:
            Message.unscoped.bulk_update(changed, RECORDED_FIELDS)
        events_insert(events)
        Suppression.unscoped.bulk_create(suppressions, ignore_conflicts=True)


def _apply(
    message: Message,
    outcome: SendOutcome | None,
    suppressed: str,
    *,
    now: datetime,
    rng: random.Random | None,
) -> None:
    message.next_attempt_at = None
    message.updated_at = now
    if suppressed == DEACTIVATED:
        message.status, message.reason = MessageStatus.CANCELLED, DEACTIVATED
        message.detail = DEACTIVATED_DETAIL
    elif suppressed:
        message.status, message.reason = MessageStatus.SUPPRESSED, suppressed
    elif outcome.hold_until is not None:
        _hold(message, outcome)
    elif outcome.accepted:
        message.status, message.reason, message.detail = MessageStatus.SENT, "", ""
        message.provider = outcome.provider
        message.provider_message_id = outcome.provider_message_id
        message.sent_at = now
    elif outcome.transient and not _exhausted(message, now):
        delay = RETRY_BACKOFF.delay(message.attempts, rng=rng)
        if outcome.retry_after:
            delay = max(delay, timedelta(seconds=outcome.retry_after))
        until = min(now + delay, message.first_attempt_at + RETRY_WINDOW)
        message.status, message.reason = MessageStatus.DEFERRED, "retry"
        message.detail = f"{outcome.reason}: {outcome.detail}"[:1000]
        message.deferred_until = message.next_attempt_at = until
        message.provider = outcome.provider
    else:
        message.status, message.reason = MessageStatus.FAILED, outcome.reason
        message.detail = outcome.detail
        message.provider = outcome.provider


def _hold(message: Message, outcome: SendOutcome) -> None:
    """Deferred with the reason, and its attempt given back: a hold is not a try, so neither
    the attempt count nor the retry window moves."""
    message.status, message.reason, message.detail = (
        MessageStatus.DEFERRED,
        outcome.reason,
        outcome.detail,
    )
    message.deferred_until = message.next_attempt_at = outcome.hold_until
    message.attempts = max(message.attempts - 1, 0)
    if message.attempts == 0:
        message.first_attempt_at = None


def _settle_provider(message: Message, outcome: SendOutcome | None, now: datetime) -> None:
    """A report overtook our record: keep its status, add the provider's id and send time."""
    if outcome is not None and outcome.accepted and not message.provider_message_id:
        message.provider = outcome.provider
        message.provider_message_id = outcome.provider_message_id
        message.sent_at = message.sent_at or now
        message.next_attempt_at = None
        message.save(
            update_fields=["provider", "provider_message_id", "sent_at", "next_attempt_at"]
        )


def _exhausted(message: Message, now: datetime) -> bool:
    return message.attempts >= MAX_ATTEMPTS or now >= message.first_attempt_at + RETRY_WINDOW
