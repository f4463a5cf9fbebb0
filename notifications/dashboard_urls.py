"""The message pages, included by the dashboard at its root, in its namespace: the log and
templates under messages/, their settings under settings/messages/."""

from django.urls import path

from notifications import dashboard_views as views

urlpatterns = [
    # The message log
    path("messages/", views.MessageListView.as_view(), name="message_list"),
    path("messages/<int:pk>/", views.MessageDetailView.as_view(), name="message_detail"),
    # Templates
    path(
        "messages/templates/",
        views.MessageTemplateListView.as_view(),
        name="message_template_list",
    ),
    path(
        "messages/templates/new/",
        views.MessageTemplateCreateView.as_view(),
        name="message_template_create",
    ),
    path(
        "messages/templates/preview/",
        views.MessageTemplatePreviewView.as_view(),
        name="message_template_preview",
    ),
    path(
        "messages/templates/<int:pk>/",
        views.MessageTemplateDetailView.as_view(),
        name="message_template_detail",
    ),
    path(
        "messages/templates/<int:pk>/save/",
        views.MessageTemplateSaveView.as_view(),
        name="message_template_save",
    ),
    path(
        "messages/templates/<int:pk>/test/",
        views.MessageTemplateSendTestView.as_view(),
        name="message_template_test",
    ),
    path(
        "messages/templates/versions/<int:pk>/",
        views.MessageTemplateVersionView.as_view(),
        name="message_template_version",
    ),
    # Settings → Messages
    path("settings/messages/", views.MessageSettingsView.as_view(), name="settings_messages"),
    path(
        "settings/messages/channels/",
        views.ChannelSettingsSaveView.as_view(),
        name="settings_messages_channels",
    ),
    path(
        "settings/messages/policy/",
        views.SendingPolicySaveView.as_view(),
        name="settings_messages_policy",
    ),
    path(
        "settings/messages/test/",
        views.ChannelSendTestView.as_view(),
        name="settings_messages_test",
    ),
    path(
        "settings/messages/sender/check/",
        views.SenderDomainCheckView.as_view(),
        name="settings_messages_sender_check",
    ),
    path(
        "settings/messages/phones/",
        views.VerifiedPhoneAddView.as_view(),
        name="settings_messages_phone_add",
    ),
    path(
        "settings/messages/phones/confirm/",
        views.VerifiedPhoneConfirmView.as_view(),
        name="settings_messages_phone_confirm",
    ),
    path(
        "settings/messages/phones/<int:pk>/remove/",
        views.VerifiedPhoneRemoveView.as_view(),
        name="settings_messages_phone_remove",
    ),
]
