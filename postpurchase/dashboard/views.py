"""Dashboard pages of the shell: home, live counts, the merchant switcher and "coming soon".

The apps' own pages (orders, journeys, messages, …) live in each app and are included by
``urls.py``; what the home page shows comes from the cards they register (``cards.py``)."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from postpurchase.dashboard.cards import home_cards
from postpurchase.dashboard.mixins import DashboardMixin, merchant_zone
from postpurchase.dashboard.navigation import NavItem
from postpurchase.tenancy.middleware import SESSION_KEY
from postpurchase.tenancy.permissions import Perm
from postpurchase.tenancy.selectors import membership_get


def merchant_today(merchant):
    return timezone.localdate(timezone=merchant_zone(merchant))


class HomeView(DashboardMixin, TemplateView):
    required_perm = Perm.VIEW
    template_name = "dashboard/home.html"

    def get_context_data(self, **kwargs):
        today = merchant_today(self.merchant)
        cards = home_cards.all()
        counts = home_cards.counts(today=today)
        return super().get_context_data(
            counts=counts,
            figures=[
                (figure, counts.get(figure.key, 0)) for card in cards for figure in card.figures
            ],
            cards=[card for card in cards if card.template],
            **home_cards.context(merchant=self.merchant, today=today),
            **kwargs,
        )


class ComingSoonView(DashboardMixin, TemplateView):
    """An area of the navigation that is not built yet: what it will do, in the shell."""

    required_perm = Perm.VIEW
    template_name = "dashboard/coming_soon.html"
    item: NavItem | None = None

    def get_context_data(self, **kwargs):
        return super().get_context_data(item=self.item, **kwargs)


@method_decorator(never_cache, name="dispatch")
class CountsView(DashboardMixin, View):
    """The home page's figures as JSON, polled by ``dashboard.js`` to keep them live."""

    required_perm = Perm.VIEW

    def get(self, request):
        return JsonResponse(home_cards.counts(today=merchant_today(self.merchant)))


class MerchantSwitchView(LoginRequiredMixin, View):
    """Make another of the user's merchants the current one. A merchant the user is not a member
    of does not exist as far as they are concerned (404), and the session stays as it was."""

    http_method_names = ["post"]

    def post(self, request):
        try:
            merchant_id = int(request.POST.get("merchant", ""))
        except ValueError:
            raise Http404("No such merchant.") from None
        membership = membership_get(user=request.user, merchant_id=merchant_id)
        if membership is None:
            raise Http404("No such merchant.")
        request.session[SESSION_KEY] = membership.merchant_id
        return redirect("dashboard:home")
