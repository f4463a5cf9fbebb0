"""Settings → Messages: how messages leave (the merchant's email provider and Twilio account,
each with a test send) and when they may go (sending hours, the marketing cap).

Every member may read the page; changing it or sending a test needs ``Perm.MANAGE_SETTINGS``.
Stored secrets are never put in the page, only whether one is set: a blank box keeps it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View

from notifications import platform_limits, sending
from notifications.models import Channel
from notifications.selectors import platform_sends_today, verified_phones
from notifications.sender import (
    dkim_record_name,
    sender_domain_check,
    sender_domain_of,
    sender_domain_record,
    sender_domain_status,
)
from notifications.services import channel_send_test, sending_policy
from notifications.settings_forms import (
    ChannelSettingsForm,
    ChannelTestForm,
    SendingPolicyForm,
    VerifiedPhoneCodeForm,
    VerifiedPhoneForm,
)
from notifications.settings_services import (
    channel_settings_get,
    channel_settings_save,
    sending_policy_save,
)
from notifications.team_recipients import (
    team_emails,
    verified_phone_add,
    verified_phone_confirm,
    verified_phone_remove,
)
from postpurchase.dashboard.forms import add_domain_error
from postpurchase.dashboard.mixins import DashboardMixin
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm, role_has_perm


class MessageSettingsView(DashboardMixin, View):
    required_perm = Perm.VIEW
    template_name = "notifications/settings.html"

    def render(self, *, channels_form=None, policy_form=None, test_forms=None, phone_forms=None):
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
            **sending_identity_context(self.merchant, stored),
            "phone_form": VerifiedPhoneForm(),
            "code_form": None,
            **(phone_forms or {}),
        }
        if context["can_change"] and stored.email_provider and stored.email_webhook_secret:
            # the merchant must give its ESP this address, secret included: owners and admins
            # only, like the credentials they typed
            context["report_url"] = email_report_url(self.merchant, stored)
        response = TemplateResponse(self.request, self.template_name, context)
        add_never_cache_headers(response)  # a typed secret may be in a refused form's page
        return response

    def get(self, request):
        pending = request.GET.get("verify", "")
        code_form = VerifiedPhoneCodeForm(initial={"phone": pending}) if pending else None
        return self.render(phone_forms={"code_form": code_form})


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


def sending_identity_context(merchant, stored) -> dict:
    """What the page shows about sending on the platform's providers: the From mail goes out
    with and how to verify the sender domain, the team's test recipients, today's quotas."""
    own_email = bool(stored.email_provider)
    domain = sender_domain_of(merchant)
    record = sender_domain_record(merchant, domain) if domain else None
    today, _ = platform_limits.quota_day(merchant, timezone.now())
    counts = platform_sends_today(merchant=merchant, day=today)
    quotas = [
        {
            "channel": channel,
            "limit": platform_limits.daily_quota(channel),
            "used": counts.get(channel, 0),
        }
        for channel in Channel.values
        if platform_limits.on_platform(channel, stored)
    ]
    from_email, reply_to = sending.sender_identity(merchant, stored)
    return {
        "own_email": own_email,
        "sender_domain": domain,
        "sender_status": sender_domain_status(merchant) if domain else None,
        "txt_record": record,
        "dkim_name": dkim_record_name(domain) if domain else "",
        "dkim_key": settings.SENDER_DKIM_PUBLIC_KEY,
        "from_email": from_email,
        "reply_to": reply_to,
        "team_emails": team_emails(merchant),
        "phones": verified_phones(merchant=merchant),
        "quotas": quotas,
        "sms_countries": platform_limits.sms_allowed_countries(merchant),
        "own_sms": stored.has_own_sms,
    }


class SenderDomainCheckView(MessageSettingsView):
    """Look the sender domain's TXT (or DKIM) record up now."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request):
        try:
            row = sender_domain_check(merchant=self.merchant)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            if row.verified_at:
                messages.success(request, f"{row.domain} is verified: mail goes from your address.")
            else:
                messages.warning(request, row.check_detail)
        return redirect(reverse("dashboard:settings_messages") + "#sender")


class VerifiedPhoneAddView(MessageSettingsView):
    """Text a code to a team member's number."""

    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request):
        form = VerifiedPhoneForm(request.POST)
        if form.is_valid():
            try:
                row = verified_phone_add(
                    merchant=self.merchant, phone=form.cleaned_data["phone"], by=request.user
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                if row.verified_at:
                    messages.info(request, f"{row.phone} is already verified.")
                    return redirect(reverse("dashboard:settings_messages") + "#test-phones")
                messages.success(request, f"We texted a code to {row.phone}: type it below.")
                url = reverse("dashboard:settings_messages")
                return redirect(f"{url}?{urlencode({'verify': row.phone})}#test-phones")
        return self.render(phone_forms={"phone_form": form})


class VerifiedPhoneConfirmView(MessageSettingsView):
    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request):
        form = VerifiedPhoneCodeForm(request.POST)
        if form.is_valid():
            try:
                row = verified_phone_confirm(
                    merchant=self.merchant,
                    phone=form.cleaned_data["phone"],
                    code=form.cleaned_data["code"],
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(request, f"{row.phone} is verified: test texts may go to it.")
                return redirect(reverse("dashboard:settings_messages") + "#test-phones")
        return self.render(phone_forms={"code_form": form})


class VerifiedPhoneRemoveView(MessageSettingsView):
    required_perm = Perm.MANAGE_SETTINGS
    http_method_names = ["post"]

    def post(self, request, pk: int):
        try:
            verified_phone_remove(merchant=self.merchant, phone_id=pk)
        except DomainError:
            raise Http404("No such number.") from None
        messages.success(request, "The number was removed.")
        return redirect(reverse("dashboard:settings_messages") + "#test-phones")
