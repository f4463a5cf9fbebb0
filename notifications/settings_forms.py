"""The forms of Settings → Messages: they gather input and nothing else; the services check it
and write (``channel_settings_save``, ``sending_policy_save``, ``test_phone_add``, …).

The email provider's credentials are one labelled box per credential the provider takes
(``notifications.esp.ESP_FIELDS``), named ``<provider>__<key>``; secrets are never rendered
back (a blank box keeps the stored one)."""

from __future__ import annotations

from django import forms

from notifications.channels import email_providers
from notifications.esp import ESP_FIELDS, VALUE_MAX
from notifications.models import CapMode, Channel, ChannelSettings, SendingPolicy
from postpurchase.dashboard.forms import add_domain_error
from postpurchase.errors import DomainError

CHANNEL_FORM_FIELDS = (
    "email_provider",
    "twilio_account_sid",
    "twilio_auth_token",
    "sms_from_number",
    "sms_messaging_service_sid",
    "sms_help_text",
)


def credential_field_name(provider: str, key: str) -> str:
    return f"{provider}__{key}"


def _stored_credentials(row: ChannelSettings | None) -> dict[str, str]:
    import json

    if row is None or not row.email_credentials:
        return {}
    stored = json.loads(row.email_credentials)
    return stored if isinstance(stored, dict) else {}


class ChannelSettingsForm(forms.Form):
    """Secrets have no initial value and are never rendered back: a blank box keeps them."""

    email_provider = forms.ChoiceField(
        label="Email provider",
        required=False,
        help_text="Send through your own provider's account, or leave it to ours.",
    )
    twilio_account_sid = forms.CharField(
        label="Twilio Account SID",
        max_length=64,
        required=False,
        help_text="Empty: texts go through our account.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    twilio_auth_token = forms.CharField(
        label="Twilio auth token",
        max_length=128,
        required=False,
        help_text="Leave empty to keep the stored one.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    sms_from_number = forms.CharField(
        label="Send texts from",
        max_length=32,
        required=False,
        help_text="A number of your Twilio account, e.g. +14155550123.",
    )
    sms_messaging_service_sid = forms.CharField(
        label="Messaging Service SID",
        max_length=64,
        required=False,
        help_text="Instead of a number: MG followed by 32 characters.",
    )
    sms_help_text = forms.CharField(
        label="Reply to HELP",
        max_length=400,
        required=False,
        help_text="What a shopper who texts HELP receives (320 characters at most).",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, stored: ChannelSettings | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stored = stored
        providers = email_providers()
        self.fields["email_provider"].choices = [("", "Ours (no setup)")] + [
            (name, ESP_FIELDS[name].label) for name in providers
        ]
        for provider in providers:
            for spec in ESP_FIELDS[provider].fields:
                widget = (
                    forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False)
                    if spec.secret
                    else forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"})
                )
                self.fields[credential_field_name(provider, spec.key)] = forms.CharField(
                    label=spec.label,
                    required=False,
                    max_length=VALUE_MAX,
                    help_text=spec.help,
                    widget=widget,
                )

    @classmethod
    def initial_for(cls, row: ChannelSettings) -> dict:
        initial = {
            name: getattr(row, name) for name in CHANNEL_FORM_FIELDS if name != "twilio_auth_token"
        }
        if row.email_provider in ESP_FIELDS:
            stored = _stored_credentials(row)
            for spec in ESP_FIELDS[row.email_provider].fields:
                if not spec.secret and spec.key in stored:
                    initial[credential_field_name(row.email_provider, spec.key)] = stored[spec.key]
        return initial

    def provider_sections(self) -> list[dict]:
        """Each provider's boxes for the page, the chosen one open, with which secrets are set."""
        chosen = (self.data if self.is_bound else self.initial).get("email_provider", "")
        stored = self.stored
        saved = _stored_credentials(stored) if stored is not None else {}
        sections = []
        for provider in email_providers():
            own = stored is not None and stored.email_provider == provider
            fields = [
                {
                    "field": self[credential_field_name(provider, spec.key)],
                    "spec": spec,
                    "is_set": own and spec.secret and bool(saved.get(spec.key)),
                }
                for spec in ESP_FIELDS[provider].fields
            ]
            label = ESP_FIELDS[provider].label
            sections.append(
                {"name": provider, "label": label, "open": provider == chosen, "fields": fields}
            )
        return sections

    def service_data(self) -> dict:
        """``cleaned_data`` as ``channel_settings_save`` takes it: the chosen provider's boxes
        as its credentials (another provider's boxes are ignored)."""
        data = {name: self.cleaned_data.get(name) for name in CHANNEL_FORM_FIELDS}
        provider = data["email_provider"]
        if provider in ESP_FIELDS:
            data["email_credentials"] = {
                spec.key: self.cleaned_data.get(credential_field_name(provider, spec.key)) or ""
                for spec in ESP_FIELDS[provider].fields
            }
        return data

    def add_service_error(self, error: DomainError) -> None:
        """The service names a credential ``email_credentials.<key>``: shown at its box."""
        provider = self.cleaned_data.get("email_provider", "")
        fields = {}
        for name, problems in error.fields.items():
            key = name.removeprefix("email_credentials.")
            target = credential_field_name(provider, key) if name != key else name
            if target not in self.fields:
                problems = [{**p, "message": f"{key}: {p['message']}"} for p in problems]
                target = "email_credentials" if name != key else name
            fields.setdefault(target, []).extend(problems)
        add_domain_error(self, DomainError(error.code, error.message, fields=fields))


class SendingPolicyForm(forms.Form):
    send_from = forms.TimeField(
        label="Send from", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    send_until = forms.TimeField(
        label="Send until",
        help_text="In the shopper's time zone. May end after midnight (22:00 to 07:00).",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_hours_for_email = forms.BooleanField(
        required=False, label="Hold emails outside sending hours too (texts always are)"
    )
    transactional_anytime = forms.BooleanField(
        required=False, label="Transactional messages go at any hour"
    )
    marketing_cap = forms.IntegerField(
        label="Marketing messages per customer",
        help_text="Across email and SMS, in each window; 0 for no cap.",
    )
    cap_window_hours = forms.IntegerField(label="Window (hours)", help_text="From 1 to 720.")
    cap_mode = forms.ChoiceField(choices=CapMode.choices, label="Over the cap")

    @classmethod
    def initial_for(cls, policy: SendingPolicy) -> dict:
        return {
            name: getattr(policy, name)
            for name in (
                "send_from",
                "send_until",
                "quiet_hours_for_email",
                "transactional_anytime",
                "marketing_cap",
                "cap_window_hours",
                "cap_mode",
            )
        }


class ChannelTestForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices, widget=forms.HiddenInput)
    to = forms.CharField(
        label="Send to", max_length=254, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )

    def __init__(self, *args, channel: str = Channel.EMAIL, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"id_{channel}_test_%s")
        super().__init__(*args, **kwargs)
        sms = channel == Channel.SMS
        self.fields["to"].label = "Test text to" if sms else "Test email to"
        self.fields["to"].help_text = (
            "A number your team verified below." if sms else "A team member's sign-in address."
        )
        if sms:
            self.fields["to"].widget.attrs["placeholder"] = "+14155550123"


class VerifiedPhoneForm(forms.Form):
    phone = forms.CharField(
        label="Your phone number",
        max_length=32,
        help_text="We text it a code; type the code below to receive test texts there.",
        widget=forms.TextInput(attrs={"autocomplete": "tel", "placeholder": "+14155550123"}),
    )


class VerifiedPhoneCodeForm(forms.Form):
    phone = forms.CharField(max_length=32, widget=forms.HiddenInput)
    code = forms.CharField(
        label="Code",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
