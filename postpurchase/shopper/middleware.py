"""Django's session, authentication and messages middleware, skipped for the shopper pages.

A shopper page (``/s/…``) is reached by a signed link or a lookup, never by a signed-in user:
it reads no session, no ``request.user`` and no messages (its forms' CSRF token is the cookie's,
not the session's). The three cost a tracking page, the project's hottest, about a tenth of its
time, and the request ↔ messages storage and user closures they leave make every request's
objects garbage the cycle collector has to find. ``settings.MIDDLEWARE`` names these in their
place; every other path gets Django's own behaviour unchanged. A shopper view therefore has no
``request.session``, ``request.user`` or ``request._messages`` (a test holds it so).
"""

from __future__ import annotations

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse

SHOPPER_PREFIX = "/s/"  # postpurchase/urls.py mounts the shopper shell here


class _NotForShopperPages:
    """Passes a shopper page's request straight on; every other goes through the middleware."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(SHOPPER_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_NotForShopperPages, sessions.SessionMiddleware):
    """Django's, but for the shopper pages."""


class AuthenticationMiddleware(_NotForShopperPages, auth.AuthenticationMiddleware):
    """Django's, but for the shopper pages."""


class MessageMiddleware(_NotForShopperPages, messages.MessageMiddleware):
    """Django's, but for the shopper pages."""
