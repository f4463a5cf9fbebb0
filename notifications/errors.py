"""Notifications' error codes: message templates, channel settings, consent, and test sends to
the merchant's own team."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class NotificationsErrorCode(DomainErrorCode):
    INVALID = "invalid", "A setting or field has the wrong shape or value (each field says why)."
    REQUIRED = (
        "required",
        "A setting the others need, or a test send's address, is missing (each field says which).",
    )
    UNKNOWN_SETTING = "unknown_setting", "Not a channel or sending-hours setting."
    CREDENTIAL_NOT_ALLOWED = (
        "credential_not_allowed",
        "Not a setting the chosen email provider takes (each provider has an allowlist).",
    )
    UNKNOWN_CHANNEL = "unknown_channel", "Not a channel (email or sms)."
    UNKNOWN_TOPIC = "unknown_topic", "Not a marketing topic a shopper can switch off."
    TEMPLATE_ERROR = (
        "template_error",
        "A part of a template does not render: a syntax error (with its line), an unknown "
        "variable, or something the sandbox refuses.",
    )
    TEMPLATE_TOO_SLOW = "template_too_slow", "Checking the template took longer than allowed."
    TEMPLATE_UNSAVED = "template_unsaved", "The template has no saved version to render."
    CHANNEL_IMMUTABLE = (
        "channel_immutable",
        "A template's channel cannot change; make a new template instead.",
    )
    SENDER_ADDRESS_MISSING = (
        "sender_address_missing",
        "The merchant has no sender address, so there is no domain to verify.",
    )
    RECIPIENT_NOT_VERIFIED = (
        "recipient_not_verified",
        "A test goes only to a team member's sign-in email or a number the team verified.",
    )
    COUNTRY_NOT_ALLOWED = (
        "country_not_allowed",
        "The platform's Twilio account texts only the merchant's countries.",
    )
    THROTTLED = "throttled", "Too many test sends or verification codes: try again later."
    VERIFICATION_CODE_NOT_SENT = (
        "verification_code_not_sent",
        "The SMS provider did not take the verification code's text.",
    )
    VERIFICATION_CODE_NOT_REQUESTED = (
        "verification_code_not_requested",
        "No verification code was asked for this number.",
    )
    VERIFICATION_CODE_EXPIRED = (
        "verification_code_expired",
        "The verification code is older than ten minutes: ask for a new one.",
    )
    VERIFICATION_CODE_LOCKED = (
        "verification_code_locked",
        "The verification code was guessed wrong too often: ask for a new one.",
    )
    VERIFICATION_CODE_WRONG = "verification_code_wrong", "That is not the verification code."
    KEY_TAKEN = "key_taken", "Another of the merchant's templates has this key."
