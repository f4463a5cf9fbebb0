"""The shopper's claim pages, under the tracking page's signed link
(``/s/<slug>/track/<token>/claim/``): the form for one parcel (``?parcel=<shipment id>``) and
the parcel's claim (``claim/status/?parcel=…``). The token names the order; the parcel must be
one of its shipments (the token, not the query, is the proof): any other, or none when the
order has several, is a page saying there is no such parcel. Phone-first, no script."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from orders.models import Order, Shipment
from postpurchase.errors import DomainError
from postpurchase.shopper.views import (
    FORM_REFERRER_POLICY,
    ShopperTokenView,
    shopper_post_attempt,
    shopper_render,
)
from tracking.claims.forms import ClaimForm
from tracking.claims.links import claim_page_path
from tracking.claims.models import Claim
from tracking.claims.photos import ACCEPTED, PHOTO_MAX_BYTES, PHOTOS_MAX, UploadLimit
from tracking.claims.rules import eligibility, open_claim
from tracking.claims.selectors import protection_settings_of
from tracking.claims.services import claim_file
from tracking.links import TRACKING_PAGE
from tracking.links import VIEW_NAME as TRACKING_VIEW
from tracking.page import shopper_zone


def clock():
    """The pages' clock (tests set it: the rules count days from now)."""
    return timezone.now()


TOO_MANY = "Too many tries. Please try again in a few minutes."


NO_PARCEL = "We couldn’t find that parcel in this order. Please use the link on its tracking page."


class _OrderLinkView(ShopperTokenView):
    purpose = TRACKING_PAGE
    order: Order
    token: str
    shipment: Shipment | None

    def dispatch_in_scope(self, request: HttpRequest, token: str, **kwargs: Any) -> HttpResponse:
        self.token = token  # the pages link to each other with the link the shopper holds
        return super().dispatch_in_scope(request, token, **kwargs)

    def page_context(self, **extra: Any) -> dict[str, Any]:
        return super().page_context(
            tracking_path=self.tracking_path(extra.get("shipment")), **extra
        )

    def tracking_path(self, shipment: Shipment | None) -> str:
        """Back to the parcel on the tracking page (empty while no tracking page is routed)."""
        kwargs = {"merchant_slug": self.merchant.slug, "token": self.token}
        try:
            path = reverse(TRACKING_VIEW, kwargs=kwargs)
        except NoReverseMatch:
            return ""
        return f"{path}?parcel={shipment.pk}" if shipment is not None else path

    def parcel(self, request: HttpRequest) -> Shipment | None:
        """The order's parcel the query names; the only one when it names none."""
        shipments = Shipment.objects.filter(order=self.order)
        parcel = request.GET.get("parcel", "")
        if parcel.isascii() and parcel.isdigit() and len(parcel) <= 18:
            return shipments.filter(pk=int(parcel)).first()
        only = list(shipments[:2])
        return only[0] if len(only) == 1 else None

    def link_accept(self, link: dict[str, Any]) -> None:
        order = Order.objects.filter(pk=link["o"]).first()  # the merchant's orders only
        if order is None:
            raise Http404("no such order of this merchant")
        self.order = order


@method_decorator(csrf_exempt, name="dispatch")  # checked in post(), once the limit is set
class ClaimFileView(_OrderLinkView):
    """The claim form. Its POST sets the upload limit before anything reads the body, then
    checks CSRF (Django's way for a view that changes its upload handlers)."""

    referrer_policy = FORM_REFERRER_POLICY
    template_name = "shopper/claims/file.html"

    def _page(self, request, *, form, refusal=None, photo_error="") -> HttpResponse:
        context = self.page_context(
            order=self.order,
            shipment=self.shipment,
            form=form,
            refusal=refusal,
            photo_error=photo_error,
            accepted=ACCEPTED,
            photos_max=PHOTOS_MAX,
            photo_max_mb=PHOTO_MAX_BYTES // (1024 * 1024),
        )
        return shopper_render(request, self.template_name, context)

    def _start(self, request: HttpRequest):
        self.shipment = self.parcel(request)
        if self.shipment is None:
            return None, None
        existing = open_claim(self.shipment)
        if existing is not None:
            return None, existing
        settings = protection_settings_of(self.merchant)
        return eligibility(
            order=self.order, shipment=self.shipment, settings=settings, now=clock()
        ), None

    def _to_claim(self, request, claim: Claim) -> HttpResponse:
        path = claim_page_path(merchant=self.merchant, claim=claim, token=self.token)
        return HttpResponseRedirect(path, status=303)

    def get(self, request: HttpRequest) -> HttpResponse:
        found, existing = self._start(request)
        if existing is not None:
            return self._to_claim(request, existing)
        if found is None:
            return self._page(request, form=None, refusal=NO_PARCEL)
        if not found.kinds:
            return self._page(request, form=None, refusal=found.refusal.message)
        return self._page(request, form=ClaimForm(kinds=found.kinds))

    def post(self, request: HttpRequest) -> HttpResponse:
        """Counted first (per client address and per order), then the parcel's eligibility,
        which reads only the address: a post that cannot become a claim is answered before
        its body (up to the upload limit's megabytes) is read."""
        scope = f"order:{self.merchant.pk}:{self.order.pk}"
        attempt = shopper_post_attempt(request, form="claims", scope=scope)
        if attempt.throttled:
            self.shipment = self.parcel(request)
            response = self._page(request, form=None, refusal=TOO_MANY)
            response.status_code = 429
            response["Retry-After"] = str(attempt.retry_after)
            return response
        found, existing = self._start(request)
        if existing is not None:
            return self._to_claim(request, existing)
        if found is None:
            return self._page(request, form=None, refusal=NO_PARCEL)
        if not found.kinds:
            return self._page(request, form=None, refusal=found.refusal.message)
        request.upload_handlers.insert(0, UploadLimit(request))
        return self._checked_post(request, found)

    @method_decorator(csrf_protect)
    def _checked_post(self, request: HttpRequest, found) -> HttpResponse:
        form = ClaimForm(request.POST, kinds=found.kinds)
        if not form.is_valid():
            return self._page(request, form=form)
        try:
            claim = claim_file(
                merchant=self.merchant,
                order=self.order,
                shipment=self.shipment,
                kind=form.cleaned_data["kind"],
                statement=form.cleaned_data["statement"],
                photos=request.FILES.getlist("photos"),
                now=clock(),
            )
        except DomainError as error:
            if error.field == "photos":
                return self._page(request, form=form, photo_error=error.message)
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
            return self._page(request, form=form)
        return self._to_claim(request, claim)


class ClaimView(_OrderLinkView):
    """A claim's page: where it stands, and what the store said."""

    template_name = "shopper/claims/claim.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        shipment = self.parcel(request)
        claim = None
        if shipment is not None:
            claim = (
                Claim.objects.filter(shipment=shipment)
                .select_related("replacement_order")
                .order_by("-filed_at", "-id")
                .first()
            )
        context = self.page_context(order=self.order, claim=claim, shipment=shipment)
        # dates in the shopper's time zone, as on the tracking page (tracking.page)
        with timezone.override(shopper_zone(self.order, self.merchant)):
            return shopper_render(request, self.template_name, context)
