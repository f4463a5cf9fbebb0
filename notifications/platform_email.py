"""The platform's own email backend, built with its credentials passed in by hand.

anymail reads a setting it is not given from ``settings.ANYMAIL``; a merchant's own provider
is built from the merchant's credentials alone, so the platform's must never be there (a
merchant choosing the platform's ESP with a missing key would send with the platform's). They
live in ``PLATFORM_EMAIL_OPTIONS`` instead (``EMAIL_OPTION_<NAME>`` variables), and this
backend, Django's ``EMAIL_BACKEND`` when ``EMAIL_BACKEND`` names an ESP, builds the platform's
``PLATFORM_EMAIL_BACKEND`` with them. Everything Django sends (password resets, notices) and
every message of a merchant without its own provider goes through it."""

from __future__ import annotations

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.module_loading import import_string


class PlatformEmailBackend(BaseEmailBackend):
    def __init__(self, fail_silently: bool = False, **kwargs) -> None:
        super().__init__(fail_silently=fail_silently)
        backend = import_string(settings.PLATFORM_EMAIL_BACKEND)
        options = {**settings.PLATFORM_EMAIL_OPTIONS, **kwargs}
        self.inner = backend(fail_silently=fail_silently, **options)

    def open(self):
        return self.inner.open()

    def close(self):
        return self.inner.close()

    def send_messages(self, email_messages):
        return self.inner.send_messages(email_messages)
