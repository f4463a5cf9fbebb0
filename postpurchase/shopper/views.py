"""The shopper shell's views: the base of every page under ``/s/<merchant-slug>/``.

``ShopperView`` loads the active merchant named by the URL's slug, handles the request inside
``merchant_scope`` (so scoped managers work and nothing of another merchant can be read), and
puts the shopper headers on every answer. ``ShopperTokenView`` adds the signed link
(``postpurchase.shopper.tokens``): it must be for the view's purpose, for this merchant and not
expired. Every failure (an unknown or inactive merchant, a bad, expired or foreign token, a row
that is gone: a view raises ``Http404``) is the same branded 404, so a page never says which
part was wrong.

Apps build their pages on these two classes in their own ``shopper_views.py``; the templates
extend ``jinja_templates/shopper/base.html`` (Jinja2: ``postpurchase/shopper/jinja.py``).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import SimpleTemplateResponse
from django.views import View

from postpurchase import rows
from postpurchase.dashboard import throttling
from postpurchase.dashboard.throttling import Attempt
from postpurchase.shopper.forms import OrderLookupForm
from postpurchase.shopper.lookup import lookup_destination, order_lookup
from postpurchase.shopper.tokens import LinkPurpose, link_read
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope

# The token is in the URL: no cache may keep the page, no search engine list it, and no other
# site get its address (Referrer-Policy). The pages run no script and are framed by no one;
# images may come from the merchant's https logo host. Stricter than the dashboard's policy
# (postpurchase.csp), which keeps a response's own.
SHOPPER_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SHOPPER_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": SHOPPER_CSP,
}
# A page with a CSRF-checked form: a browser posts a form from a no-referrer page with
# "Origin: null", which Django's check refuses. "same-origin" still keeps the address from every
# other site (the logo's host, the help centre) and lets the real origin through.
FORM_REFERRER_POLICY = "same-origin"
NOT_FOUND_TEMPLATE = "shopper/not_found.html"


JINJA2 = "jinja2"  # the shell's template engine (settings.TEMPLATES: jinja_templates/)


def shopper_render(
    request: HttpRequest, template_name: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """A shopper template rendered by the shell's Jinja2 engine, asked by name: the default
    search would try Django's engine first and fail with an exception for every page, whose
    traceback (every frame of the request) is garbage the cycle collector must find."""
    return render(request, template_name, context, status=status, using=JINJA2)


def shopper_headers(response: HttpResponse, *, referrer_policy: str = "no-referrer"):
    for name, value in SHOPPER_HEADERS.items():
        response[name] = value
    response["Referrer-Policy"] = referrer_policy  # over SecurityMiddleware's site-wide one
    return response


def shopper_not_found(request: HttpRequest, merchant: Merchant | None) -> HttpResponse:
    """The branded "we can't find that page", with the shopper headers. Without a merchant (an
    unknown slug) it carries no brand."""
    response = shopper_render(request, NOT_FOUND_TEMPLATE, {"merchant": merchant}, status=404)
    return shopper_headers(response)


def masked_email(email: str) -> str:
    """``ada@example.net`` → ``a•••@example.net``: enough for the shopper to recognise, too
    little to learn an address from a forwarded link."""
    local, at, domain = email.partition("@")
    if not at or not local:
        return ""
    return f"{local[0]}•••@{domain}"


def shopper_post_attempt(request: HttpRequest, *, form: str, scope: str = "") -> Attempt:
    """Count one post of a shopper page's form (``form`` names it) from the client's address,
    and, given a ``scope`` (``order:<merchant>:<order>``), for that too, each at
    ``SHOPPER_LOOKUP_RATE_PER_IP``: the forms a link's holder may post (updates, claims) are
    held to the lookup's per-address limit. Throttled when either count is over."""
    rate = throttling.rate_parse(
        settings.SHOPPER_LOOKUP_RATE_PER_IP, setting="SHOPPER_LOOKUP_RATE_PER_IP"
    )
    keys = [(f"{form}:ip:{throttling.client_address(request)}", rate)]
    if scope:
        keys.append((f"{form}:{scope}", rate))
    return throttling.attempt_count(keys=keys, now=throttling.clock())


# Active merchants by slug, as read at most ``SHOPPER_MERCHANT_SECONDS`` ago by this process:
# slug → (when the entry goes stale, on ``time.monotonic``'s clock; the merchant).
_merchants: dict[str, tuple[float, Merchant]] = {}
MERCHANTS_KEPT = 10_000  # more than this many slugs in a process: it starts again


def merchant_for_slug(slug: str) -> Merchant | None:
    """The active merchant a shopper URL names, or ``None`` (an inactive merchant has no
    public pages). Every shopper page starts here, so the merchant is kept for
    ``SHOPPER_MERCHANT_SECONDS`` (a few seconds) per process: a change of brand, or a merchant
    switched off, reaches the other processes' pages that much later (this process's at once:
    ``merchants_forget``). Each caller gets its own copy. Plain SQL (``postpurchase.rows``)."""
    now = time.monotonic()
    kept = _merchants.get(slug)
    if kept is not None and kept[0] > now:
        return copy.copy(kept[1])
    found = rows.instances(
        Merchant, f"FROM {rows.table(Merchant)} t WHERE t.slug = %s AND t.is_active", [slug]
    )
    if not found:
        _merchants.pop(slug, None)
        return None
    if settings.SHOPPER_MERCHANT_SECONDS > 0:
        if len(_merchants) >= MERCHANTS_KEPT:
            _merchants.clear()
        _merchants[slug] = (now + settings.SHOPPER_MERCHANT_SECONDS, found[0])
        return copy.copy(found[0])
    return found[0]


@receiver([post_save, post_delete], sender=Merchant, dispatch_uid="shopper_merchants_forget")
def merchants_forget(**kwargs: Any) -> None:
    """A merchant saved or deleted in this process: no page of it here uses the old row."""
    _merchants.clear()


class ShopperView(View):
    """A page of the merchant the URL names. Subclasses write ``get``/``post`` as in any
    Django view and find ``self.merchant``; raising ``Http404`` gives the branded 404. A page
    with a form sets ``referrer_policy = FORM_REFERRER_POLICY``."""

    referrer_policy = "no-referrer"
    merchant: Merchant

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # HEAD answers as GET, set on the class: Django's View.setup would otherwise set
        # ``self.head = self.get`` on each instance, a reference cycle through the view that
        # leaves every page's data for the cycle collector.
        super().__init_subclass__(**kwargs)
        if "get" in cls.__dict__ and "head" not in cls.__dict__:
            cls.head = cls.get

    def dispatch(self, request: HttpRequest, merchant_slug: str, **kwargs: Any) -> HttpResponse:
        merchant = merchant_for_slug(merchant_slug)
        if merchant is None:
            return shopper_not_found(request, None)
        with merchant_scope(merchant):
            self.merchant = merchant
            try:
                response = self.dispatch_in_scope(request, **kwargs)
            except Http404:
                return shopper_not_found(request, merchant)
            if isinstance(response, SimpleTemplateResponse):
                response.render()  # inside the scope: templates may read scoped rows
        return shopper_headers(response, referrer_policy=self.referrer_policy)

    def dispatch_in_scope(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return super().dispatch(request, **kwargs)

    def page_context(self, **extra: Any) -> dict[str, Any]:
        """What every shell template needs (the merchant's brand), plus the page's own."""
        return {"merchant": self.merchant, **extra}


class ShopperTokenView(ShopperView):
    """A page reached by a signed link (a URL with ``<str:token>``). Subclasses name their
    ``purpose`` and load what the link names in ``link_accept`` (raising ``Http404`` when it
    is gone); ``self.link`` is the token's content."""

    purpose: LinkPurpose
    link: dict[str, Any]

    def dispatch_in_scope(self, request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
        link = link_read(token, purpose=self.purpose, merchant_id=self.merchant.pk)
        if link is None:
            raise Http404("not a link of this page and merchant")
        self.link = link
        self.link_accept(link)
        return super().dispatch_in_scope(request, **kwargs)

    def link_accept(self, link: dict[str, Any]) -> None:
        """Load the rows the link names (within the merchant's scope); ``Http404`` if gone."""


class ShopperNotFoundView(ShopperView):
    """Any other address under a merchant's ``/s/<slug>/``: its branded 404, not the
    dashboard's."""

    def dispatch_in_scope(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        raise Http404("no such shopper page")


NOT_FOUND_MESSAGE = (
    "We couldn’t find an order with that number and email address or postal code. "
    "Check both and try again."
)


class OrderLookupView(ShopperView):
    """Find an order by its number and email or postal code (``postpurchase.shopper.lookup``)
    and go on to the destination's signed page. "No such order", "wrong email" and "wrong
    postal code" are one answer."""

    referrer_policy = FORM_REFERRER_POLICY
    template_name = "shopper/lookup.html"

    def _page(self, request: HttpRequest, form: OrderLookupForm, *, status=200) -> HttpResponse:
        context = self.page_context(form=form)
        return shopper_render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        if lookup_destination() is None:
            raise Http404("no app offers a page for a found order")
        return self._page(
            request, OrderLookupForm(initial={"destination": request.GET.get("for", "")})
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = OrderLookupForm(request.POST)
        if not form.is_valid():
            return self._page(request, form)
        destination = lookup_destination(form.cleaned_data["destination"])
        if destination is None:
            raise Http404("no app offers a page for a found order")
        outcome = order_lookup(
            request=request,
            merchant=self.merchant,
            number=form.cleaned_data["number"],
            email=form.cleaned_data["email"],
            postal_code=form.cleaned_data["postal_code"],
            now=throttling.clock(),
        )
        if outcome.throttled:
            minutes = max(1, -(-outcome.retry_after // 60))
            plural = "" if minutes == 1 else "s"
            form.add_error(None, f"Too many tries. Please try again in {minutes} minute{plural}.")
            response = self._page(request, form, status=429)
            response["Retry-After"] = str(outcome.retry_after)
            return response
        if outcome.order_id is None:
            form.add_error(None, NOT_FOUND_MESSAGE)
            return self._page(request, form)
        path = destination.path_for(merchant=self.merchant, order_id=outcome.order_id)
        return HttpResponseRedirect(path, status=303)
