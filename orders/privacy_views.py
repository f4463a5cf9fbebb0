"""A customer's erasure and export in the dashboard, for every merchant: from the customer card
of an order's page, "Export data" downloads everything every app holds on them as JSON, and
"Erase personal data" asks for confirmation on a page of its own (what goes, what stays), then
erases on POST and says what it did. Both need the settings permission (owners and admins), as
the store's own privacy requests do; another merchant's customer answers 404."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import DetailView

from orders.models import Customer
from orders.privacy import customer_erase, customer_export
from postpurchase.dashboard.mixins import MerchantScopedMixin
from postpurchase.tenancy.permissions import Perm

SOURCE = "dashboard"


class _CustomerPrivacyView(MerchantScopedMixin, DetailView):
    required_perm = Perm.MANAGE_SETTINGS
    model = Customer
    context_object_name = "customer"

    def back_url(self) -> str:
        """Where to go afterwards: the order page it was opened from, else the orders."""
        wanted = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if wanted and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={self.request.get_host()}, require_https=False
        ):
            return wanted
        return redirect("dashboard:order_list").url


class CustomerEraseView(_CustomerPrivacyView):
    """GET: the confirmation (what goes, what stays). POST: the erasure, then back with a
    flash message saying what changed."""

    template_name = "orders/customer_erase.html"
    http_method_names = ["get", "post"]

    def get(self, request, pk: int):
        self.object = self.get_object()
        context = {"customer": self.object, "next": self.back_url()}
        return TemplateResponse(request, self.template_name, context)

    def post(self, request, pk: int):
        customer = self.get_object()
        erased = customer_erase(
            merchant=self.merchant, customer=customer, now=timezone.now(), source=SOURCE
        )
        changed = ", ".join(f"{what.replace('_', ' ')}: {n}" for what, n in erased.items() if n)
        if changed:
            messages.success(
                request, f"Customer #{customer.pk}'s personal data is erased ({changed})."
            )
        else:
            messages.info(request, f"Customer #{customer.pk} held no personal data any more.")
        return redirect(self.back_url())


class CustomerExportView(_CustomerPrivacyView):
    """Everything held on the customer, as a JSON download."""

    http_method_names = ["get"]

    def get(self, request, pk: int):
        export = customer_export(merchant=self.merchant, customer=self.get_object())
        response = HttpResponse(
            json.dumps(export, indent=2, ensure_ascii=False), content_type="application/json"
        )
        response["Content-Disposition"] = f'attachment; filename="customer-{pk}.json"'
        add_never_cache_headers(response)
        return response
