"""Where a webhook may go: public http(s) addresses only (no SSRF into our own network).

A URL is checked twice: when it is saved (``destination_check``, a ``DomainError`` on ``url``)
and again at send time, where the connection itself is made only to an address that passed the
check (``VettedAdapter``). The name is resolved once per connection by ``resolve`` and the socket
connects to the vetted IP it returned, so a DNS answer that changes between the check and the
connect (DNS rebinding) cannot reach a private address. TLS is untouched: urllib3 still sends
the host name as SNI and verifies the certificate against it, and the ``Host`` header comes from
the URL.

Refusals never say which address a name resolved to, nor whether it resolved at all: that would
let an endpoint's owner map our internal network and DNS. The details go to the server log.

``WEBHOOKS_ALLOW_LOOPBACK`` (default off) lets loopback through, for local development and tests.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from postpurchase.errors import DomainError
from webhooks.deadline import RequestDeadline, active_deadline
from webhooks.errors import WebhooksErrorCode

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 2000
RESOLVE_TIMEOUT = 5.0  # seconds for one DNS lookup (getaddrinfo has no timeout of its own)
MAX_ADDRESSES = 3  # addresses of one name tried in turn, so connecting stays bounded
NOT_PUBLIC = "The host in the URL must resolve only to public internet addresses."
REFUSED_AT_SEND = "Refused to connect: the host must resolve only to public internet addresses."
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that carry an IPv4 address inside: judge the IPv4 address.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(NewConnectionError):
    """Raised while connecting: the host resolved to an address we do not send to."""

    def __init__(self, conn, message: str) -> None:
        super().__init__(conn, message)
        self.refusal = message


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order. The one DNS seam: tests
    patch it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _resolve_within(host: str, port: int, timeout: float) -> list[str]:
    """``resolve`` given at most ``timeout`` seconds. The lookup runs in a daemon thread that is
    left to finish on its own when it overruns (the C resolver cannot be interrupted)."""
    answer: dict[str, object] = {}

    def lookup() -> None:
        try:
            answer["addresses"] = resolve(host, port)
        except Exception as exc:  # handed to the caller below
            answer["error"] = exc

    thread = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise OSError(f"no answer within {timeout:g} s")
    if "error" in answer:
        raise answer["error"]  # type: ignore[misc]
    return answer["addresses"]  # type: ignore[return-value]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: str, *, allow_loopback: bool) -> str | None:
    """What kind of address ``address`` is when it may not be sent to (``"a private
    address"``), or ``None`` when it may."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        ip = inner
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    kinds = (
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_site_local", "a site-local address"),  # fec0::/10: deprecated, still routed inside
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    )
    for attribute, kind in kinds:
        if getattr(ip, attribute, False):
            return kind
    if not ip.is_global:  # shared (CGNAT 100.64/10), documentation, benchmarking ranges, ...
        return "not a public address"
    return None


def _allow_loopback() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_LOOPBACK", False))


def vetted_addresses(host: str, port: int, *, timeout: float | None = None) -> list[str]:
    """The addresses of ``host`` we may connect to, resolved within ``timeout`` seconds
    (``RESOLVE_TIMEOUT``); raises ``ValueError`` naming the first one refused (one private
    answer refuses the host: we do not pick around it). The message is for the server log only."""
    host = host.strip("[]")
    try:
        addresses = _resolve_within(host, port, RESOLVE_TIMEOUT if timeout is None else timeout)
    except (OSError, UnicodeError) as exc:
        raise ValueError(f"{host} does not resolve ({exc})") from None
    if not addresses:
        raise ValueError(f"{host} does not resolve")
    allow_loopback = _allow_loopback()
    for address in addresses:
        refusal = address_refusal(address, allow_loopback=allow_loopback)
        if refusal is not None and address == host:
            raise ValueError(f"{address} is {refusal}")
        if refusal is not None:
            raise ValueError(f"{host} resolves to {address}, {refusal}")
    return addresses


def _url_error(message: str, code: WebhooksErrorCode = WebhooksErrorCode.INVALID) -> DomainError:
    return DomainError(code, message, field="url")


def destination_check(url: str) -> str:
    """Check a URL an endpoint is about to be saved with; returns it stripped."""
    url = (url or "").strip()
    if not url:
        raise _url_error("Enter the URL that should receive the webhooks.")
    if len(url) > MAX_URL_LENGTH:
        raise _url_error(f"Keep the URL under {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _url_error("Enter a valid URL, such as https://example.com/webhooks.") from None
    if parts.scheme not in ("http", "https"):
        raise _url_error("The URL must start with https:// or http://.")
    if not parts.hostname:
        raise _url_error("Enter a valid URL, such as https://example.com/webhooks.")
    if parts.username is not None or parts.password is not None:
        raise _url_error("Leave credentials out of the URL; verify our signature instead.")
    if any(ch.isspace() for ch in url):
        raise _url_error("The URL may not contain spaces.")
    try:
        vetted_addresses(parts.hostname, port)
    except ValueError as exc:
        logger.info("Refused webhook URL %s: %s", url, exc)
        raise _url_error(NOT_PUBLIC, WebhooksErrorCode.DESTINATION_NOT_ALLOWED) from None
    return url


class _VettedConnectionMixin:
    """Connects only to addresses ``vetted_addresses`` accepts, trying at most ``MAX_ADDRESSES``
    of them in order, within the active ``RequestDeadline`` (which then watches the socket)."""

    def _new_conn(self):
        deadline = active_deadline()
        host = self._dns_host
        resolve_timeout = RESOLVE_TIMEOUT
        if deadline is not None:
            resolve_timeout = min(resolve_timeout, deadline.remaining())
        try:
            addresses = vetted_addresses(host, self.port, timeout=resolve_timeout)
        except ValueError as exc:
            logger.warning("Refused a webhook connection to %s: %s", host, exc)
            raise DestinationRefused(self, REFUSED_AT_SEND) from None
        sock = self._connect_first(addresses[:MAX_ADDRESSES], deadline)
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def _connect_first(self, addresses: list[str], deadline: RequestDeadline | None):
        last_error: OSError | None = None
        for address in addresses:
            timeout = self.timeout
            if deadline is not None:
                if deadline.passed:
                    last_error = TimeoutError("the request's deadline passed")
                    break
                left = deadline.remaining()
                timeout = min(timeout, left) if isinstance(timeout, int | float) else left
            try:
                return create_connection(
                    (address, self.port),
                    timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                last_error = exc
        if isinstance(last_error, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from last_error
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}")


class _VettedHTTPConnection(_VettedConnectionMixin, HTTPConnection):
    pass


class _VettedHTTPSConnection(_VettedConnectionMixin, HTTPSConnection):
    pass


class _VettedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _VettedHTTPConnection


class _VettedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _VettedHTTPSConnection


class VettedAdapter(HTTPAdapter):
    """A requests adapter whose connections go only to vetted addresses."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _VettedHTTPConnectionPool,
            "https": _VettedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy, **proxy_kwargs):  # pragma: no cover - never configured
        raise RuntimeError("Webhooks are sent without a proxy.")
