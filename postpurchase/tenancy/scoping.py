"""The current merchant, and the managers that make the tenant-scoped path the only easy one.

The current merchant lives in a ``ContextVar`` set by API authentication, the dashboard middleware,
shopper-page URLs and the ``merchant_task`` decorator, and is always reset in a ``finally``.
Tenant-owned models get ``objects`` (scoped: raises when no merchant is set) and ``unscoped``
(explicitly named, for system jobs and the operator admin).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import models

from postpurchase.errors import DomainError, ErrorCode

if TYPE_CHECKING:
    from postpurchase.tenancy.models import Merchant

logger = logging.getLogger(__name__)

_current_merchant: ContextVar[Merchant | None] = ContextVar("current_merchant", default=None)


class NoMerchantInScope(DomainError):
    def __init__(self) -> None:
        super().__init__(
            ErrorCode.NO_MERCHANT_IN_SCOPE,
            "No merchant is in scope: use merchant_scope() or the .unscoped manager.",
        )


def current_merchant_or_none() -> Merchant | None:
    return _current_merchant.get()


def current_merchant() -> Merchant:
    merchant = _current_merchant.get()
    if merchant is None:
        raise NoMerchantInScope()
    return merchant


@contextmanager
def merchant_scope(merchant: Merchant | None) -> Iterator[Merchant | None]:
    """Run a block with ``merchant`` as the current merchant (``None`` clears it)."""
    token = _current_merchant.set(merchant)
    try:
        yield merchant
    finally:
        _current_merchant.reset(token)


class _NoMerchantCondition(models.Expression):
    """A WHERE condition that refuses to become SQL. A queryset built with no merchant in scope
    can still be passed around (Django builds default querysets for form fields and related
    managers eagerly), but the moment it would touch the database it raises."""

    conditional = True
    output_field = models.BooleanField()

    def as_sql(self, compiler, connection):
        raise NoMerchantInScope()


class MerchantScopedManager(models.Manager):
    """Filters every query to the current merchant; with none in scope, any query raises
    ``NoMerchantInScope`` (fail closed)."""

    def get_queryset(self) -> models.QuerySet:
        merchant = current_merchant_or_none()
        queryset = super().get_queryset()
        if merchant is None:
            return queryset.filter(_NoMerchantCondition())
        return queryset.filter(merchant_id=merchant.pk)


class TenantModel(models.Model):
    """Base for every tenant-owned row: a non-null, indexed merchant and the two managers."""

    merchant = models.ForeignKey(
        "tenancy.Merchant", on_delete=models.CASCADE, related_name="+", db_index=True
    )

    # ``unscoped`` is declared first, so it is the model's *default* manager: the one Django's own
    # machinery uses (the admin, form fields, related managers behind a row already loaded in
    # scope). Project code always says which it means: ``objects`` (scoped) or ``unscoped``.
    unscoped = models.Manager()
    objects = MerchantScopedManager()

    class Meta:
        abstract = True


def merchant_task(*task_args: Any, **task_options: Any) -> Callable:
    """Declare a Celery task that runs inside its ``merchant_id`` argument's scope.

    Use instead of ``@shared_task``; the task must take ``merchant_id`` as a keyword argument.

    Nothing runs for a merchant that is not active: the task logs, returns ``None`` and is
    acknowledged (raising would only retry it, forever). Its durable row (an event, a message, a
    delivery) stays as it was, for the sweeps to find once the merchant is reactivated, or was
    cancelled when it was deactivated (``merchant_deactivate``).
    """

    from celery import shared_task

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def run_in_scope(*args: Any, merchant_id: int, **kwargs: Any) -> Any:
            from postpurchase.tenancy.models import Merchant

            merchant = Merchant.objects.get(pk=merchant_id)
            if not merchant.is_active:
                logger.info(
                    "Skipped %s for merchant %s: the merchant is not active",
                    func.__name__,
                    merchant_id,
                )
                return None
            with merchant_scope(merchant):
                return func(*args, merchant_id=merchant_id, **kwargs)

        return shared_task(**task_options)(run_in_scope)

    if task_args and callable(task_args[0]) and len(task_args) == 1 and not task_options:
        return decorator(task_args[0])
    return decorator


def activate(merchant: Merchant | None):
    """Set the current merchant and return the token for ``deactivate``. Prefer ``merchant_scope``;
    this pair exists for request cycles where the set and the reset live in different methods."""
    return _current_merchant.set(merchant)


def deactivate(token) -> None:
    _current_merchant.reset(token)


class ScopedQuerysetMixin:
    """For view base classes (API and dashboard): ``model`` names a ``TenantModel`` and the
    queryset always comes from its scoped manager. Subclasses narrow it with ``filter_scoped``;
    one that defines ``get_queryset`` is refused when its class is created."""

    model = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} overrides get_queryset; narrow with filter_scoped() instead."
            )

    def get_queryset(self) -> models.QuerySet:
        if self.model is None:
            raise TypeError(f"{type(self).__name__} must set `model`.")
        return self.filter_scoped(self.model.objects.all())

    def filter_scoped(self, queryset: models.QuerySet) -> models.QuerySet:
        return queryset
