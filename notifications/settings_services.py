"""A merchant's message settings: how its messages leave (``ChannelSettings``) and when they may
go (``SendingPolicy``).

Both are one row per merchant, written by an upsert under the row's lock, after every field is
checked; a refused save raises one ``DomainError`` naming each field at fault and writes
nothing. Secrets (the ESP's credentials, Twilio's auth token) are never read back to a page: a
blank one keeps what is stored, so a form can always be saved without retyping them. An ESP's
credentials are the keys its allowlist names (``notifications.esp.ESP_FIELDS``), each refused
by name (``email_credentials.<key>``) when the provider does not take it.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, time
from typing import Any

from django.db import transaction
from django.utils import timezone

from notifications.channels import api_url_check, email_providers
from notifications.errors import NotificationsErrorCode
from notifications.esp import ESP_FIELDS, esp_allowed, esp_credentials_problems, esp_missing
from notifications.models import CapMode, ChannelSettings, SendingPolicy
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant
from postpurchase.validation import to_e164

CHANNEL_FIELDS = frozenset(
    {
        "email_provider",
        "email_credentials",
        "twilio_account_sid",
        "twilio_auth_token",
        "sms_from_number",
        "sms_messaging_service_sid",
        "sms_help_text",
    }
)
POLICY_FIELDS = frozenset(
    {
        "send_from",
        "send_until",
        "quiet_hours_for_email",
        "transactional_anytime",
        "marketing_cap",
        "cap_window_hours",
        "cap_mode",
    }
)
CREDENTIALS_MAX_BYTES = 4096
HELP_TEXT_MAX = 320
MARKETING_CAP_MAX = 100
CAP_WINDOW_MAX_HOURS = 720  # 30 days
# The shape of a credential's name (``server_token``, ``api_key``); which names a provider
# takes is its allowlist in ``notifications.esp``.
CREDENTIAL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
AUTH_TOKEN = re.compile(r"^[0-9a-fA-F]{32}$")


class _Errors:
    """Every problem found in one save, by field, raised together."""

    def __init__(self) -> None:
        self.fields: dict[str, list[dict[str, str]]] = {}

    def add(
        self,
        field: str,
        message: str,
        code: NotificationsErrorCode = NotificationsErrorCode.INVALID,
    ) -> None:
        self.fields.setdefault(field, []).append({"code": str(code), "message": message})

    def raise_any(self) -> None:
        """One error for the whole save, with the first problem's code: the precise one when
        there is a single kind of problem, ``invalid`` when the fields are wrong in mixed ways."""
        if self.fields:
            field, problems = next(iter(self.fields.items()))
            message = f"{field}: {problems[0]['message']}"
            codes = {problem["code"] for found in self.fields.values() for problem in found}
            code = codes.pop() if len(codes) == 1 else NotificationsErrorCode.INVALID
            raise DomainError(code, message, fields=self.fields)


def _unknown_fields(data: Any, known: frozenset[str]) -> None:
    if not isinstance(data, dict):
        raise DomainError(NotificationsErrorCode.INVALID, "The settings must be a JSON object.")
    unknown = sorted(set(data) - known)
    if unknown:
        code = NotificationsErrorCode.UNKNOWN_SETTING
        raise DomainError(
            code,
            f"Unknown setting: {', '.join(unknown)}.",
            fields={name: [{"code": str(code), "message": "not a setting"}] for name in unknown},
        )


def _text(data: dict, name: str, errors: _Errors) -> str | None:
    """The field as stripped text, ``None`` when absent (or not text, which is reported)."""
    if name not in data or data[name] is None:
        return None
    value = data[name]
    if not isinstance(value, str):
        errors.add(name, "must be text")
        return None
    if "\x00" in value:
        errors.add(name, "must not contain a NUL character")
        return None
    return value.strip()


# --- channel settings -------------------------------------------------------------------------


def _credentials(value: Any, errors: _Errors) -> dict[str, Any] | None:
    """The credentials given, as an object (``{}`` when blank), or ``None`` when refused. Which
    keys the provider takes is checked once the provider is known (``_apply_email``)."""
    field = "email_credentials"
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}
    if isinstance(value, str):
        text = value.strip()
        if len(text.encode()) > CREDENTIALS_MAX_BYTES:
            errors.add(field, f"must be at most {CREDENTIALS_MAX_BYTES // 1024} KB")
            return None
        try:
            value = json.loads(text)
        except ValueError as exc:
            errors.add(field, f"is not valid JSON ({exc.msg}, line {exc.lineno})")
            return None
    if not isinstance(value, dict):
        errors.add(field, 'must be an object of the provider\'s settings, such as {"api_key": "…"}')
        return None
    for key in value:
        if not isinstance(key, str) or not CREDENTIAL_KEY.fullmatch(key):
            errors.add(field, f"{key!r} is not a setting name (lower-case letters, digits, _)")
            return None
    return value


def _matching(data: dict, name: str, pattern: re.Pattern, message: str, errors: _Errors):
    value = _text(data, name, errors)
    if value and not pattern.fullmatch(value):
        errors.add(name, message)
        return None
    return value


def _channel_values(merchant: Merchant, data: dict, errors: _Errors) -> dict[str, Any]:
    """Each field given, checked on its own; absent fields are left out."""
    values: dict[str, Any] = {}
    provider = _text(data, "email_provider", errors)
    if provider is not None:
        if provider and provider not in email_providers():
            errors.add("email_provider", f"{provider!r} is not an email provider we support")
        else:
            values["email_provider"] = provider
    if "email_credentials" in data:
        credentials = _credentials(data["email_credentials"], errors)
        if credentials is not None:
            values["email_credentials"] = credentials
    checks = {
        "twilio_account_sid": (ACCOUNT_SID, "must be AC followed by 32 hexadecimal characters"),
        "twilio_auth_token": (AUTH_TOKEN, "must be 32 hexadecimal characters"),
        "sms_messaging_service_sid": (
            MESSAGING_SERVICE_SID,
            "must be MG followed by 32 hexadecimal characters",
        ),
    }
    for name, (pattern, message) in checks.items():
        value = _matching(data, name, pattern, message, errors)
        if value is not None:
            values[name] = value
    number = _text(data, "sms_from_number", errors)
    if number is not None:
        try:
            values["sms_from_number"] = to_e164(number, merchant.country or None)
        except ValueError:
            errors.add("sms_from_number", "must be a phone number, such as +14155550123")
    help_text = _text(data, "sms_help_text", errors)
    if help_text is not None:
        if len(help_text) > HELP_TEXT_MAX:
            errors.add("sms_help_text", f"must be at most {HELP_TEXT_MAX} characters")
        else:
            values["sms_help_text"] = help_text
    return values


def _apply_email(row: ChannelSettings, values: dict[str, Any], errors: _Errors) -> None:
    """The provider's credentials, key by key: only those in its allowlist (``ESP_FIELDS``);
    a blank secret keeps the stored one, a blank plain setting clears it. Switching provider
    starts from nothing (the old provider's credentials would not fit); switching to ours
    drops them."""
    provider = values.get("email_provider", row.email_provider)
    given: dict[str, Any] = values.get("email_credentials") or {}
    if not provider:
        if any(given.values()):
            errors.add("email_credentials", "choose the email provider these are for")
        row.email_provider, row.email_credentials, row.email_webhook_secret = "", "", ""
        return
    spec = ESP_FIELDS.get(provider)
    if spec is None:  # saved before the allowlist, for a provider no longer offered
        errors.add("email_provider", f"{provider!r} is no longer offered: choose another")
        return
    for key, code, message in esp_credentials_problems(provider, given):
        errors.add(f"email_credentials.{key}", message, code)
    stored = json.loads(row.email_credentials or "{}") if provider == row.email_provider else {}
    merged = esp_allowed(provider, stored if isinstance(stored, dict) else {}, webhook=False)
    merged.update(esp_allowed(provider, stored if isinstance(stored, dict) else {}, webhook=True))
    for key, value in given.items():
        field = spec.field(key)
        if field is None or not isinstance(value, str):
            continue  # reported above
        if value.strip():
            merged[key] = value.strip()
        elif not field.secret:
            merged.pop(key, None)
    if merged.get("api_url"):
        try:
            api_url_check(provider, merged["api_url"])
        except ValueError as exc:
            errors.add("email_credentials.api_url", str(exc))
    for field in esp_missing(provider, merged):
        errors.add(
            f"email_credentials.{field.key}",
            f"enter your {spec.label} {field.label[0].lower()}{field.label[1:]}",
            code=NotificationsErrorCode.REQUIRED,
        )
    stored_text = json.dumps(merged, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if len(stored_text.encode()) > CREDENTIALS_MAX_BYTES:
        errors.add("email_credentials", f"must be at most {CREDENTIALS_MAX_BYTES // 1024} KB")
    row.email_provider, row.email_credentials = provider, stored_text
    if not row.email_webhook_secret:
        row.email_webhook_secret = f"{secrets.token_hex(8)}:{secrets.token_hex(24)}"


def _apply_sms(row: ChannelSettings, values: dict[str, Any], errors: _Errors) -> None:
    """The merchant's own Twilio account needs both its SID and auth token (a blank token keeps
    the stored one), and a number or Messaging Service to send from; without an account the
    platform's sends, so the token is dropped and a number of its own is refused."""
    for name in ("sms_from_number", "sms_messaging_service_sid", "sms_help_text"):
        if name in values:
            setattr(row, name, values[name])
    sid = values.get("twilio_account_sid", row.twilio_account_sid)
    token = values.get("twilio_auth_token") or ""
    if not sid:
        if token:
            errors.add("twilio_account_sid", "enter the Account SID this auth token belongs to")
        row.twilio_account_sid, row.twilio_auth_token = "", ""
        if row.sms_from_number or row.sms_messaging_service_sid:
            errors.add(
                "sms_from_number" if row.sms_from_number else "sms_messaging_service_sid",
                "texts go from your number only through your own Twilio account: "
                "enter its Account SID and auth token",
            )
        return
    if sid != row.twilio_account_sid and not token:
        errors.add(
            "twilio_auth_token",
            f"enter the auth token of account {sid}",
            NotificationsErrorCode.REQUIRED,
        )
    row.twilio_account_sid = sid
    if token:
        row.twilio_auth_token = token
    if not (row.sms_from_number or row.sms_messaging_service_sid):
        errors.add(
            "sms_from_number",
            "enter the number texts go from, or a Messaging Service SID",
            code=NotificationsErrorCode.REQUIRED,
        )


def channel_settings_save(
    *, merchant: Merchant, data: dict[str, Any], now: datetime | None = None
) -> ChannelSettings:
    """Create or update the merchant's channel settings with ``data`` (any of
    ``CHANNEL_FIELDS``; absent ones keep their value, and so do blank secrets). Checks every
    field and raises one ``DomainError`` for all that are wrong, writing nothing."""
    _unknown_fields(data, CHANNEL_FIELDS)
    errors = _Errors()
    values = _channel_values(merchant, data, errors)
    errors.raise_any()
    with transaction.atomic():
        row, _ = ChannelSettings.unscoped.select_for_update().get_or_create(merchant=merchant)
        _apply_email(row, values, errors)
        _apply_sms(row, values, errors)
        errors.raise_any()  # inside the transaction: a row created above is rolled back
        row.updated_at = now or timezone.now()
        row.save()
    return row


def channel_settings_get(*, merchant: Merchant) -> ChannelSettings:
    """The merchant's channel settings; an unsaved blank row (the platform's defaults) when it
    has none."""
    found = ChannelSettings.unscoped.filter(merchant=merchant).first()
    return found or ChannelSettings(merchant=merchant)


# --- sending policy ---------------------------------------------------------------------------


def _time(data: dict, name: str, errors: _Errors) -> time | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = time.fromisoformat(value.strip())
        except ValueError:
            errors.add(name, "must be a time of day, such as 08:00")
            return None
    if not isinstance(value, time) or value.tzinfo is not None:
        errors.add(name, "must be a time of day, such as 08:00")
        return None
    return value.replace(second=0, microsecond=0)


def _whole(data: dict, name: str, low: int, high: int, errors: _Errors) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(name, "must be a whole number")
        return None
    if not low <= value <= high:
        errors.add(name, f"must be from {low} to {high}")
        return None
    return value


def _policy_values(data: dict, errors: _Errors) -> dict[str, Any]:
    values: dict[str, Any] = {
        "send_from": _time(data, "send_from", errors),
        "send_until": _time(data, "send_until", errors),
        "marketing_cap": _whole(data, "marketing_cap", 0, MARKETING_CAP_MAX, errors),
        "cap_window_hours": _whole(data, "cap_window_hours", 1, CAP_WINDOW_MAX_HOURS, errors),
    }
    for name in ("quiet_hours_for_email", "transactional_anytime"):
        if data.get(name) is not None:
            if isinstance(data[name], bool):
                values[name] = data[name]
            else:
                errors.add(name, "must be true or false")
    mode = data.get("cap_mode")
    if mode is not None:
        if mode in CapMode.values:
            values["cap_mode"] = mode
        else:
            errors.add("cap_mode", f"must be one of {', '.join(CapMode.values)}")
    return {name: value for name, value in values.items() if value is not None}


def sending_policy_save(
    *, merchant: Merchant, data: dict[str, Any], now: datetime | None = None
) -> SendingPolicy:
    """Create or update the merchant's sending policy with ``data`` (any of ``POLICY_FIELDS``;
    absent ones keep their value). Sending hours may run overnight (22:00 to 07:00) but must
    not start and end at the same minute. Raises one ``DomainError`` for every field that is
    wrong, writing nothing. ``now`` is accepted like every service's, though the policy keeps
    no timestamp."""
    _unknown_fields(data, POLICY_FIELDS)
    errors = _Errors()
    values = _policy_values(data, errors)
    errors.raise_any()
    with transaction.atomic():
        row, _ = SendingPolicy.unscoped.select_for_update().get_or_create(merchant=merchant)
        for name, value in values.items():
            setattr(row, name, value)
        if row.send_from == row.send_until:
            if "send_until" in values:
                errors.add("send_until", "must differ from the start of sending hours")
            else:
                errors.add("send_from", "must differ from the end of sending hours")
        errors.raise_any()
        row.save()
    return row
