"""The shopper's tracking page, on the shopper shell: ``/s/<merchant-slug>/track/<token>/``.

Reached from every message's ``tracking_url`` (this app's link maker, ``tracking.apps``) and
from the shell's order lookup (the default destination, above the plain order page). One page
per order; each parcel is a tab (``?parcel=<shipment id>``, plain links: the page needs no
script). It shows the brand, where the parcel is, when it should arrive, its checkpoints in the
shopper's time zone, its items, a notice when it is late or in trouble, the carrier's own link,
links to start a return (when the returns feature registers its link) and to support, the
opt-in to updates by email or SMS, and a few products bought with these.

Each view of the page counts for its parcel (``ShipmentPageViews``: shoppers checking again and
again are the "where is my order?" signal), and each suggestion shown and followed counts for
its product (``SuggestionStats``).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.functional import cached_property

from journeys.links import links
from postpurchase.errors import DomainError
from postpurchase.shopper.views import (
    FORM_REFERRER_POLICY,
    ShopperTokenView,
    shopper_post_attempt,
    shopper_render,
)
from tracking import counters, page, page_reads
from tracking.claims.selectors import claim_offer
from tracking.links import TRACKING_PAGE
from tracking.models import UpdateChannel
from tracking.updates import (
    CONSENT_AGREE,
    SMS_TERMS,
    masked_address,
    subscription_create,
    subscription_stop,
)

TEMPLATE = "shopper/tracking/page.html"
UPDATES_SAVED = {"on": "You’ll get this order’s updates.", "off": "Those updates are stopped."}


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 19 else None


class TrackingView(ShopperTokenView):
    """The base of the page's views: the order the link names, with its lines and parcels
    (``tracking.page_reads``: plain SQL, the page is on a hot path)."""

    purpose = TRACKING_PAGE
    referrer_policy = FORM_REFERRER_POLICY  # the page posts the updates form
    read: page_reads.PageOrder  # the order, its lines and parcels, and what the page needs
    token: str  # the link the shopper came with

    def link_accept(self, link: dict[str, Any]) -> None:
        parcel = _int(self.request.GET.get("parcel"))
        found = page_reads.page_order(self.merchant, link["o"], parcel=parcel)
        if found is None:
            raise Http404("no such order of this merchant")
        self.read = found

    def dispatch_in_scope(self, request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
        self.token = token
        return super().dispatch_in_scope(request, token=token, **kwargs)

    @cached_property
    def page_path(self) -> str:
        # The token the shopper came with, never a fresh one: following the page's own links
        # must not renew an expiring link. The path the page was asked by (a signed token
        # needs no quoting), spared a ``reverse()`` on the hot path.
        return self.request.path

    def here(self, parcel_id: int | None = None, **query: str) -> str:
        params = {**({"parcel": str(parcel_id)} if parcel_id else {}), **query}
        query_string = "&".join(f"{k}={v}" for k, v in params.items())
        return self.page_path + ("?" + query_string if params else "")


class TrackingPageView(TrackingView):
    def get(self, request: HttpRequest) -> HttpResponse:
        go = _int(request.GET.get("go"))
        if go is not None:
            return self.suggestion_follow(go) or self.page(request)
        return self.page(request)

    def suggestion_follow(self, product_id: int) -> HttpResponse | None:
        """A suggested product followed (``?go=<id>``): counted, then on to its page on the
        store. Not one this page suggests: ``None`` (the page itself is shown)."""
        product = next((p for p in self.read.suggested if p.pk == product_id), None)
        if product is None:
            return None
        counters.suggestions_count(
            merchant_id=self.merchant.pk, product_ids=[product.pk], now=timezone.now(), clicked=True
        )
        return HttpResponseRedirect(product.url, status=302)

    def page(self, request: HttpRequest, *, form_errors: dict | None = None, status=200):
        """The page; a view of it is counted on a GET only (a form's answer is no new look)."""
        now = timezone.now()
        read, merchant = self.read, self.merchant
        order = read.order
        zone = page.shopper_zone(order, merchant)
        shipments, lines, chosen = read.shipments, read.lines, read.chosen
        parcel = None
        if chosen is not None:
            number = shipments.index(chosen) + 1
            parcel = page.parcel_detail(
                shipment=chosen,
                number=number,
                items=read.items.get(chosen.pk, []),
                delayed=chosen.pk in read.delayed,
                events=read.events,
                zone=zone,
                now=now,
            )
        suggested = read.suggested
        if request.method == "GET":
            counters.page_view_count(
                merchant_id=merchant.pk,
                shipment_id=chosen.pk if chosen is not None else None,
                product_ids=[p.pk for p in suggested],
                now=now,
            )
        claim = (
            claim_offer(order, chosen, now, token=self.token, settings=read.protection)
            if chosen is not None
            else None
        )
        return_make = links.maker("return_url")
        return_url = (
            return_make(merchant=merchant, customer=order.customer, order=order, shipment=chosen)
            if return_make is not None
            else None
        )
        context = self.page_context(
            order=order,
            zone_name=str(zone),
            steps=page.STEPS,
            step=parcel.step if parcel else 0,
            headline=page.headline(order, parcel),
            parcel=parcel,
            tabs=[
                {"number": i, "shipment": s, "url": self.here(s.pk), "current": s == chosen}
                for i, s in enumerate(shipments, start=1)
            ]
            if len(shipments) > 1
            else [],
            # The order's own lines when the chosen parcel does not say what it holds.
            lines=lines,
            cancelled=order.is_cancelled,
            suggestions=[{"product": p, "url": self.here(go=str(p.pk))} for p in suggested],
            return_url=return_url,
            claim=claim,
            subscriptions=[
                {"id": s.pk, "channel": s.get_channel_display(), "address": masked_address(s)}
                for s in (page_reads.subscriptions(order) if read.subscribed else [])
            ],
            consent={"agree": CONSENT_AGREE, "sms_terms": SMS_TERMS},
            form_errors=form_errors or {},
            saved=UPDATES_SAVED.get(request.GET.get("updates", "")),
            action=self.here(chosen.pk if chosen else None),
        )
        return shopper_render(request, TEMPLATE, context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        """The updates form: ``subscribe`` (channel, address) or ``stop`` (a subscription)."""
        parcel_id = _int(request.GET.get("parcel"))
        attempt = shopper_post_attempt(request, form="tracking_updates")
        if attempt.throttled:
            errors = {"form": "Too many tries. Please try again in a few minutes."}
            response = self.page(request, form_errors=errors, status=429)
            response["Retry-After"] = str(attempt.retry_after)
            return response
        if request.POST.get("action") == "stop":
            stopped = subscription_stop(
                order=self.read.order, subscription_id=_int(request.POST.get("subscription")) or 0
            )
            return HttpResponseRedirect(
                self.here(parcel_id, updates="off" if stopped else ""), status=303
            )
        channel = request.POST.get("channel", "")
        if channel not in UpdateChannel.values:
            return self.page(request, form_errors={"form": "Choose email or text message."})
        if request.POST.get("consent") != "yes":
            errors = {channel: "Tick the box to agree to the updates."}
            return self.page(request, form_errors=errors)
        try:
            subscription_create(
                merchant=self.merchant,
                order=self.read.order,
                channel=channel,
                address=request.POST.get(f"{channel}_address", ""),
            )
        except DomainError as exc:
            return self.page(request, form_errors={channel: exc.message})
        return HttpResponseRedirect(self.here(parcel_id, updates="on"), status=303)
