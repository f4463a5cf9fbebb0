"""Provider callbacks: anymail's tracking and inbound webhooks (basic auth checked by anymail,
plus each ESP's own signature where it has one), and Twilio's status callbacks and incoming
texts (checked with twilio's ``RequestValidator``: 403 when the signature is wrong).

No session and no CSRF: the sender's signature is the authority. The views are thin; what a
report or a reply means is in ``notifications.reports``."""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
)
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notifications import reports
from notifications.esp import esp_webhook_options
from notifications.selectors import channel_settings_stored, message_sms_get_unscoped
from postpurchase.shopper.views import merchant_for_slug
from postpurchase.tenancy.scoping import merchant_scope

logger = logging.getLogger(__name__)
TWIML = "application/xml"


def body_too_deep_is_400(view):
    """anymail's views parse the ESP's JSON themselves: a body nested too deeply for Python's
    parser (100,000 ``[``) raises ``RecursionError``, which would be a 500. It is the sender's
    error, so it answers 400, as the API's and the connectors' parsers do."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RecursionError:
            logger.warning(
                "Refused a provider callback nested too deeply to parse: %s", request.path
            )
            return HttpResponseBadRequest("The body is nested too deeply to parse.")

    return wrapped


def email_tracking_received(sender, event, esp_name, **kwargs) -> None:
    """anymail's ``tracking`` signal (anymail delivers events only by signal)."""
    reports.email_tracking_record(event=event, esp_name=esp_name)


def email_inbound_received(sender, event, esp_name, **kwargs) -> None:
    """anymail's ``inbound`` signal: a reply to the List-Unsubscribe mailto."""
    reports.email_inbound_record(event=event)


def email_report_for_merchant(request: HttpRequest, esp: str, merchant_slug: str, view_class):
    """A merchant's own ESP's delivery reports: anymail's view for that ESP, checked with the
    merchant's own basic-auth secret (and any of the ESP's signing keys in its credentials),
    run with the merchant in scope so a report can only touch that merchant's messages."""
    merchant = merchant_for_slug(merchant_slug)
    row = channel_settings_stored(merchant=merchant) if merchant else None
    if row is None or row.email_provider != esp or not row.email_webhook_secret:
        raise Http404("No such report address.")
    credentials = json.loads(row.email_credentials or "{}")
    # Only the provider's allowlisted signing keys (Mailgun's webhook_signing_key, Resend's
    # signing_secret): any other stored key would set an attribute of anymail's view.
    keys = esp_webhook_options(
        esp, credentials if isinstance(credentials, dict) else {}, view_class
    )
    view = view_class.as_view(basic_auth=[row.email_webhook_secret], **keys)
    with merchant_scope(merchant):
        return view(request)


def _public_url(request: HttpRequest) -> str:
    """The URL Twilio requested, as it signed it: the site's public address, not the one a
    proxy passed on."""
    return settings.SITE_URL.rstrip("/") + request.get_full_path()


def _signed_by(request: HttpRequest, auth_token: str) -> bool:
    from twilio.request_validator import RequestValidator

    signature = request.headers.get("X-Twilio-Signature", "")
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(_public_url(request), request.POST, signature)


@csrf_exempt
@require_POST
def sms_status(request: HttpRequest) -> HttpResponse:
    ref = request.GET.get("message", "")
    known = ref.isascii() and ref.isdigit() and len(ref) < 19  # a bigint, not "²" or 10**30
    message = message_sms_get_unscoped(message_id=int(ref)) if known else None
    # One answer for an unknown message and a bad signature: no oracle for message ids.
    if message is None or not _signed_by(request, reports.sms_auth_token(message)):
        return HttpResponseForbidden("Invalid signature.")
    reports.sms_status_record(message=message, params=request.POST.dict())
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    from twilio.twiml.messaging_response import MessagingResponse

    sender = request.POST.get("From", "")
    merchants = reports.sms_inbound_merchants(
        account_sid=request.POST.get("AccountSid", ""),
        to=request.POST.get("To", ""),
        service_sid=request.POST.get("MessagingServiceSid", ""),
        sender=sender,
        signed=lambda auth_token: _signed_by(request, auth_token),
    )
    if merchants is None:
        return HttpResponseForbidden("Invalid signature.")
    word, answer = reports.sms_reply_record(
        merchants=merchants,
        sender=sender,
        body=request.POST.get("Body", ""),
        message_sid=request.POST.get("MessageSid", ""),
    )
    logger.info("An SMS reply (%s) for %d merchant(s)", word or "other", len(merchants))
    twiml = MessagingResponse()
    if answer:
        twiml.message(answer)
    return HttpResponse(str(twiml), content_type=TWIML)
