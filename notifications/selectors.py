"""Reads of the notifications app, used by the dashboard, the provider callbacks and (to come)
analytics alike: the message log (filters and keyset pagination), a message's timeline,
templates with their current version, today's sends on the platform's providers and the team's
verified phones.

The message log and the templates read through the scoped managers (the current merchant's);
the settings page's reads take the merchant as an argument, since they answer for the merchant
the page shows. A provider's callback has no merchant in scope yet: its reads are the unscoped
ones, named as such, and narrow by what the callback carries.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.db.models import Q, QuerySet

from notifications.models import (
    Channel,
    ChannelSettings,
    Message,
    MessageEvent,
    MessageTemplate,
    MessageTemplateVersion,
    PlatformSendCount,
    VerifiedPhone,
)
from postpurchase.tenancy.models import Merchant

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- the message log --------------------------------------------------------------------------


def message_cursor(message: Message) -> str:
    """Where the next page starts: after this message in (created_at, id) order. Creation
    times can repeat, so the id breaks ties; microseconds since the epoch, as an integer, so
    the cursor is exact and survives a URL."""
    micros = (message.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{message.pk}"


def messages_before(messages: QuerySet[Message], *, cursor: str) -> QuerySet[Message]:
    """The messages after ``cursor`` in the log's order; a cursor that does not parse starts
    from the top rather than failing (a hand-edited URL is not an error page)."""
    micros, _, pk = cursor.partition("-")
    if not (micros.isdigit() and pk.isdigit()) or len(micros) > 20:
        return messages
    try:  # integer arithmetic: a float timestamp would lose the microseconds
        at = EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return messages
    return messages.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=int(pk)))


def messages_filtered(messages: QuerySet[Message], *, filters: dict, zone: tzinfo) -> QuerySet:
    """``messages`` narrowed by the log's filters (channel, status, template, a customer's
    address or email, a date range), newest first. Dates are whole days in the merchant's
    ``zone``, both ends included, as the merchant reads a calendar."""
    if filters.get("channel"):
        messages = messages.filter(channel=filters["channel"])
    if filters.get("status"):
        messages = messages.filter(status=filters["status"])
    if filters.get("template"):
        messages = messages.filter(template_id=filters["template"])
    if filters.get("customer"):
        text = filters["customer"]
        messages = messages.filter(Q(to__icontains=text) | Q(customer__email__icontains=text))
    if filters.get("date_from"):
        start = datetime.combine(filters["date_from"], time.min, tzinfo=zone)
        messages = messages.filter(created_at__gte=start)
    # the whole last day (the calendar's very last day has no next: no upper bound then)
    if filters.get("date_to") and filters["date_to"] < date.max:
        end = datetime.combine(filters["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
        messages = messages.filter(created_at__lt=end)
    return messages.order_by("-created_at", "-id")


def message_list(
    *,
    filters: dict,
    zone: tzinfo,
    before: str = "",
    messages: QuerySet[Message] | None = None,
) -> QuerySet[Message]:
    """The current merchant's messages (or the given scoped ``messages``) for the log: filtered
    (``messages_filtered``), newest first, from after the ``before`` cursor when there is one,
    with their template and customer joined in. A lazy queryset, so the caller slices one row
    more than a page to know whether there is a next one: one query a page, however long the
    log (keyset pagination, no OFFSET and no COUNT)."""
    messages = Message.objects.all() if messages is None else messages
    messages = messages_filtered(messages, filters=filters, zone=zone)
    if before:
        messages = messages_before(messages, cursor=before)
    return messages.select_related("template", "customer")


def message_detail(*, messages: QuerySet[Message] | None = None) -> QuerySet[Message]:
    """The current merchant's messages (or the given scoped ``messages``) with what one
    message's page shows joined in: its template, the version it was rendered from and its
    customer. A queryset, so the caller picks the one it was asked for (a 404 otherwise)."""
    messages = Message.objects.all() if messages is None else messages
    return messages.select_related("template", "template_version", "customer")


def message_events(*, message: Message) -> list[MessageEvent]:
    """A message's timeline, oldest first (the order things happened to it); the id breaks
    ties between reports that came in the same instant."""
    return list(message.events.order_by("occurred_at", "id"))


def message_sms_get_unscoped(*, message_id: int) -> Message | None:
    """The text message numbered ``message_id`` on any merchant, or ``None``: Twilio's status
    callback names the message before any merchant is in scope; its signature, checked with
    that message's merchant's token, is what proves the report."""
    return Message.unscoped.filter(pk=message_id, channel=Channel.SMS).first()


# --- templates ------------------------------------------------------------------------------


def message_template_choices() -> QuerySet[MessageTemplate]:
    """The current merchant's templates by name, for the log's template filter."""
    return MessageTemplate.objects.order_by("name", "id")


def message_template_list(
    *, templates: QuerySet[MessageTemplate] | None = None
) -> QuerySet[MessageTemplate]:
    """The current merchant's templates (or the given scoped ``templates``) by name, with the
    current version joined in, since the list shows its number and date."""
    templates = MessageTemplate.objects.all() if templates is None else templates
    return templates.select_related("current_version").order_by("name", "id")


def message_template_get(*, pk: int) -> MessageTemplate | None:
    """The current merchant's template ``pk`` with its current version (which the editor
    fills its forms from), or ``None``: another merchant's template is simply not found."""
    return MessageTemplate.objects.select_related("current_version").filter(pk=pk).first()


def message_template_versions(
    *, template: MessageTemplate, limit: int
) -> QuerySet[MessageTemplateVersion]:
    """A template's latest ``limit`` versions (the model's order: newest first), each with who
    saved it, for the editor's history."""
    return template.versions.select_related("created_by")[:limit]


def message_template_version_detail(
    *, versions: QuerySet[MessageTemplateVersion] | None = None
) -> QuerySet[MessageTemplateVersion]:
    """The current merchant's template versions (or the given scoped ``versions``) with their
    template and author joined in, for the read-only page of one version."""
    versions = MessageTemplateVersion.objects.all() if versions is None else versions
    return versions.select_related("template", "created_by")


# --- settings -------------------------------------------------------------------------------


def platform_sends_today(*, merchant: Merchant, day: date) -> dict[str, int]:
    """How many messages ``merchant`` sent through the platform's own providers on ``day``
    (its quota day), by channel; a channel with none sent is absent, read as 0. One query:
    the counts are rows kept by ``platform_limits``, not counted from the log."""
    return dict(
        PlatformSendCount.unscoped.filter(merchant=merchant, day=day).values_list(
            "channel", "count"
        )
    )


def verified_phones(*, merchant: Merchant) -> list[VerifiedPhone]:
    """The team's phone numbers ``merchant`` may send test texts to on the platform's Twilio,
    verified or waiting for their code, by number."""
    return list(VerifiedPhone.unscoped.filter(merchant=merchant).order_by("phone"))


def channel_settings_stored(*, merchant: Merchant) -> ChannelSettings | None:
    """``merchant``'s saved channel settings, or ``None`` when it never saved any: a report
    address exists only for a provider the merchant configured (``channel_settings_get``
    answers a blank row instead, for the settings form)."""
    return ChannelSettings.unscoped.filter(merchant=merchant).first()
