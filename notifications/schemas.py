"""What a merchant sends to save a message template (dashboard form or API)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from notifications.models import Category, Channel, Kind
from postpurchase.validation import no_nul

Locale = Annotated[str, Field(max_length=16, pattern=r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]
EMAIL_PARTS = ("subject", "preheader", "html_body", "text_body")
SMS_PARTS = ("sms_body",)


def _error(code: str, message: str) -> list[dict[str, str]]:
    return [{"code": code, "message": message}]


class VariantIn(BaseModel):
    """One locale's content; every part is a Jinja2 source. Whitespace is kept as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: Locale
    subject: Annotated[str, Field(max_length=1000)] = ""
    preheader: Annotated[str, Field(max_length=1000)] = ""
    # Gmail clips an email past 102 KB, and compiling costs time in proportion.
    html_body: Annotated[str, Field(max_length=100_000)] = ""
    text_body: Annotated[str, Field(max_length=50_000)] = ""
    sms_body: Annotated[str, Field(max_length=2000)] = ""

    _nul = field_validator("*")(classmethod(lambda cls, value: no_nul(value)))


class MessageTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    channel: Channel
    category: Category
    kind: Kind = Kind.TRANSACTIONAL
    default_locale: Locale = "en"
    variants: Annotated[list[VariantIn], Field(min_length=1, max_length=50)]

    _nul = field_validator("*")(classmethod(lambda cls, value: no_nul(value)))

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    def cross_field_errors(self) -> dict[str, list[dict[str, str]]]:
        """One variant per locale, one for the default locale, and the parts the channel uses
        (and only those)."""
        errors: dict[str, list[dict[str, str]]] = {}
        locales = [variant.locale for variant in self.variants]
        if len(set(locales)) != len(locales):
            errors["variants"] = _error("duplicate", "two variants share a locale")
        elif self.default_locale not in locales:
            errors["default_locale"] = _error(
                "missing", f"no variant has the default locale {self.default_locale!r}"
            )
        unused = SMS_PARTS if self.channel == Channel.EMAIL else EMAIL_PARTS
        for i, variant in enumerate(self.variants):
            for part in unused:
                if getattr(variant, part):
                    errors[f"variants[{i}].{part}"] = _error(
                        "wrong_channel", f"a {self.channel} template has no {part}"
                    )
            if self.channel == Channel.EMAIL:
                if not variant.subject.strip():
                    errors[f"variants[{i}].subject"] = _error(
                        "required", "an email needs a subject"
                    )
                if not (variant.html_body.strip() or variant.text_body.strip()):
                    errors[f"variants[{i}].html_body"] = _error(
                        "required", "an email needs an HTML or a text body"
                    )
            elif not variant.sms_body.strip():
                errors[f"variants[{i}].sms_body"] = _error("required", "an SMS needs a body")
        return errors
