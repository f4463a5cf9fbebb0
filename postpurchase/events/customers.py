"""How the event log finds a merchant's customer without importing the app that owns them.

``Event.customer`` points at ``orders.Customer``, but the core imports no app: the orders app
registers its lookup here in ``AppConfig.ready()``, and the integrators' ``POST /events`` asks
through ``customer_resolve``. (The other way out, moving that endpoint into orders, would put an
event-log endpoint in an app; the lookup is the only thing it needs from there.)
"""

from __future__ import annotations

from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from postpurchase.tenancy.models import Merchant


class CustomerResolver(Protocol):
    def __call__(
        self, *, merchant: Merchant, customer_id: int | None, external_id: str | None
    ) -> Any | None:
        """The merchant's customer with this id (or else this external id), or ``None``."""


class CustomerResolvers:
    def __init__(self) -> None:
        self._resolver: CustomerResolver | None = None

    def register(self, resolver: CustomerResolver) -> None:
        """Set the one resolver; another one replacing it is a mistake, refused at start."""
        if self._resolver is not None and self._resolver is not resolver:
            raise ImproperlyConfigured("A customer resolver is already registered.")
        self._resolver = resolver

    def resolve(
        self, *, merchant: Merchant, customer_id: int | None = None, external_id: str | None = None
    ) -> Any | None:
        if self._resolver is None:
            raise ImproperlyConfigured(
                "No customer resolver is registered (the orders app registers it in ready())."
            )
        return self._resolver(merchant=merchant, customer_id=customer_id, external_id=external_id)


customer_resolvers = CustomerResolvers()
customer_resolve = customer_resolvers.resolve
