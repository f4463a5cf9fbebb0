"""Journeys' error codes: saving, publishing, pausing and simulating a journey."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class JourneysErrorCode(DomainErrorCode):
    INVALID = "invalid", "A field of the journey or its definition has the wrong shape or value."
    KEY_TAKEN = "key_taken", "Another of the merchant's journeys has this key."
    UNKNOWN_TEMPLATE = (
        "unknown_template",
        "A send step names a message template the merchant has not saved.",
    )
    FEATURE_MISSING = (
        "feature_missing",
        "A template the journey sends uses a link that comes with a feature the merchant does "
        "not have yet.",
    )
    NOT_PUBLISHED = "not_published", "The journey has no published version yet."
    DRAFT_MISMATCH = "draft_mismatch", "The query's draft and the body's disagree."
