"""The project's one exception type for expected failures.

A ``DomainError`` carries a stable machine ``code`` (from an app's ``StrEnum``), a human
message and, for validation failures, the fields at fault. The API renders it as
``application/problem+json``; dashboard pages render it as a form error. Any other exception is a
bug.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ErrorCode(StrEnum):
    """Codes shared by every app. Apps add their own enums for their own failures."""

    INVALID = "invalid"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    PERMISSION_DENIED = "permission_denied"
    NO_MERCHANT_IN_SCOPE = "no_merchant_in_scope"


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
