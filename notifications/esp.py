"""The email providers a merchant may send through with its own account, and exactly which of
its credentials reach anymail.

anymail reads any keyword argument it is given as a setting, and some settings are not
credentials: ``idna_encoder`` is imported and called as a dotted path, ``debug_api_requests``
logs whole provider requests, ``send_defaults`` rewrites every message. A merchant's stored
credentials therefore pass through ``ESP_FIELDS``, one allowlist per provider (what that ESP's
backend and its delivery-report view need, nothing else): a key outside it is refused at save
(``esp_credentials_problems``) and dropped at send and in the report view (rows saved before
the allowlist may hold one). The backend is then built with those keys and with every
behaviour switch pinned to its safe value by us (``esp_backend``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.utils.module_loading import import_string

from notifications.errors import NotificationsErrorCode

logger = logging.getLogger(__name__)

VALUE_MAX = 512  # characters in one credential: API keys are 30-100, URLs well under this


@dataclass(frozen=True)
class CredentialField:
    """One credential of one provider, as the settings page asks for it."""

    key: str  # anymail's keyword argument (or its report view's attribute)
    label: str
    secret: bool = True  # never shown again once saved; blank keeps the stored one
    required: bool = False
    help: str = ""
    webhook: bool = False  # read by the delivery-report view only, never by the backend


def _key(key: str, label: str, **kwargs: Any) -> CredentialField:
    return CredentialField(key, label, **kwargs)


def _api_url(hosts: str, required: bool = False) -> CredentialField:
    return CredentialField(
        "api_url",
        "API address",
        secret=False,
        required=required,
        help=f"Only for another region of the provider: https on {hosts}.",
    )


@dataclass(frozen=True)
class Provider:
    label: str
    fields: tuple[CredentialField, ...]

    def field(self, key: str) -> CredentialField | None:
        return next((field for field in self.fields if field.key == key), None)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(field.key for field in self.fields)


# Postal (a self-hosted server at an address of the merchant's choosing) and Amazon SES (boto3
# session parameters as nested objects) are not offered.
ESP_FIELDS: dict[str, Provider] = {
    "brevo": Provider("Brevo", (_key("api_key", "API key", required=True),)),
    "mailersend": Provider(
        "MailerSend",
        (
            _key("api_token", "API token", required=True),
            _key("signing_secret", "Webhook signing secret", webhook=True),
        ),
    ),
    "mailgun": Provider(
        "Mailgun",
        (
            _key("api_key", "API key", required=True),
            _key(
                "sender_domain",
                "Sending domain",
                secret=False,
                help="When it differs from your From address's domain.",
            ),
            _api_url("api.mailgun.net or api.eu.mailgun.net (EU: https://api.eu.mailgun.net/v3)"),
            _key("webhook_signing_key", "Webhook signing key", webhook=True),
        ),
    ),
    "mailjet": Provider(
        "Mailjet",
        (
            _key("api_key", "API key", required=True),
            _key("secret_key", "Secret key", required=True),
        ),
    ),
    "mailtrap": Provider(
        "Mailtrap",
        (
            _key("api_token", "API token", required=True),
            _key("tracking_secret", "Webhook signing secret", webhook=True),
        ),
    ),
    "mandrill": Provider(
        "Mandrill",
        (
            _key("api_key", "API key", required=True),
            _key("webhook_key", "Webhook key", webhook=True),
        ),
    ),
    "postmark": Provider(
        "Postmark",
        (
            _key("server_token", "Server API token", required=True),
            _key(
                "message_stream",
                "Message stream",
                secret=False,
                help="Empty for your server's default transactional stream.",
            ),
            _api_url("api.postmarkapp.com"),
        ),
    ),
    "resend": Provider(
        "Resend",
        (
            _key("api_key", "API key", required=True),
            _key("signing_secret", "Webhook signing secret", webhook=True),
        ),
    ),
    "scaleway": Provider(
        "Scaleway TEM",
        (
            _key("secret_key", "Secret key", required=True),
            _key("project_id", "Project ID", secret=False, required=True),
            _key("region", "Region", secret=False, help="fr-par (the default) or nl-ams."),
        ),
    ),
    "sendgrid": Provider(
        "SendGrid",
        (
            _key("api_key", "API key", required=True),
            _key(
                "tracking_webhook_verification_key",
                "Event webhook verification key",
                webhook=True,
            ),
        ),
    ),
    "sparkpost": Provider(
        "SparkPost",
        (
            _key("api_key", "API key", required=True),
            _key("subaccount", "Subaccount ID", secret=False),
            _api_url("api.sparkpost.com or api.eu.sparkpost.com"),
        ),
    ),
    "unisender_go": Provider(
        "Unisender Go",
        (
            _key("api_key", "API key", required=True),
            _api_url("go1.unisender.ru or go2.unisender.ru", required=True),
        ),
    ),
}
SCALEWAY_REGIONS = frozenset({"fr-par", "nl-ams"})
# Behaviour switches anymail would otherwise read from its keyword arguments or settings,
# pinned for every merchant backend.
PINNED_OPTIONS: dict[str, Any] = {
    "debug_api_requests": False,
    "ignore_unsupported_features": False,
    "ignore_recipient_status": False,
    "idna_encoder": "idna2008",  # anymail's own encoder (anymail._idna.idna2008), by name
    "send_defaults": {},
}


def esp_credentials_problems(
    provider: str, credentials: dict[str, Any]
) -> list[tuple[str, NotificationsErrorCode, str]]:
    """``(key, code, message)`` for each credential that ``provider`` does not take
    (``credential_not_allowed``: outside its allowlist) or cannot use as given (``invalid``).
    Required keys are not checked here (a save merges with what is stored)."""
    spec = ESP_FIELDS[provider]
    invalid = NotificationsErrorCode.INVALID
    problems: list[tuple[str, NotificationsErrorCode, str]] = []
    for key, value in credentials.items():
        if spec.field(key) is None:
            message = f"is not a {spec.label} setting (it takes {', '.join(spec.keys)})"
            problems.append((key, NotificationsErrorCode.CREDENTIAL_NOT_ALLOWED, message))
        elif not isinstance(value, str) or "\x00" in value:
            problems.append((key, invalid, "must be text"))
        elif len(value) > VALUE_MAX:
            problems.append((key, invalid, f"must be at most {VALUE_MAX} characters"))
        elif provider == "scaleway" and key == "region" and value not in SCALEWAY_REGIONS:
            problems.append((key, invalid, "must be fr-par or nl-ams"))
    return problems


def esp_missing(provider: str, credentials: dict[str, Any]) -> list[CredentialField]:
    """The required credentials ``credentials`` lacks."""
    return [f for f in ESP_FIELDS[provider].fields if f.required and not credentials.get(f.key)]


def esp_allowed(provider: str, credentials: dict[str, Any], *, webhook: bool) -> dict[str, str]:
    """The stored credentials ``provider`` takes, for its backend (``webhook`` False) or its
    report view (True); anything else is dropped and named in the log (never its value)."""
    spec = ESP_FIELDS.get(provider)
    if spec is None:
        return {}
    kept: dict[str, str] = {}
    for key, value in credentials.items():
        field = spec.field(key)
        usable = field is not None and isinstance(value, str) and value and len(value) <= VALUE_MAX
        if not usable:
            logger.warning(
                "Ignoring stored %s credential %r: not an allowed setting", provider, key
            )
        elif field.webhook == webhook or (webhook and key == "api_key"):
            kept[key] = value  # Mailgun and Unisender Go also check signatures with the API key
    return kept


def esp_backend(provider: str, credentials: dict[str, Any]):
    """A merchant's anymail backend for ``provider``, built from the allowed credentials and
    the pinned options. Raises ``ValueError`` naming what is missing or not allowed."""
    from notifications.channels import api_url_check

    if provider not in ESP_FIELDS:
        raise ValueError(f"{provider!r} is not an email provider we support")
    allowed = esp_allowed(provider, credentials, webhook=False)
    missing = esp_missing(provider, allowed)
    if missing:
        names = ", ".join(field.key for field in missing)
        raise ValueError(f"{ESP_FIELDS[provider].label} needs {names}: set it in Settings")
    if "api_url" in allowed:
        allowed["api_url"] = api_url_check(provider, allowed["api_url"])
    backend_class = import_string(f"anymail.backends.{provider}.EmailBackend")
    return backend_class(fail_silently=False, **PINNED_OPTIONS, **allowed)


def esp_webhook_options(provider: str, credentials: dict[str, Any], view_class) -> dict[str, str]:
    """The keys the provider's report view takes from a merchant's credentials: its signing
    secret (and the API key, for ESPs that sign with it), when the view has that attribute."""
    allowed = esp_allowed(provider, credentials, webhook=True)
    return {key: value for key, value in allowed.items() if hasattr(view_class, key)}
