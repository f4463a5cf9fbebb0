"""The tracking pillar's error codes: package protection and its claims (docs/protection.md)."""

from __future__ import annotations

from postpurchase.errors import DomainErrorCode


class ClaimsErrorCode(DomainErrorCode):
    INVALID = "invalid", "A field has the wrong shape or value (each field says why)."
    NOT_OFFERED = "protection_not_offered", "The merchant does not offer package protection."
    NOT_PROTECTED = "order_not_protected", "The order was not protected at checkout."
    TOO_EARLY = "claim_too_early", "The parcel cannot be claimed yet (lost: too few days idle)."
    WINDOW_CLOSED = "claim_window_closed", "The claim window after delivery has closed."
    NOT_DELIVERED = "not_delivered", "A damaged or stolen claim needs a delivered parcel."
    ALREADY_DELIVERED = "already_delivered", "A delivered parcel cannot be claimed as lost."
    ORDER_REFUNDED = "order_refunded", "The order was refunded, voided or cancelled."
    ORDER_RETURNED = "order_returned", "The order has a return."
    LIMIT_REACHED = "claim_limit_reached", "The customer has filed the most claims allowed."
    ALREADY_CLAIMED = "already_claimed", "The parcel already has a claim that is not rejected."
    PHOTO_REQUIRED = "photo_required", "A damage claim needs a photo."
    PHOTO_INVALID = "photo_invalid", "A photo is not a JPEG, PNG, WebP or HEIC image."
    PHOTO_TOO_LARGE = "photo_too_large", "A photo is larger than 8 MB."
    TOO_MANY_PHOTOS = "too_many_photos", "More than 5 photos."
    ILLEGAL_TRANSITION = "illegal_transition", "The claim's state does not allow this step."
