"""The message log: every message the merchant's store decided on, newest first, with filters,
and one message's content and timeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from notifications.forms import MessageFilterForm
from notifications.marketing_hold import HELD, held_count, needs_address
from notifications.models import Channel, Message, MessageStatus, MessageTemplate
from notifications.rendering import sms_segments
from postpurchase.dashboard.mixins import ScopedDetailView, ScopedListView, merchant_zone
from postpurchase.tenancy.permissions import Perm, role_has_perm

MESSAGES_PER_PAGE = 50
# The badge colour of each status: what went well, what is under way, what waits, what failed.
STATUS_TONES = {
    MessageStatus.QUEUED: "info",
    MessageStatus.SENDING: "info",
    MessageStatus.DEFERRED: "warning",
    MessageStatus.SENT: "success",
    MessageStatus.DELIVERED: "success",
    MessageStatus.OPENED: "success",
    MessageStatus.CLICKED: "success",
    MessageStatus.BOUNCED: "danger",
    MessageStatus.COMPLAINED: "danger",
    MessageStatus.FAILED: "danger",
    MessageStatus.SUPPRESSED: "neutral",
    MessageStatus.CANCELLED: "neutral",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_of(message: Message) -> str:
    """Where the next page starts: after this message in (created_at, id) order. Creation
    times can repeat, so the id breaks ties."""
    micros = (message.created_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{message.pk}"


def before_cursor(queryset: QuerySet, cursor: str) -> QuerySet:
    """The messages after ``cursor`` in the log's order; a cursor that does not parse starts
    from the top rather than failing."""
    micros, _, pk = cursor.partition("-")
    if not (micros.isdigit() and pk.isdigit()) or len(micros) > 20:
        return queryset
    try:  # integer arithmetic: a float timestamp would lose the microseconds
        at = EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        return queryset
    return queryset.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=int(pk)))


def message_log(queryset: QuerySet, *, filters: dict, zone) -> QuerySet:
    """``queryset`` narrowed by the log's filters; dates are whole days in the merchant's
    zone, both ends included."""
    if filters.get("channel"):
        queryset = queryset.filter(channel=filters["channel"])
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    if filters.get("template"):
        queryset = queryset.filter(template_id=filters["template"])
    if filters.get("customer"):
        text = filters["customer"]
        queryset = queryset.filter(Q(to__icontains=text) | Q(customer__email__icontains=text))
    if filters.get("date_from"):
        start = datetime.combine(filters["date_from"], time.min, tzinfo=zone)
        queryset = queryset.filter(created_at__gte=start)
    # the whole last day (the calendar's very last day has no next: no upper bound then)
    if filters.get("date_to") and filters["date_to"] < date.max:
        end = datetime.combine(filters["date_to"] + timedelta(days=1), time.min, tzinfo=zone)
        queryset = queryset.filter(created_at__lt=end)
    return queryset.order_by("-created_at", "-id")


class MessageListView(ScopedListView):
    required_perm = Perm.VIEW
    model = Message
    template_name = "notifications/log/list.html"
    context_object_name = "log_messages"

    def filter_form(self) -> MessageFilterForm:
        if not hasattr(self, "_filter_form"):
            templates = MessageTemplate.objects.order_by("name", "id")
            data = self.request.GET if self.request.GET else None
            self._filter_form = MessageFilterForm(data, templates=templates)
        return self._filter_form

    def filter_scoped(self, queryset):
        zone = merchant_zone(self.merchant)
        filtered = message_log(queryset, filters=self.filter_form().filters(), zone=zone)
        return filtered.select_related("template", "customer")

    def get_context_data(self, **kwargs):
        queryset = self.object_list
        cursor = self.request.GET.get("before", "")
        if cursor:
            queryset = before_cursor(queryset, cursor)
        rows = list(queryset[: MESSAGES_PER_PAGE + 1])
        page, more = rows[:MESSAGES_PER_PAGE], len(rows) > MESSAGES_PER_PAGE
        for message in page:
            message.tone = STATUS_TONES.get(message.status, "neutral")
        filters = {k: v for k, v in self.request.GET.items() if k != "before" and v}
        return super().get_context_data(
            held_marketing=held_count(self.merchant) if needs_address(self.merchant) else 0,
            can_set_address=role_has_perm(self.membership.role, Perm.MANAGE_SETTINGS),
            filter_form=self.filter_form(),
            log_messages=page,
            is_filtered=bool(filters),
            is_later_page=bool(cursor),
            first_page_query=urlencode(filters),
            next_page_query=urlencode({**filters, "before": cursor_of(page[-1])}) if more else "",
            **kwargs,
        )


class MessageDetailView(ScopedDetailView):
    required_perm = Perm.VIEW
    model = Message
    template_name = "notifications/log/detail.html"
    context_object_name = "message"

    def filter_scoped(self, queryset):
        return queryset.select_related("template", "template_version", "customer")

    def get_context_data(self, **kwargs):
        message = self.object
        message.tone = STATUS_TONES.get(message.status, "neutral")
        events = list(message.events.order_by("occurred_at", "id"))
        for event in events:
            event.tone = STATUS_TONES.get(event.status, "neutral")
        segments = sms_segments(message.sms) if message.channel == Channel.SMS else None
        return super().get_context_data(
            held_reason=HELD,
            events=events,
            segments=segments,
            **kwargs,
        )
