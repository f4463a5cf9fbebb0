"""Who a merchant's email is from, and the proof that lets it be from the merchant's own domain.

Through the merchant's own ESP the From is the merchant's to choose: its provider verifies the
identity. Through the platform's provider the From puts the platform's reputation on the line,
so the merchant's address is used only once the merchant proved it holds the domain: a TXT
record ``_postpurchase.<domain>`` holding ``postpurchase-verification=<token>`` (the token is
an HMAC of the merchant and domain, so nothing needs storing before the check), or the
platform's DKIM key published at ``<selector>._domainkey.<domain>`` when the platform has one.
Until then mail goes from the platform's address under the merchant's name, with the merchant's
address as Reply-To.

DNS is read through a resolver object with one method, ``txt(name) -> list[str]``:
``DnsResolver`` (dnspython) by default; tests pass their own, or name its class in the
``SENDER_DNS_RESOLVER`` setting for the dashboard's "check now".
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from notifications.errors import NotificationsErrorCode
from notifications.models import SenderDomain
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant

logger = logging.getLogger(__name__)

VERIFY_LABEL = "_postpurchase"
VERIFY_PREFIX = "postpurchase-verification="
DETAIL_MAX = 500


class DnsLookupFailed(Exception):
    """The lookup itself failed (a timeout, no server answered): nothing is known."""


class TxtResolver(Protocol):
    def txt(self, name: str) -> list[str]:
        """The TXT strings at ``name`` (each record's strings joined); ``[]`` when none."""


class DnsResolver:
    """TXT lookups with dnspython, the system's resolvers and a bounded wait."""

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = settings.SENDER_DNS_TIMEOUT if timeout is None else timeout

    def txt(self, name: str) -> list[str]:
        import dns.exception
        import dns.resolver

        resolver = dns.resolver.Resolver()
        resolver.lifetime = self.timeout
        try:
            answer = resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise DnsLookupFailed(f"{type(exc).__name__}: {exc}") from exc
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def dns_resolver() -> TxtResolver:
    """The resolver a check uses when given none: the class ``SENDER_DNS_RESOLVER`` names (a
    test seam, like ``TWILIO_HTTP_CLIENT``), else dnspython's."""
    path = getattr(settings, "SENDER_DNS_RESOLVER", "")
    return import_string(path)() if path else DnsResolver()


def sender_domain_of(merchant: Merchant) -> str:
    """The domain of the merchant's sender address, lower-case in its IDNA (xn--) form; ``""``
    when it has no sender address."""
    _, _, domain = (merchant.sender_email or "").rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    if not domain:
        return ""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def sender_domain_record(merchant: Merchant, domain: str) -> tuple[str, str]:
    """The TXT record (name, value) that proves ``domain`` is the merchant's."""
    token = salted_hmac(
        "notifications.sender_domain", f"{merchant.pk}:{domain}", algorithm="sha256"
    ).hexdigest()[:32]
    return f"{VERIFY_LABEL}.{domain}", f"{VERIFY_PREFIX}{token}"


def dkim_record_name(domain: str) -> str:
    """Where the platform's DKIM key goes under ``domain`` (empty when the platform has none)."""
    if not (settings.SENDER_DKIM_SELECTOR and settings.SENDER_DKIM_PUBLIC_KEY):
        return ""
    return f"{settings.SENDER_DKIM_SELECTOR}._domainkey.{domain}"


def _dkim_key(record: str) -> str:
    """The ``p=`` tag of a DKIM record, whitespace removed (DNS splits long keys)."""
    for tag in record.split(";"):
        name, _, value = tag.partition("=")
        if name.strip() == "p":
            return "".join(value.split())
    return ""


def _find(merchant: Merchant, domain: str, resolver: TxtResolver) -> tuple[str, str]:
    """``(method, detail)``: how the domain is proved (``""`` when it is not) and what the
    lookups found, in words."""
    name, value = sender_domain_record(merchant, domain)
    found = [text.strip() for text in resolver.txt(name)]
    if value in found:
        return SenderDomain.Method.TXT, f"Found the TXT record at {name}."
    dkim_name = dkim_record_name(domain)
    if dkim_name:
        key = "".join(settings.SENDER_DKIM_PUBLIC_KEY.split())
        if any(_dkim_key(text) == key for text in resolver.txt(dkim_name)):
            return SenderDomain.Method.DKIM, f"Found our DKIM key at {dkim_name}."
    seen = ", ".join(repr(text[:80]) for text in found) or "no TXT record"
    return "", f"Not verified yet: {name} has {seen}."


def sender_domain_check(
    *, merchant: Merchant, resolver: TxtResolver | None = None, now: datetime | None = None
) -> SenderDomain:
    """Look the merchant's sender domain up and record what was found: verified (by TXT or
    DKIM), or not (a record taken down un-verifies the domain). A lookup that fails keeps the
    last answer and says why. Raises ``DomainError`` when the merchant has no sender address."""
    domain = sender_domain_of(merchant)
    if not domain:
        raise DomainError(
            NotificationsErrorCode.SENDER_ADDRESS_MISSING,
            "Set a sender address in your brand settings first.",
            field="sender_email",
        )
    now = now or timezone.now()
    resolver = resolver or dns_resolver()
    try:
        method, detail = _find(merchant, domain, resolver)
        failed = False
    except DnsLookupFailed as exc:
        method, detail, failed = "", f"The DNS lookup failed ({exc}); try again.", True
    with transaction.atomic():
        row, _ = SenderDomain.unscoped.select_for_update().get_or_create(
            merchant=merchant, domain=domain
        )
        if not failed:
            if method and not row.verified_at:
                row.verified_at = now
            elif not method:
                row.verified_at = None
            row.method = method
        row.checked_at, row.check_detail = now, detail[:DETAIL_MAX]
        row.save()
    logger.info("Sender domain %s of merchant %s: %s", domain, merchant.pk, detail)
    return row


def sender_domain_status(merchant: Merchant) -> SenderDomain | None:
    """The last check of the merchant's current sender domain, if it was ever checked."""
    domain = sender_domain_of(merchant)
    if not domain:
        return None
    return SenderDomain.unscoped.filter(merchant=merchant, domain=domain).first()


def sender_identity(merchant: Merchant, *, own_provider: bool) -> tuple[str, str]:
    """From and Reply-To. The merchant's sender address is the From through its own provider,
    or through ours once its domain is verified; otherwise the platform's address under the
    merchant's name. Replies go to its support address, else its sender address."""
    name = " ".join((merchant.sender_name or merchant.name).split())  # no line breaks in a header
    platform_name, platform_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    address = platform_address
    if merchant.sender_email:
        status = None if own_provider else sender_domain_status(merchant)
        if own_provider or (status is not None and status.verified_at is not None):
            address = merchant.sender_email
    reply_to = merchant.support_email or merchant.sender_email
    return formataddr((name or platform_name, address)), reply_to
