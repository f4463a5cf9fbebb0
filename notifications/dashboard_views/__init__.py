"""The dashboard's message pages: the log, the templates and Settings → Messages. Routed by
``notifications/dashboard_urls.py`` in the dashboard's namespace."""

from notifications.dashboard_views.log import MessageDetailView, MessageListView
from notifications.dashboard_views.settings import (
    ChannelSendTestView,
    ChannelSettingsSaveView,
    MessageSettingsView,
    SenderDomainCheckView,
    SendingPolicySaveView,
    VerifiedPhoneAddView,
    VerifiedPhoneConfirmView,
    VerifiedPhoneRemoveView,
)
from notifications.dashboard_views.templates import (
    MessageTemplateCreateView,
    MessageTemplateDetailView,
    MessageTemplateListView,
    MessageTemplatePreviewView,
    MessageTemplateSaveView,
    MessageTemplateSendTestView,
    MessageTemplateVersionView,
)

__all__ = [
    "ChannelSendTestView",
    "ChannelSettingsSaveView",
    "MessageDetailView",
    "MessageListView",
    "MessageSettingsView",
    "MessageTemplateCreateView",
    "MessageTemplateDetailView",
    "MessageTemplateListView",
    "MessageTemplatePreviewView",
    "MessageTemplateSaveView",
    "MessageTemplateSendTestView",
    "MessageTemplateVersionView",
    "SenderDomainCheckView",
    "SendingPolicySaveView",
    "VerifiedPhoneAddView",
    "VerifiedPhoneConfirmView",
    "VerifiedPhoneRemoveView",
]
