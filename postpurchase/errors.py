"""The project's one exception type for expected failures, and the codes it carries.

A ``DomainError`` carries a stable machine ``code``, a human message and, for validation
failures, the fields at fault. The API renders it as ``application/problem+json``; dashboard
pages render it as a form error. Any other exception is a bug.

Codes come from enums (Saleor's way: ``saleor/order/error_codes.py``). ``ErrorCode`` below holds
the generic ones every app shares; each app declares the failures only it has in its own
``<app>/errors.py`` (``NotificationsErrorCode``, ``WebhooksErrorCode``, …), so a program can
tell "the sender domain is unverified" from "a field is malformed" without parsing messages.
Every member says what it means: ``docs/api.md`` lists them all from ``error_code_enums()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from importlib import import_module


class DomainErrorCode(StrEnum):
    """The base of every error-code enum: a member is its code (a plain ``str`` wherever it
    goes) and carries a ``meaning``, the sentence ``docs/api.md`` shows for it. Members are
    written ``NAME = "code", "What it means."``."""

    meaning: str

    def __new__(cls, value: str, meaning: str) -> DomainErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member


class ErrorCode(DomainErrorCode):
    """Codes shared by every app. An app's own enum may repeat ``invalid`` for plain
    field-shape failures of its own, as Saleor's do."""

    INVALID = "invalid", "A field, parameter or body has the wrong shape or value."
    NOT_FOUND = "not_found", "No such object for this merchant, or no such path."
    CONFLICT = "conflict", "The change conflicts with the object's current state."
    PERMISSION_DENIED = "permission_denied", "The caller may not do this."
    NO_MERCHANT_IN_SCOPE = (
        "no_merchant_in_scope",
        "A query on a merchant's rows ran with no merchant in scope: a bug on our side.",
    )


ERRORS_MODULE = "errors"


def error_code_enums() -> list[tuple[str, type[DomainErrorCode]]]:
    """Every error-code enum, as ``(app label, enum)``: the shared ``ErrorCode`` (as ``core``),
    then each installed app's, from its ``errors`` module in ``INSTALLED_APPS`` order (found
    the way the admin finds ``admin`` modules, so the core names no app)."""
    from django.apps import apps
    from django.utils.module_loading import module_has_submodule

    found: list[tuple[str, type[DomainErrorCode]]] = [("core", ErrorCode)]
    for config in apps.get_app_configs():
        if not module_has_submodule(config.module, ERRORS_MODULE):
            continue
        module = import_module(f"{config.name}.{ERRORS_MODULE}")
        found += [
            (config.label, value)
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, DomainErrorCode)
            and value.__module__ == module.__name__
        ]
    return found


class DomainError(Exception):
    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        fields: Mapping[str, list[dict[str, str]]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        errors: dict[str, list[dict[str, str]]] = {k: list(v) for k, v in (fields or {}).items()}
        if field is not None:
            errors.setdefault(field, []).append({"code": self.code, "message": message})
        self.fields = errors

    @property
    def field(self) -> str | None:
        """The first field at fault, if any."""
        return next(iter(self.fields), None)

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}

    def __repr__(self) -> str:
        return f"DomainError(code={self.code!r}, message={self.message!r}, fields={self.fields!r})"
