"""The integrations settings page: the webhook URLs to paste, the secrets, recent deliveries and
privacy requests with their exports."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views import View

from connectors import selectors, services
from connectors.forms import ShopifySecretForm
from connectors.models import DeliveryStatus
from connectors.shopify import TOPICS
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


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


class IntegrationsView(DashboardMixin, View):
    """Shows the page; a new tracking secret is in the one response that generates it and
    nowhere else (not in the session, a message or a cache)."""

    required_perm = Perm.MANAGE_SETTINGS
    template_name = "connectors/integrations.html"

    def render(self, *, shopify_form=None, tracking_secret: str = "", status: int = 200):
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
            "deliveries": deliveries,
            "privacy_requests": selectors.privacy_requests_recent(merchant=self.merchant),
        }
        response = TemplateResponse(self.request, self.template_name, context, status=status)
        add_never_cache_headers(response)
        return response

    def get(self, request):
        return self.render()


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
