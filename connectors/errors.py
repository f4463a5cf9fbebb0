"""Connectors' error codes: inbound Shopify and carrier webhooks, and the secrets that sign
them. The receiving view answers the first four (signature, body, topic, shop); the rest are
recorded on the delivery or shown on the connection's settings page."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class ConnectorsErrorCode(DomainErrorCode):
    SIGNATURE_INVALID = (
        "signature_invalid",
        "The webhook's signature is missing or wrong (or the store is unknown).",
    )
    BODY_INVALID = "body_invalid", "The webhook's body is not the JSON object its topic sends."
    TOPIC_MISMATCH = "topic_mismatch", "The body is not a payload of the topic its header names."
    SHOP_MISMATCH = "shop_mismatch", "Signed with the store's secret, but sent by another store."
    SECRET_IN_USE = (
        "secret_in_use",
        "Another merchant's connection holds this secret.",
    )
    INVALID = "invalid", "A field of a delivery or a connection setting has the wrong shape."
    REQUIRED = "required", "A field the delivery needs is missing (each field says which)."
    UNKNOWN_TRACKING_STATUS = (
        "unknown_tracking_status",
        "A carrier or aggregator status word we do not know.",
    )
