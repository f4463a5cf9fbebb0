from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class DashboardConfig(AppConfig):
    name = "postpurchase.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

    def ready(self):
        from postpurchase.dashboard.throttling import rate_parse
        from postpurchase.mail import message_id_domain_install

        message_id_domain_install()  # password resets name SITE_URL's host, not the machine's

        # A mistyped limit fails at start, not at the first sign-in.
        for name in (
            "SIGN_IN_RATE_PER_ACCOUNT",
            "SIGN_IN_RATE_PER_IP",
            "PASSWORD_RESET_RATE_PER_EMAIL",
            "PASSWORD_RESET_RATE_PER_IP",
        ):
            try:
                rate_parse(getattr(settings, name), setting=name)
            except ValueError as error:
                raise ImproperlyConfigured(str(error)) from None
