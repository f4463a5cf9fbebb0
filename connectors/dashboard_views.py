"""The integrations settings page: the webhook URLs to paste, the secrets (Shopify's, our tracking
webhook's, and those of the tracking services EasyPost, AfterShip and Shippo), recent deliveries
and privacy requests with their exports."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from connectors import selectors, services
from connectors.forms import FeedSecretForm, ShopifySecretForm
from connectors.models import DeliveryStatus, InboundConfig
from connectors.shopify import TOPICS
from connectors.tracking_feeds import NAMES
from postpurchase.dashboard.forms import add_domain_error
from postpurchase.dashboard.mixins import DashboardMixin
from postpurchase.errors import DomainError
from postpurchase.tenancy.permissions import Perm

DELIVERY_TONES = {
    DeliveryStatus.PROCESSED: "success",
    DeliveryStatus.RECEIVED: "info",
    DeliveryStatus.FAILED: "danger",
    DeliveryStatus.IGNORED: "neutral",
}


# The tracking services whose webhook secret the merchant pastes (Shippo's is a token we make).
PASTED_FEEDS = ("easypost", "aftership")


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _feed_url(vendor: str, slug: str) -> str:
    return _absolute(reverse(f"connectors:tracking_{vendor}_webhook", args=[slug]))


def _feed_secret_state(config: InboundConfig | None, vendor: str) -> dict:
    """When the service's secret was set, and until when the one it replaced still verifies."""
    if config is None:
        return {"set_at": None, "previous_until": None}
    expires_at = getattr(config, f"{vendor}_previous_expires_at")
    return {
        "set_at": getattr(config, f"{vendor}_secret_set_at"),
        "previous_until": expires_at if expires_at and expires_at > timezone.now() else None,
    }


class IntegrationsView(DashboardMixin, View):
    """Shows the page; a new tracking secret or Shippo token is in the one response that
    generates it and nowhere else (not in the session, a message or a cache)."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "connectors/integrations.html"

    def _feeds(self, config: InboundConfig | None, feed_forms: dict) -> list[dict]:
        return [
            {
                "vendor": vendor,
                "name": NAMES[vendor],
                "url": _feed_url(vendor, self.merchant.slug),
                "action": reverse(f"dashboard:settings_integrations_{vendor}_secret"),
                "form": feed_forms.get(vendor) or FeedSecretForm(vendor=vendor),
                **_feed_secret_state(config, vendor),
            }
            for vendor in PASTED_FEEDS
        ]

    def render(
        self,
        *,
        shopify_form=None,
        tracking_secret: str = "",
        feed_forms: dict | None = None,
        shippo_token: str = "",
        status: int = 200,
    ):
        slug = self.merchant.slug
        deliveries = list(selectors.inbound_deliveries_recent(merchant=self.merchant))
        for delivery in deliveries:
            delivery.tone = DELIVERY_TONES.get(delivery.status, "neutral")
        config = selectors.inbound_config_get(merchant=self.merchant)
        context = {
            "config": config,
            "shopify_form": shopify_form
            or ShopifySecretForm(
                initial={"shop_domain": config.shopify_shop_domain if config else ""}
            ),
            "tracking_secret": tracking_secret,
            "shopify_url": _absolute(reverse("connectors:shopify_webhook", args=[slug])),
            "tracking_url": _absolute(reverse("connectors:tracking_webhook", args=[slug])),
            "shopify_topics": sorted(TOPICS),
            "feeds": self._feeds(config, feed_forms or {}),
            "shippo_url": _feed_url("shippo", slug),
            "shippo": _feed_secret_state(config, "shippo"),
            "shippo_token": shippo_token,
            "deliveries": deliveries,
            "privacy_requests": selectors.privacy_requests_recent(merchant=self.merchant),
        }
        response = TemplateResponse(self.request, self.template_name, context, status=status)
        add_never_cache_headers(response)
        return response

    def get(self, request):
        return self.render()


@method_decorator(sensitive_post_parameters("secret"), name="dispatch")
class ShopifySecretView(IntegrationsView):
    http_method_names = ["post"]

    def post(self, request):
        form = ShopifySecretForm(request.POST)
        if not form.is_valid():
            return self.render(shopify_form=form)
        try:
            services.shopify_secret_set(
                merchant=self.merchant,
                secret=form.cleaned_data["secret"],
                shop_domain=form.cleaned_data["shop_domain"],
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(shopify_form=form)
        messages.success(request, "Shopify secret saved. New deliveries are verified with it.")
        return redirect("dashboard:settings_integrations")


class TrackingSecretView(IntegrationsView):
    http_method_names = ["post"]

    def post(self, request):
        _, secret = services.tracking_secret_rotate(merchant=self.merchant)
        return self.render(tracking_secret=secret)


@method_decorator(sensitive_post_parameters("secret"), name="dispatch")
class FeedSecretView(IntegrationsView):
    """Keep the webhook secret of EasyPost or AfterShip (``vendor``, from the URL) as the
    merchant pastes it; it is never shown back, and kept out of error reports."""

    http_method_names = ["post"]

    def post(self, request, vendor: str):
        form = FeedSecretForm(request.POST, vendor=vendor)
        if not form.is_valid():
            return self.render(feed_forms={vendor: form})
        try:
            services.feed_secret_set(
                merchant=self.merchant, vendor=vendor, secret=form.cleaned_data["secret"]
            )
        except DomainError as error:
            add_domain_error(form, error)
            return self.render(feed_forms={vendor: form})
        messages.success(
            request, f"{NAMES[vendor]} secret saved. New deliveries are verified with it."
        )
        return redirect("dashboard:settings_integrations")


class ShippoTokenView(IntegrationsView):
    http_method_names = ["post"]

    def post(self, request):
        _, token = services.shippo_token_rotate(merchant=self.merchant)
        return self.render(shippo_token=token)


class PrivacyExportView(DashboardMixin, View):
    """The export of a data request, as a JSON download; another merchant's answers 404."""

    required_perm = Perm.MANAGE_SETTINGS

    def get(self, request, pk: int):
        privacy_request = selectors.privacy_request_get(
            merchant=self.merchant, privacy_request_id=pk
        )
        if privacy_request is None or privacy_request.export is None:
            raise Http404("No such export.")
        response = HttpResponse(
            json.dumps(privacy_request.export, indent=2, ensure_ascii=False),
            content_type="application/json",
        )
        filename = f"privacy-request-{privacy_request.pk}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        add_never_cache_headers(response)
        return response
