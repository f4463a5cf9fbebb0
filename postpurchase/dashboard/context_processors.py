"""What the dashboard shell needs on every page. Everything that costs a query is lazy, so pages
that do not draw the shell (shopper pages, the API, the admin) pay nothing."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from postpurchase.dashboard.navigation import navigation_for
from postpurchase.tenancy.selectors import memberships_for_user


def dashboard(request):
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)

    def memberships():
        if user is None or not user.is_authenticated:
            return []
        return list(memberships_for_user(user=user))

    def navigation():
        match = getattr(request, "resolver_match", None)
        return navigation_for(
            role=membership.role if membership else None,
            current_url_name=match.url_name if match and match.namespace == "dashboard" else None,
        )

    return {
        "current_merchant": getattr(request, "merchant", None),
        "current_membership": membership,
        "dashboard_memberships": SimpleLazyObject(memberships),
        "dashboard_navigation": SimpleLazyObject(navigation),
    }
