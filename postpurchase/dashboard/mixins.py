"""Base classes for dashboard pages.

Every page is for a signed-in member of a merchant (the middleware has already put that merchant
in scope), declares the one ``Perm`` it needs, and is shown in the merchant's time zone. List and
detail pages build their queryset from their model's scoped manager themselves: a subclass narrows
it with ``filter_scoped`` and may not replace ``get_queryset``, so another merchant's row is simply
not there (404, never 403).
"""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ImproperlyConfigured
from django.template.response import SimpleTemplateResponse, TemplateResponse
from django.utils import timezone
from django.views.generic import DetailView, ListView

from postpurchase.tenancy.permissions import Perm, role_has_perm
from postpurchase.tenancy.scoping import ScopedQuerysetMixin

NO_MEMBERSHIP_TEMPLATE = "dashboard/errors/no_membership.html"
FORBIDDEN_TEMPLATE = "dashboard/errors/forbidden.html"


def merchant_zone(merchant) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(merchant.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


class DashboardMixin(LoginRequiredMixin):
    """Sign-in, membership and permission checks for one dashboard page.

    ``required_perm`` is mandatory: a page that forgets it answers 500, not an open door."""

    required_perm: Perm | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if self.required_perm is None:
            raise ImproperlyConfigured(f"{type(self).__name__} must set `required_perm`.")
        if request.membership is None:
            return TemplateResponse(request, NO_MEMBERSHIP_TEMPLATE, status=403).render()
        if not role_has_perm(request.membership.role, self.required_perm):
            context = {"required_perm": self.required_perm}
            return TemplateResponse(request, FORBIDDEN_TEMPLATE, context, status=403).render()
        # Render inside the override so every time on the page is in the merchant's zone.
        with timezone.override(merchant_zone(request.merchant)):
            response = super().dispatch(request, *args, **kwargs)
            if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
                response.render()
        return response

    @property
    def merchant(self):
        return self.request.merchant

    @property
    def membership(self):
        return self.request.membership


class MerchantScopedMixin(ScopedQuerysetMixin, DashboardMixin):
    """``model`` names a ``TenantModel``; the queryset always comes from its scoped manager."""


class ScopedListView(MerchantScopedMixin, ListView):
    """A list page over the current merchant's rows of ``model``."""


class ScopedDetailView(MerchantScopedMixin, DetailView):
    """A detail page; another merchant's row is not in the queryset, so it answers 404."""
