"""The two channels a message leaves by, each behind its provider's own library.

- **Email**: Django's email API. A merchant with its own provider gets that anymail backend
  (``anymail.backends.<name>.EmailBackend``) built with the credentials its provider's
  allowlist names (``notifications.esp``); any other
  merchant gets the platform's ``EMAIL_BACKEND`` (console in the embedded mode, SMTP or an
  anymail ESP in production).
- **SMS**: the twilio client with the merchant's Account SID and auth token, else the platform's.
  With neither, the embedded mode writes the text to the log; production fails the message.

Each send returns a ``SendOutcome``: accepted (with the provider's message id), or failed, and
then whether trying again could help (network errors, 429, 5xx) or not (an address refused).

A run of the hand-off sends through one ``ChannelConnections``: each email backend and twilio
client is made and opened once and serves every message of the run after it (one SMTP session,
one HTTP keep-alive pool), rather than a connection per message.
"""

from __future__ import annotations

import json
import logging
import pkgutil
import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.module_loading import import_string

from postpurchase.mail import message_id_domain

logger = logging.getLogger(__name__)

DETAIL_MAX = 1000
# Twilio error codes that say the number must not be texted again, and those that say it is
# not a number that can take an SMS (https://www.twilio.com/docs/api/errors).
TWILIO_OPTED_OUT = frozenset({21610})
TWILIO_BAD_NUMBER = frozenset({21211, 21214, 21217, 21407, 21408, 21612, 21614, 21635})
# Seconds before a request to Twilio gives up (twilio's own client waits forever): a stalled
# connection is then a transient failure of one text, not a worker held to its time limit.
TWILIO_TIMEOUT = 30


@dataclass(frozen=True)
class SendOutcome:
    accepted: bool
    provider: str
    provider_message_id: str = ""
    transient: bool = False  # worth trying again later
    reason: str = ""  # a stable code when not accepted
    detail: str = ""  # the provider's own words
    retry_after: float | None = None
    suppress: str = ""  # a SuppressionReason when the address must not be used again
    # Not sent and not an attempt: held until then (a daily quota on the platform's provider)
    hold_until: datetime | None = None


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:DETAIL_MAX]


# --- email ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def email_providers() -> tuple[str, ...]:
    """The anymail backends a merchant can choose, by name (``postmark``, ``sendgrid``, …): those
    with an allowlist of credentials in ``notifications.esp`` that this anymail has."""
    import anymail.backends

    from notifications.esp import ESP_FIELDS

    installed = {module.name for module in pkgutil.iter_modules(anymail.backends.__path__)}
    return tuple(sorted(name for name in ESP_FIELDS if name in installed))


def _provider_name(backend_path: str) -> str:
    module = backend_path.rsplit(".", 1)[0]
    if module.startswith("anymail.backends."):
        return "anymail:" + module.rsplit(".", 1)[1]
    return module.rsplit(".", 1)[-1]  # smtp, console, locmem, filebased


# The API addresses a merchant may point its provider at: the regions each ESP runs. Any other
# address is refused, so a merchant cannot make our workers post to a host of its choosing (and
# read the answer back from the message log).
ESP_API_HOSTS = {
    "mailgun": {"api.mailgun.net", "api.eu.mailgun.net"},
    "sparkpost": {"api.sparkpost.com", "api.eu.sparkpost.com"},
    "mailjet": {"api.mailjet.com"},
    "postmark": {"api.postmarkapp.com"},
    "sendgrid": {"api.sendgrid.com"},
    "brevo": {"api.brevo.com"},
    "resend": {"api.resend.com"},
    "mailersend": {"api.mailersend.com"},
    "mandrill": {"mandrillapp.com"},
    "unisender_go": {"go1.unisender.ru", "go2.unisender.ru"},
}


def api_url_check(provider: str, url: str) -> str:
    """An ``api_url`` credential: https, on one of the ESP's own hosts."""
    parts = urlsplit(url.strip()) if isinstance(url, str) else None
    allowed = ESP_API_HOSTS.get(provider, set())
    loopback = {"127.0.0.1", "localhost", "::1"}
    if parts is not None and settings.WEBHOOKS_ALLOW_LOOPBACK and parts.hostname in loopback:
        return url.strip()  # development and tests only, as for outbound webhooks
    if parts is None or parts.scheme != "https" or parts.hostname not in allowed:
        hosts = ", ".join(sorted(allowed)) or f"none: {provider} takes no api_url"
        raise ValueError(f"api_url must be https on {provider}'s own host ({hosts})")
    return url.strip()


def email_connection(channel_settings) -> tuple[Any, str]:
    """The email backend for a merchant (its own provider, else the platform's) and its name.
    A merchant's backend gets only the credentials its provider's allowlist names."""
    from notifications.esp import esp_backend

    provider = channel_settings.email_provider if channel_settings is not None else ""
    if provider:
        credentials = json.loads(channel_settings.email_credentials or "{}")
        backend = esp_backend(provider, credentials if isinstance(credentials, dict) else {})
        return backend, _provider_name(f"anymail.backends.{provider}.EmailBackend")
    platform = settings.EMAIL_BACKEND
    if platform == "notifications.platform_email.PlatformEmailBackend":
        platform = settings.PLATFORM_EMAIL_BACKEND
    return get_connection(fail_silently=False), _provider_name(platform)


def email_build(
    *,
    subject: str,
    text: str,
    html: str,
    to: str,
    from_email: str,
    reply_to: str,
    headers: dict[str, str],
    metadata: dict[str, str],
    tags: list[str],
    connection=None,
) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_email,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        # Django would make the Message-ID with the machine's own name (often "localhost").
        headers={"Message-ID": make_msgid(domain=message_id_domain()), **headers},
        connection=connection,
    )
    if html:
        email.attach_alternative(html, "text/html")
    # Read by anymail backends only: the ESP hands them back in its delivery reports.
    email.metadata = metadata
    email.tags = tags
    return email


def email_send(
    email: EmailMultiAlternatives, provider: str, *, keep_open: bool = False
) -> SendOutcome:
    """Send one email through its connection and say what happened. With ``keep_open`` the
    connection is opened first when it is not, and left open for the next email (its owner
    closes it); without, Django opens and closes one for this email alone."""
    from anymail.exceptions import (
        AnymailAPIError,
        AnymailConfigurationError,
        AnymailError,
        AnymailInvalidAddress,
        AnymailRecipientsRefused,
    )

    try:
        if keep_open:
            email.connection.open()  # a failure to connect is this email's, as in send()
        email.send(fail_silently=False)
    except AnymailRecipientsRefused as exc:
        status = getattr(email, "anymail_status", None)
        refused = sorted(
            f"{address} ({recipient.status})"
            for address, recipient in (getattr(status, "recipients", None) or {}).items()
        )
        detail = f"The provider refused {', '.join(refused)}." if refused else _detail(exc)
        return SendOutcome(False, provider, reason="rejected", detail=detail, suppress="bounce")
    except AnymailInvalidAddress as exc:
        return SendOutcome(False, provider, reason="invalid_address", detail=_detail(exc))
    except AnymailAPIError as exc:
        status = exc.status_code
        transient = status is None or status == 429 or status >= 500
        reason = "provider_unavailable" if transient else "provider_refused"
        return SendOutcome(False, provider, transient=transient, reason=reason, detail=_detail(exc))
    except (AnymailConfigurationError, ImproperlyConfigured) as exc:
        return SendOutcome(False, provider, reason="not_configured", detail=_detail(exc))
    except AnymailError as exc:
        return SendOutcome(False, provider, reason="provider_refused", detail=_detail(exc))
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        transient = all(400 <= code < 500 for code in codes)
        suppress = "" if transient else "bounce"
        reason = "provider_unavailable" if transient else "rejected"
        return SendOutcome(
            False,
            provider,
            transient=transient,
            reason=reason,
            detail=_detail(exc),
            suppress=suppress,
        )
    except smtplib.SMTPResponseException as exc:
        transient = 400 <= exc.smtp_code < 500
        reason = "provider_unavailable" if transient else "provider_refused"
        return SendOutcome(False, provider, transient=transient, reason=reason, detail=_detail(exc))
    except (smtplib.SMTPException, OSError) as exc:  # disconnected, refused, timed out
        return SendOutcome(
            False, provider, transient=True, reason="provider_unavailable", detail=_detail(exc)
        )
    status = getattr(email, "anymail_status", None)
    message_id = status.message_id if status is not None else None
    provider_id = "" if message_id is None else str(message_id)[:200]
    return SendOutcome(True, provider, provider_message_id=provider_id)


# --- SMS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsRoute:
    """Whose Twilio account a merchant's texts go through, and from what."""

    account_sid: str
    auth_token: str
    from_number: str
    messaging_service_sid: str
    own: bool  # the merchant's own account, not the platform's

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token)


def sms_route(channel_settings) -> SmsRoute:
    if channel_settings is not None and channel_settings.has_own_sms:
        return SmsRoute(
            channel_settings.twilio_account_sid,
            channel_settings.twilio_auth_token,
            channel_settings.sms_from_number,
            channel_settings.sms_messaging_service_sid,
            own=True,
        )
    return SmsRoute(
        settings.TWILIO_ACCOUNT_SID,
        settings.TWILIO_AUTH_TOKEN,
        settings.TWILIO_FROM_NUMBER,
        settings.TWILIO_MESSAGING_SERVICE_SID,
        own=False,
    )


def twilio_client(route: SmsRoute):
    """A twilio ``Client`` for the route; ``TWILIO_HTTP_CLIENT`` (a dotted path) swaps its HTTP
    client, the seam twilio itself offers (tests record the exact request there)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    http_client = (
        import_string(settings.TWILIO_HTTP_CLIENT)()
        if settings.TWILIO_HTTP_CLIENT
        else TwilioHttpClient(timeout=TWILIO_TIMEOUT)
    )
    return Client(route.account_sid, route.auth_token, http_client=http_client)


def sms_send(
    *, route: SmsRoute, to: str, body: str, status_callback: str = "", client=None
) -> SendOutcome:
    """Send one text through Twilio (or, with no account anywhere in the embedded mode, the
    log) and say what happened; through ``client`` when given (the route's own), else a new
    one."""
    from twilio.base.exceptions import (
        TwilioException,
        TwilioRestException,
        TwilioServiceException,
    )

    if not route.configured:
        if settings.SMS_LOG_ONLY:
            logger.info("SMS (not sent: no Twilio account) to %s: %s", to, body)
            return SendOutcome(True, "log")
        return SendOutcome(
            False,
            "twilio",
            reason="not_configured",
            detail="No Twilio account is set for this store or the platform.",
        )
    if not (route.from_number or route.messaging_service_sid):
        return SendOutcome(
            False,
            "twilio",
            reason="not_configured",
            detail="Set a sending number or a Messaging Service SID.",
        )
    sender: dict[str, str] = (
        {"messaging_service_sid": route.messaging_service_sid}
        if route.messaging_service_sid
        else {"from_": route.from_number}
    )
    try:
        if status_callback:
            sender["status_callback"] = status_callback
        client = client if client is not None else twilio_client(route)
        sent = client.messages.create(to=to, body=body, **sender)
    except (TwilioRestException, TwilioServiceException) as exc:
        # Twilio answers a refusal in one of two shapes: the 2010 API's JSON (raised as
        # TwilioRestException) or RFC 9457 problem details (TwilioServiceException).
        status = int(exc.status or 0)
        words = getattr(exc, "msg", "") or getattr(exc, "detail", "") or getattr(exc, "title", "")
        transient = status == 429 or status >= 500
        detail = _detail(f"Twilio {exc.code or status}: {words}")
        if transient:
            return SendOutcome(
                False, "twilio", transient=True, reason="provider_unavailable", detail=detail
            )
        if exc.code in TWILIO_OPTED_OUT:
            return SendOutcome(
                False, "twilio", reason="opted_out", detail=detail, suppress="sms_stop"
            )
        reason = "invalid_address" if exc.code in TWILIO_BAD_NUMBER else "provider_refused"
        return SendOutcome(False, "twilio", reason=reason, detail=detail)
    except requests.RequestException as exc:
        return SendOutcome(
            False, "twilio", transient=True, reason="provider_unavailable", detail=_detail(exc)
        )
    except TwilioException as exc:
        return SendOutcome(False, "twilio", reason="provider_refused", detail=_detail(exc))
    return SendOutcome(True, "twilio", provider_message_id=sent.sid or "")


# --- the connections of one run ---------------------------------------------------------------


class ChannelConnections:
    """The connections one run of the hand-off sends through, each made on first use and kept
    for the messages after it: an email backend per configuration (the platform's, or one
    merchant's own provider with its own credentials, never lent to another merchant) and a
    twilio client per account. Leaving the ``with`` block, however it is left, closes them.

    A send that fails transiently (a connection dropped, refused or timed out; an SMTP 4xx;
    an API's 429 or 5xx) or unexpectedly discards its connection, and the next message starts
    on a new one: after such an error the session's state is unknown (a reply may still be on
    its way). A permanent refusal (an SMTP 5xx on the recipient, an API error about the number)
    keeps it: the provider answered in full, and smtplib resets the session after a refusal."""

    def __init__(self) -> None:
        self._email: dict[tuple, tuple[Any, str] | SendOutcome] = {}
        self._twilio: dict[tuple[str, str], Any] = {}

    def __enter__(self) -> ChannelConnections:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def email_backend(self, channel_settings) -> tuple[Any, str] | SendOutcome:
        """The email backend for a merchant's settings and its provider's name (as
        ``email_connection``), or, when it cannot be made, the ``not_configured`` outcome
        that every email of the run then gets."""
        key = _email_key(channel_settings)
        if key not in self._email:
            try:
                self._email[key] = email_connection(channel_settings)
            except Exception as exc:  # a provider name or credentials the backend cannot use
                provider = getattr(channel_settings, "email_provider", "") or "platform"
                self._email[key] = SendOutcome(
                    False, provider, reason="not_configured", detail=_detail(exc)
                )
        return self._email[key]

    def email_send(self, email: EmailMultiAlternatives, provider: str) -> SendOutcome:
        """``email_send`` through the email's backend (one of ``email_backend``'s), which
        stays open for the next email unless this one failed transiently."""
        try:
            outcome = email_send(email, provider, keep_open=True)
        except Exception:
            _email_close(email.connection)
            raise
        if outcome.transient:
            _email_close(email.connection)  # the next send opens it again
        return outcome

    def sms_send(
        self, *, route: SmsRoute, to: str, body: str, status_callback: str = ""
    ) -> SendOutcome:
        """``sms_send`` through the route's account's client, made on its first text."""
        key = (route.account_sid, route.auth_token)
        client = None
        if route.configured:
            client = self._twilio.get(key)
            if client is None:
                client = self._twilio[key] = twilio_client(route)
        try:
            outcome = sms_send(
                route=route, to=to, body=body, status_callback=status_callback, client=client
            )
        except Exception:
            _twilio_close(self._twilio.pop(key, None))
            raise
        if outcome.transient:
            _twilio_close(self._twilio.pop(key, None))
        return outcome

    def close(self) -> None:
        """Close every connection; one that fails to close is logged, never raised."""
        for made in self._email.values():
            if not isinstance(made, SendOutcome):
                _email_close(made[0])
        for client in self._twilio.values():
            _twilio_close(client)
        self._email.clear()
        self._twilio.clear()


def _email_key(channel_settings) -> tuple:
    """Which backend an email goes through: the platform's, or this merchant's provider with
    these credentials."""
    provider = channel_settings.email_provider if channel_settings is not None else ""
    if not provider:
        return ("platform",)
    return (channel_settings.merchant_id, provider, channel_settings.email_credentials)


def _email_close(backend) -> None:
    try:
        backend.close()  # Django's SMTP and anymail's backends can be opened again after
    except Exception:
        logger.warning("Closing an email connection failed", exc_info=True)


def _twilio_close(client) -> None:
    session = getattr(getattr(client, "http_client", None), "session", None)
    if session is None:
        return
    try:
        session.close()
    except Exception:
        logger.warning("Closing a Twilio connection failed", exc_info=True)
