"""Provider callbacks at /webhooks/: ``email/<esp>/`` (tracking) and ``email/<esp>/inbound/`` for
every ESP anymail supports, made from anymail's own URL list so a new ESP comes with an
upgrade; ``email/<esp>/m/<merchant-slug>/`` for a merchant's own ESP account (checked with its
own secret); ``sms/status/`` and ``sms/inbound/`` for Twilio."""

from anymail import urls as anymail_urls
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from notifications import webhook_views

app_name = "notifications_webhooks"


def _email_patterns():
    patterns, seen = [], set()
    for pattern in anymail_urls.urlpatterns:
        name = pattern.name or ""
        inbound = name.endswith("_inbound_webhook")
        esp = name.removesuffix("_inbound_webhook").removesuffix("_tracking_webhook")
        esp = esp.removesuffix("_webhook")  # Mandrill: one URL for both
        if not esp or (esp, inbound) in seen:
            continue
        seen.add((esp, inbound))
        if not inbound:
            tracking = webhook_views.body_too_deep_is_400(pattern.callback)
            patterns.append(path(f"email/{esp}/", tracking, name=f"email_{esp}"))
            patterns.append(
                path(
                    f"email/{esp}/m/<slug:merchant_slug>/",
                    csrf_exempt(
                        webhook_views.body_too_deep_is_400(webhook_views.email_report_for_merchant)
                    ),
                    {"esp": esp, "view_class": pattern.callback.view_class},
                    name=f"email_{esp}_merchant",
                )
            )
            continue
        # Mailgun reads "mime" in its inbound URL as a request for the raw message.
        route = (
            rf"^email/{esp}/inbound(_mime)?/$" if esp == "mailgun" else rf"^email/{esp}/inbound/$"
        )
        inbound_view = webhook_views.body_too_deep_is_400(pattern.callback)
        patterns.append(re_path(route, inbound_view, name=f"email_{esp}_inbound"))
    return patterns


urlpatterns = [
    *_email_patterns(),
    path("sms/status/", webhook_views.sms_status, name="sms_status"),
    path("sms/inbound/", webhook_views.sms_inbound, name="sms_inbound"),
]
