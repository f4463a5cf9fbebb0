"""Puts the dashboard user's current merchant in scope for the whole request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from postpurchase.tenancy import scoping
from postpurchase.tenancy.selectors import membership_get, memberships_for_user

SESSION_KEY = "current_merchant_id"
DASHBOARD_PREFIX = "/app/"


class CurrentMerchantMiddleware:
    """For ``/app/`` requests by a signed-in user: the merchant chosen in the session, if the user
    is still a member of it, else their first merchant. Sets ``request.membership`` and
    ``request.merchant`` (both ``None`` for a user with no merchant)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None
        request.merchant = None
        if not request.path.startswith(DASHBOARD_PREFIX) or not request.user.is_authenticated:
            return self.get_response(request)

        membership = membership_get(user=request.user, merchant_id=request.session.get(SESSION_KEY))
        if membership is None:
            membership = memberships_for_user(user=request.user).first()
            if membership is not None:
                request.session[SESSION_KEY] = membership.merchant_id
        if membership is not None:
            request.membership = membership
            request.merchant = membership.merchant

        token = scoping.activate(request.merchant)
        try:
            return self.get_response(request)
        finally:
            scoping.deactivate(token)
