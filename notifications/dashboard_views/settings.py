"""Settings → Messages: how messages leave (the merchant's email provider and Twilio account,
each with a test send) and when they may go (sending hours, the marketing cap).

Every member may read the page; changing it or sending a test needs ``Perm.MANAGE_SETTINGS``.
Stored secrets are never put in the page, only whether one is set: a blank box keeps it."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View

from notifications.models import Channel
from notifications.services import channel_send_test, sending_policy
from notifications.settings_forms import ChannelSettingsForm, ChannelTestForm, SendingPolicyForm
from notifications.settings_services import (
    channel_settings_get,
    channel_settings_save,
    sending_policy_save,
)
from postpurchase.dashboard.forms import add_domain_error
from postpurchase.dashboard.mixins import DashboardMixin
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm, role_has_perm


class MessageSettingsView(DashboardMixin, View):
    required_perm = Perm.VIEW
    template_name = "notifications/settings.html"

    def render(self, *, channels_form=None, policy_form=None, test_forms=None):
        stored = channel_settings_get(merchant=self.merchant)
        policy = sending_policy(self.merchant)
        tests = {
            Channel.EMAIL: ChannelTestForm(
                initial={"channel": Channel.EMAIL, "to": self.request.user.email},
                channel=Channel.EMAIL,
            ),
            Channel.SMS: ChannelTestForm(initial={"channel": Channel.SMS}, channel=Channel.SMS),
        }
        tests.update(test_forms or {})
        context = {
            "stored": stored,
            "auth_token_set": bool(stored.twilio_auth_token),
            "channels_form": channels_form
            or ChannelSettingsForm(initial=ChannelSettingsForm.initial_for(stored), stored=stored),
            "policy_form": policy_form
            or SendingPolicyForm(initial=SendingPolicyForm.initial_for(policy)),
            "email_test_form": tests[Channel.EMAIL],
            "sms_test_form": tests[Channel.SMS],
            "can_change": role_has_perm(self.membership.role, Perm.MANAGE_SETTINGS),
        }
        if context["can_change"] and stored.email_provider and stored.email_webhook_secret:
            # the merchant must give its ESP this address, secret included: owners and admins
            # only, like the credentials they typed
            context["report_url"] = email_report_url(self.merchant, stored)
        response = TemplateResponse(self.request, self.template_name, context)
        add_never_cache_headers(response)  # a typed secret may be in a refused form's page
        return response

    def get(self, request):
        return self.render()


class ChannelSettingsSaveView(MessageSettingsView):
    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request):
        stored = channel_settings_get(merchant=self.merchant)
        form = ChannelSettingsForm(request.POST, stored=stored)
        if not form.is_valid():
            return self.render(channels_form=form)
        try:
            channel_settings_save(merchant=self.merchant, data=form.service_data())
        except DomainError as error:
            # shown again as typed, except secrets: their boxes never render a value
            form.add_service_error(error)
            return self.render(channels_form=form)
        messages.success(request, "Channel settings saved.")
        return redirect("dashboard:settings_messages")


class SendingPolicySaveView(MessageSettingsView):
    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request):
        form = SendingPolicyForm(request.POST)
        if not form.is_valid():
            return self.render(policy_form=form)
        try:
            sending_policy_save(merchant=self.merchant, data=form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(policy_form=form)
        messages.success(request, "Sending policy saved.")
        return redirect("dashboard:settings_messages")


class ChannelSendTestView(MessageSettingsView):
    """A short message through the channel as configured; its status in the log says whether
    the provider took it."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request):
        channel = request.POST.get("channel")
        channel = channel if channel in Channel.values else Channel.EMAIL
        form = ChannelTestForm(request.POST, channel=channel)
        if form.is_valid():
            try:
                message = channel_send_test(
                    merchant=self.merchant,
                    channel=form.cleaned_data["channel"],
                    to=form.cleaned_data["to"],
                    by=request.user,
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(
                    request,
                    f"Test {message.get_channel_display().lower()} queued to {message.to}: "
                    "its status below says whether the provider took it.",
                )
                return redirect("dashboard:message_detail", pk=message.pk)
        return self.render(test_forms={channel: form})


def email_report_url(merchant, stored) -> str:
    """Where the merchant's own ESP sends delivery reports, with the basic-auth secret in it."""
    from urllib.parse import urlsplit, urlunsplit

    path = reverse(
        f"notifications_webhooks:email_{stored.email_provider}_merchant",
        kwargs={"merchant_slug": merchant.slug},
    )
    parts = urlsplit(settings.SITE_URL.rstrip("/") + path)
    netloc = f"{stored.email_webhook_secret}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
