"""The Content Security Policy of the dashboard (``/app/``) and the admin (``/admin/``).

Scripts only from our own static files: no inline script, no ``eval`` (htmx is configured with
``allowEval: false`` in the dashboard's ``<meta name="htmx-config">``), no plugin, no ``<base>``
rewriting, no framing, forms posting only here. Images: our own (uploaded logos are served
from ``/media/``), ``https:`` (a merchant may give its logo as an https URL, and the email
previews show the store's product images from its CDN) and ``data:``; never plain ``http:``.
Styles keep ``'unsafe-inline'``: an email preview is a sandboxed ``srcdoc`` frame, which
inherits this policy, and emails are styled inline; a merchant's colours are inline too.

A small middleware of our own rather than django-csp: the policy is one constant (no nonces, as
there is no inline script to allow) for two URL prefixes, and a response that carries its own
policy (the shopper pages' stricter one) keeps it.
"""

from __future__ import annotations

from django.urls import reverse

POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' https: data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._prefixes: tuple[str, ...] | None = None

    def prefixes(self) -> tuple[str, ...]:
        if self._prefixes is None:  # the URL conf is not loaded yet when middleware is built
            self._prefixes = (reverse("dashboard:home"), reverse("admin:index"))
        return self._prefixes

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(self.prefixes()):
            response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
