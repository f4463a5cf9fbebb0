"""The shopper's pages reached from a message: unsubscribe (one click, RFC 8058) and the
preference centre, under ``/s/<merchant-slug>/``, on the shopper shell
(``postpurchase.shopper.views``).

No login: the signed token in the URL is the shopper's proof (``notifications.links``). It must
have been made for this page's purpose and name the merchant in the URL and a customer of it;
anything else is the shell's branded 404, so a page never says which part was wrong.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from notifications.links import PREFERENCES, UNSUBSCRIBE, preferences_url
from notifications.models import Channel
from notifications.preferences import (
    TOPICS,
    contact_preferences_save,
    contact_unsubscribe,
    muted_kinds,
)
from notifications.shopper_forms import PreferencesForm
from orders.models import Customer
from orders.selectors import customer_find
from postpurchase.errors import DomainError
from postpurchase.shopper.views import (
    FORM_REFERRER_POLICY,
    ShopperTokenView,
    masked_email,
    shopper_render,
)

UNSUBSCRIBE_SOURCE = "unsubscribe_link"
PREFERENCES_SOURCE = "preference_centre"


class CustomerLinkView(ShopperTokenView):
    """A page of the customer the link names (``c``), who must be the merchant's."""

    customer: Customer

    def link_accept(self, link: dict[str, Any]) -> None:
        customer = customer_find(merchant=self.merchant, customer_id=link["c"], external_id=None)
        if customer is None:
            raise Http404("no such customer of this merchant")
        self.customer = customer

    def page_context(self, **extra: Any) -> dict[str, Any]:
        return super().page_context(
            first_name=self.customer.first_name,
            masked_email=masked_email(self.customer.email),
            preferences_url=preferences_url(merchant=self.merchant, customer_id=self.customer.pk),
            **extra,
        )


# RFC 8058: the mail provider posts "List-Unsubscribe=One-Click" with no cookie and no CSRF
# token; the signed token is the authority. A GET never unsubscribes: link scanners fetch it.
@method_decorator(csrf_exempt, name="dispatch")
class UnsubscribeView(CustomerLinkView):
    purpose = UNSUBSCRIBE

    def link_accept(self, link: dict[str, Any]) -> None:
        if link["ch"] not in Channel.values:
            raise Http404("not a channel")
        super().link_accept(link)

    def _context(self, **extra: Any) -> dict[str, Any]:
        channel = self.link["ch"]
        return self.page_context(
            channel=channel,
            what="marketing emails" if channel == Channel.EMAIL else "marketing text messages",
            **extra,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        subscribed = getattr(self.customer, f"{self.link['ch']}_marketing_consent")
        return shopper_render(
            request,
            "shopper/notifications/unsubscribe.html",
            self._context(already_unsubscribed=not subscribed),
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        customer = contact_unsubscribe(
            merchant=self.merchant,
            customer_id=self.customer.pk,
            channel=self.link["ch"],
            source=UNSUBSCRIBE_SOURCE,
        )
        if customer is None:  # deleted since the page was loaded
            raise Http404("the customer is gone")
        if request.POST.get("List-Unsubscribe") == "One-Click":
            return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
        return shopper_render(request, "shopper/notifications/unsubscribed.html", self._context())


class PreferencesView(CustomerLinkView):
    purpose = PREFERENCES
    referrer_policy = FORM_REFERRER_POLICY

    def _form(self, data=None) -> PreferencesForm:
        muted = muted_kinds(merchant=self.merchant, customer_id=self.customer.pk)
        initial = {
            "email_marketing": self.customer.email_marketing_consent,
            "sms_marketing": self.customer.sms_marketing_consent,
            "topics": [kind.value for kind in TOPICS if kind.value not in muted],
        }
        return PreferencesForm(data, initial=initial, show_sms=bool(self.customer.phone))

    def _page(self, request: HttpRequest, form: PreferencesForm, **extra: Any) -> HttpResponse:
        return shopper_render(
            request, "shopper/notifications/preferences.html", self.page_context(form=form, **extra)
        )

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
            raise Http404("the customer is gone")
        # Post/redirect/get: reloading the confirmation does not post the form again.
        return HttpResponseRedirect(f"{request.path}?saved=1", status=303)
