"""The message log: every message the merchant's store decided on, newest first, with filters,
and one message's content and timeline."""

from __future__ import annotations

from urllib.parse import urlencode

from notifications.forms import MessageFilterForm
from notifications.marketing_hold import HELD, held_count, needs_address
from notifications.models import Channel, Message, MessageStatus
from notifications.rendering import sms_segments
from notifications.selectors import (
    message_cursor,
    message_detail,
    message_events,
    message_list,
    message_template_choices,
)
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


class MessageListView(ScopedListView):
    required_perm = Perm.VIEW
    model = Message
    template_name = "notifications/log/list.html"
    context_object_name = "log_messages"

    def filter_form(self) -> MessageFilterForm:
        if not hasattr(self, "_filter_form"):
            templates = message_template_choices()
            data = self.request.GET if self.request.GET else None
            self._filter_form = MessageFilterForm(data, templates=templates)
        return self._filter_form

    def filter_scoped(self, queryset):
        return message_list(
            messages=queryset,
            filters=self.filter_form().filters(),
            zone=merchant_zone(self.merchant),
            before=self.request.GET.get("before", ""),
        )

    def get_context_data(self, **kwargs):
        cursor = self.request.GET.get("before", "")
        rows = list(self.object_list[: MESSAGES_PER_PAGE + 1])
        page, more = rows[:MESSAGES_PER_PAGE], len(rows) > MESSAGES_PER_PAGE
        for message in page:
            message.tone = STATUS_TONES.get(message.status, "neutral")
        filters = {k: v for k, v in self.request.GET.items() if k != "before" and v}
        next_page = {**filters, "before": message_cursor(page[-1])} if more else None
        return super().get_context_data(
            held_marketing=held_count(self.merchant) if needs_address(self.merchant) else 0,
            can_set_address=role_has_perm(self.membership.role, Perm.MANAGE_SETTINGS),
            filter_form=self.filter_form(),
            log_messages=page,
            is_filtered=bool(filters),
            is_later_page=bool(cursor),
            first_page_query=urlencode(filters),
            next_page_query=urlencode(next_page) if next_page else "",
            **kwargs,
        )


class MessageDetailView(ScopedDetailView):
    required_perm = Perm.VIEW
    model = Message
    template_name = "notifications/log/detail.html"
    context_object_name = "message"

    def filter_scoped(self, queryset):
        return message_detail(messages=queryset)

    def get_context_data(self, **kwargs):
        message = self.object
        message.tone = STATUS_TONES.get(message.status, "neutral")
        events = message_events(message=message)
        for event in events:
            event.tone = STATUS_TONES.get(event.status, "neutral")
        segments = sms_segments(message.sms) if message.channel == Channel.SMS else None
        return super().get_context_data(
            held_reason=HELD,
            events=events,
            segments=segments,
            **kwargs,
        )
