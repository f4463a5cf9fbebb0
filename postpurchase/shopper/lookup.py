"""Order lookup: a shopper without a link finds their order by its number and the email
address it was placed with, or the postal code it ships to (a gift's recipient knows that, not
the buyer's email), and is sent on to a page about it (its status today; tracking or a return
later).

The shell knows no order model: the app that holds orders registers the **finder** (given the
number and the email or the postal code, the order's id or ``None``), and apps register
**destinations** (a page a
found order can be sent to, made as a signed link for it), both in ``AppConfig.ready()``. The
lookup page sends the shopper to the destination named by ``?for=<name>`` (a return portal links
to the lookup with ``?for=returns``), else to the one with the highest ``priority``.

Guessing is what this page invites, so:

- **one answer** for "no such order", "wrong email" and "wrong postal code": the same page,
  status and words, and the finder does the same work either way (one query, then a
  constant-time comparison);
- **rate limits** through the shared cache (``postpurchase.dashboard.throttling``'s fixed windows):
  ``SHOPPER_LOOKUP_RATE_PER_IP`` per client address and ``SHOPPER_LOOKUP_RATE_PER_ORDER`` per
  merchant and order number typed (from any address), each counted before the finder runs,
  found or not, whichever the shopper typed; over either limit the finder does not run and the
  page answers 429.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from postpurchase.dashboard.throttling import attempt_count, client_address, rate_parse
from postpurchase.tenancy.models import Merchant

# finder(*, number, email, postal_code) -> the order's id, or None (one of email and
# postal_code is given, the other is ""); called inside the merchant's scope.
OrderFinder = Callable[..., int | None]


@dataclass(frozen=True)
class LookupDestination:
    """A page a found order is sent to: ``path_for(merchant=, order_id=)`` is its path on this
    site (a signed link). The highest ``priority`` is the default."""

    name: str
    path_for: Callable[..., str]
    priority: int = 0


@dataclass(frozen=True)
class LookupOutcome:
    """The found order's id (``None``: not found, or not tried), and the seconds until the
    shopper may try again when over a limit (0 otherwise)."""

    order_id: int | None
    retry_after: int = 0

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0


_finders: list[OrderFinder] = []
_destinations: dict[str, LookupDestination] = {}


def lookup_finder_register(finder: OrderFinder) -> None:
    """The app holding orders registers the one finder (again: replaces it)."""
    _finders[:] = [finder]


def lookup_destination_register(destination: LookupDestination) -> None:
    _destinations[destination.name] = destination


def lookup_destination_unregister(name: str) -> None:
    _destinations.pop(name, None)


def lookup_destination(name: str = "") -> LookupDestination | None:
    """The destination named ``name``, else the default one (``None``: no app offers one)."""
    if name in _destinations:
        return _destinations[name]
    if not _destinations:
        return None
    return max(_destinations.values(), key=lambda destination: destination.priority)


def order_number_normalise(number: str) -> str:
    """What a shopper types for ``#1001``: with or without the ``#``, spaces around."""
    return number.strip().lstrip("#").strip()


def _digest(text: str) -> str:
    """Typed order numbers are kept in the cache as digests, never as themselves."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def order_lookup(
    *,
    request: HttpRequest,
    merchant: Merchant,
    number: str,
    email: str = "",
    postal_code: str = "",
    now: float,
) -> LookupOutcome:
    """Count the attempt (per client address and per order number), then ask the finder with
    the email or the postal code typed. Runs inside the merchant's scope."""
    attempt = attempt_count(
        keys=[
            (
                f"shopper_lookup:ip:{client_address(request)}",
                rate_parse(
                    settings.SHOPPER_LOOKUP_RATE_PER_IP, setting="SHOPPER_LOOKUP_RATE_PER_IP"
                ),
            ),
            (
                f"shopper_lookup:order:{merchant.pk}:{_digest(order_number_normalise(number))}",
                rate_parse(
                    settings.SHOPPER_LOOKUP_RATE_PER_ORDER, setting="SHOPPER_LOOKUP_RATE_PER_ORDER"
                ),
            ),
        ],
        now=now,
    )
    if attempt.throttled:
        return LookupOutcome(order_id=None, retry_after=attempt.retry_after)
    if not _finders:
        return LookupOutcome(order_id=None)
    finder = _finders[0]
    number = order_number_normalise(number)
    return LookupOutcome(order_id=finder(number=number, email=email, postal_code=postal_code))
