"""The shopper's pages reached from a message: unsubscribe (one click, RFC 8058) and the
preference centre, under ``/s/<merchant-slug>/``.

No login: the signed token in the URL is the shopper's proof (``notifications.links``). It must
have been made for this page's purpose and name the merchant in the URL and a customer of it;
anything else is the same branded 404, so a page never says which part was wrong. The merchant
is in scope while the page is handled.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from notifications.links import (
    PREFERENCES_SALT,
    UNSUBSCRIBE_SALT,
    preferences_url,
    token_read,
)
from notifications.models import Channel
from notifications.preferences import (
    TOPICS,
    contact_preferences_save,
    contact_unsubscribe,
    muted_kinds,
)
from notifications.shopper_forms import PreferencesForm
from orders.models import Customer
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

UNSUBSCRIBE_SOURCE = "unsubscribe_link"
PREFERENCES_SOURCE = "preference_centre"

# The token is in the URL: no cache may keep the page, no search engine list it, and no
# other site get its address (Referrer-Policy, below). The pages run no script and are
# framed by no one; images may come from the merchant's https logo host.
SHOPPER_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
# The preference centre's form is CSRF-checked, and a browser posts a form from a no-referrer
# page with "Origin: null", which Django's check refuses. "same-origin" still keeps the address
# from every other site (the logo's host, the help centre) and lets the real origin through.
PREFERENCES_REFERRER_POLICY = "same-origin"


def shopper_headers(response: HttpResponse, *, referrer_policy: str = "no-referrer"):
    for name, value in SHOPPER_HEADERS.items():
        response[name] = value
    response["Referrer-Policy"] = referrer_policy  # over SecurityMiddleware's site-wide one
    return response


def masked_email(email: str) -> str:
    """``ada@example.net`` → ``a•••@example.net``: enough for the shopper to recognise, too
    little to learn an address from a forwarded link."""
    local, at, domain = email.partition("@")
    if not at or not local:
        return ""
    return f"{local[0]}•••@{domain}"


def shopper_not_found(request: HttpRequest, merchant: Merchant | None) -> HttpResponse:
    return render(request, "shopper/not_found.html", {"merchant": merchant}, status=404)


class ShopperTokenView(View):
    """Loads the merchant (active, by slug) and the token's customer, or answers 404. Subclasses
    name the token's ``salt`` and find ``self.merchant``, ``self.customer`` and ``self.token``."""

    salt: str
    referrer_policy = "no-referrer"

    def dispatch(self, request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
        merchant = Merchant.objects.filter(slug=merchant_slug, is_active=True).first()
        if merchant is None:
            return shopper_headers(shopper_not_found(request, None))
        with merchant_scope(merchant):
            # Rendered inside the scope (render(), not a lazy TemplateResponse).
            response = self._dispatch_in_scope(request, merchant, token)
        return shopper_headers(response, referrer_policy=self.referrer_policy)

    def _dispatch_in_scope(self, request, merchant: Merchant, token: str) -> HttpResponse:
        data = token_read(token, salt=self.salt)
        if data is None or data["m"] != merchant.pk:
            return shopper_not_found(request, merchant)
        customer = Customer.objects.filter(pk=data["c"]).first()
        if customer is None:
            return shopper_not_found(request, merchant)
        self.merchant, self.customer, self.token = merchant, customer, data
        return super().dispatch(request)

    def page_context(self, **extra: Any) -> dict[str, Any]:
        return {
            "merchant": self.merchant,
            "first_name": self.customer.first_name,
            "masked_email": masked_email(self.customer.email),
            "preferences_url": preferences_url(
                merchant=self.merchant, customer_id=self.customer.pk
            ),
            **extra,
        }


# RFC 8058: the mail provider posts "List-Unsubscribe=One-Click" with no cookie and no CSRF
# token; the signed token is the authority. A GET never unsubscribes: link scanners fetch it.
@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(ShopperTokenView):
    salt = UNSUBSCRIBE_SALT

    def _context(self, **extra: Any) -> dict[str, Any]:
        channel = self.token["ch"]
        return self.page_context(
            channel=channel,
            what="marketing emails" if channel == Channel.EMAIL else "marketing text messages",
            **extra,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        subscribed = getattr(self.customer, f"{self.token['ch']}_marketing_consent")
        return render(
            request, "shopper/unsubscribe.html", self._context(already_unsubscribed=not subscribed)
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        customer = contact_unsubscribe(
            merchant=self.merchant,
            customer_id=self.customer.pk,
            channel=self.token["ch"],
            source=UNSUBSCRIBE_SOURCE,
        )
        if customer is None:  # deleted since the page was loaded
            return shopper_not_found(request, self.merchant)
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
        return render(request, "shopper/unsubscribed.html", self._context())


class PreferencesView(ShopperTokenView):
    salt = PREFERENCES_SALT
    referrer_policy = PREFERENCES_REFERRER_POLICY

    def _form(self, data=None) -> PreferencesForm:
        muted = muted_kinds(merchant=self.merchant, customer_id=self.customer.pk)
        initial = {
            "email_marketing": self.customer.email_marketing_consent,
            "sms_marketing": self.customer.sms_marketing_consent,
            "topics": [kind.value for kind in TOPICS if kind.value not in muted],
        }
        return PreferencesForm(data, initial=initial, show_sms=bool(self.customer.phone))

    def _page(self, request: HttpRequest, form: PreferencesForm, **extra: Any) -> HttpResponse:
        return render(request, "shopper/preferences.html", self.page_context(form=form, **extra))

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, self._form(), saved=request.GET.get("saved") == "1")

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self._form(request.POST)
        if not form.is_valid():
            return self._page(request, form)
        try:
            customer = contact_preferences_save(
                merchant=self.merchant,
                customer_id=self.customer.pk,
                email_marketing=form.cleaned_data["email_marketing"],
                # Without a phone the switch is not shown: what the customer had stays.
                sms_marketing=form.cleaned_data.get(
                    "sms_marketing", self.customer.sms_marketing_consent
                ),
                muted=form.muted(),
                source=PREFERENCES_SOURCE,
            )
        except DomainError as error:
            form.add_error(None, error.message)
            return self._page(request, form)
        if customer is None:
            return shopper_not_found(request, self.merchant)
        # Post/redirect/get: reloading the confirmation does not post the form again.
        return HttpResponseRedirect(f"{request.path}?saved=1", status=303)
