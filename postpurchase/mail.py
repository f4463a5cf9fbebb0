"""The domain every email's Message-ID names.

Django makes a Message-ID, for any email that does not set one (password resets, the emails to
merchants about their webhook endpoints), with ``django.core.mail.utils.DNS_NAME``: the
machine's own fully qualified name, which in a container is its id and here is "localhost". A
Message-ID names the sender's domain, so it is the host of ``SITE_URL``, the platform's public
address. ``notifications.channels`` sets it explicitly on the messages it builds; this covers
the rest, once, when the apps are ready.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import message as mail_message
from django.utils.encoding import punycode


def message_id_domain() -> str:
    """The host of ``SITE_URL``, in ASCII (an internationalized name in its IDNA form)."""
    return punycode(urlsplit(settings.SITE_URL).hostname or "localhost")


class SiteDomainName:
    """Stands in for Django's ``CachedDnsName`` where ``EmailMessage.message()`` reads it: read
    when each Message-ID is made, so it follows ``SITE_URL``."""

    def __str__(self) -> str:
        return message_id_domain()

    def get_fqdn(self) -> str:
        return message_id_domain()


def message_id_domain_install() -> None:
    # Django has no setting for it: ``django.core.mail.message`` makes Message-IDs with its
    # module-level ``DNS_NAME``. The SMTP backend's own greeting name (``mail.utils``) is left
    # as it is.
    mail_message.DNS_NAME = SiteDomainName()
