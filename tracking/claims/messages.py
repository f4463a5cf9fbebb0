"""What package protection tells the shopper, through journeys: the ``claim`` template
variable, filled from a claim event's own row, and four blueprints, one per claim event, with
their templates (an email each, an SMS when the email cannot reach the shopper).

- The variable (``claim_variable``) is read from the claim the trigger names, as it is at the
  send: a notice sent after a wait shows the claim's current words and outcome, and its link is
  signed at the send (``claim_page_url``), so it is as fresh as any other link of the message.
  A claim erased with its customer has none: the send fails with the reason, as one for an
  erased shopper does.
- **Claim received** answers a filing at once, with the claim's number and what happens next.
- **Claim approved** waits an hour for the resolution before it speaks: a merchant who approves
  and resolves in one sitting sends the shopper one message (the resolution), not two.
- **Claim declined** carries the merchant's reason (required when rejecting) and the help link.
- **Claim resolved** names the replacement order for a reship, the amount for a refund.
All four are entered per order and again for each claim (a second parcel of the order may be
claimed); they are status messages about something the shopper asked for, sent without
marketing consent like the shipping notices.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from journeys.blueprints import Blueprint
from notifications.models import Kind
from notifications.template_kit import button, email_template, help_button, sms_template
from postpurchase.validation import money_str
from tracking.claims import events
from tracking.claims.links import claim_page_url
from tracking.claims.models import Claim

CLAIM_DESCRIPTION = (
    "The protection claim the message is about (claim notices only): number, kind (lost, "
    "damaged, stolen), state, message (the merchant's words with its decision), resolution "
    "(reship or refund, once resolved), refund_amount, currency, replacement_order_number, "
    "filed_at, url (the shopper's page of the claim)."
)

CLAIM_SAMPLE: dict[str, Any] = {
    "number": "C-12",
    "kind": "damaged",
    "state": "resolved",
    "message": "Sorry it arrived broken: a new one is on its way.",
    "resolution": "reship",
    "refund_amount": "",
    "currency": "USD",
    "replacement_order_number": "#1001-C-12",
    "filed_at": datetime.fromisoformat("2026-03-08T10:15:00+00:00"),
    "url": "https://t.example/s/demo/track/abc/claim/status/?parcel=1",
}


def claim_context(claim: Claim, *, url: str) -> dict[str, Any]:
    """The ``claim`` variable for ``claim`` (plain data, shaped like ``CLAIM_SAMPLE``)."""
    currency = claim.order.currency
    refund = claim.refund_amount
    return {
        "number": claim.reference,
        "kind": claim.kind,
        "state": claim.state,
        "message": claim.decision_message,
        "resolution": claim.resolution,
        "refund_amount": money_str(Decimal(refund), currency) if refund is not None else "",
        "currency": currency,
        "replacement_order_number": (
            claim.replacement_order.number if claim.replacement_order_id else ""
        ),
        "filed_at": claim.filed_at,
        "url": url,
    }


def claim_variable(*, merchant, event: dict[str, Any], memo, **about: Any) -> dict | None:
    """The claim a claim event names (``claim_id``), read once per run; None for a trigger
    that names no claim of this merchant, or one erased since."""
    claim_id = event.get("claim_id")
    if not isinstance(claim_id, int) or isinstance(claim_id, bool):
        return None

    def read() -> dict | None:
        claim = (
            Claim.unscoped.filter(merchant=merchant, pk=claim_id, erased_at__isnull=True)
            .select_related("order", "replacement_order")
            .first()
        )
        if claim is None:
            return None
        return claim_context(claim, url=claim_page_url(merchant=merchant, claim=claim))

    return memo(("claim", claim_id), read)


# --- the templates ----------------------------------------------------------------------------

CLAIM_BUTTON = button("{{ claim.url }}", "See your claim")

TEMPLATES: list[dict] = [
    email_template(
        "claim_received",
        "Claim received",
        "status",
        "transactional",
        "We've received your claim {{ claim.number }}",
        "We'll look at it and get back to you.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Thanks for telling us: we've received your claim {{ claim.number }} about "
        "{% if claim.kind == 'lost' %}the lost parcel{% elif claim.kind == 'stolen' %}the "
        "stolen parcel{% else %}the damaged items{% endif %} from order {{ order.number }}. "
        "We'll look at it and write to you as soon as we've decided; you can follow it on "
        "its page.</p>\n" + CLAIM_BUTTON,
    ),
    sms_template(
        "claim_received_sms",
        "Claim received (SMS)",
        "status",
        "{{ merchant.name }}: we've received your claim {{ claim.number }} for order "
        "{{ order.number }}. We'll be in touch soon.",
    ),
    email_template(
        "claim_approved",
        "Claim approved",
        "status",
        "transactional",
        "Your claim {{ claim.number }} is approved",
        "We're putting it right.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>Good news: your claim {{ claim.number }} for order {{ order.number }} is "
        "approved. We're putting it right and will tell you when it's done.</p>\n"
        "{% if claim.message %}<p>{{ claim.message }}</p>\n{% endif %}" + CLAIM_BUTTON,
    ),
    sms_template(
        "claim_approved_sms",
        "Claim approved (SMS)",
        "status",
        "{{ merchant.name }}: your claim {{ claim.number }} for order {{ order.number }} is "
        "approved. We'll tell you when it's done.",
    ),
    email_template(
        "claim_rejected",
        "Claim declined",
        "status",
        "transactional",
        "About your claim {{ claim.number }}",
        "We've looked at your claim.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "<p>We've looked at your claim {{ claim.number }} for order {{ order.number }} and "
        "we can't accept it.</p>\n"
        "{% if claim.message %}<p>{{ claim.message }}</p>\n{% endif %}"
        "<p>If something is missing from what we saw, reply to this email or contact us: "
        "we'll look again.</p>\n" + help_button("Contact us"),
    ),
    sms_template(
        "claim_rejected_sms",
        "Claim declined (SMS)",
        "status",
        "{{ merchant.name }}: we couldn't accept claim {{ claim.number }} for order "
        "{{ order.number }}. Check your email or contact us.",
    ),
    email_template(
        "claim_resolved",
        "Claim resolved",
        "status",
        "transactional",
        "{% if claim.resolution == 'refund' %}Your refund for claim {{ claim.number }}"
        "{% else %}A replacement is on its way{% endif %}",
        "Your claim {{ claim.number }} is settled.",
        "<p>Hi {{ customer.first_name }},</p>\n"
        "{% if claim.resolution == 'refund' %}<p>Your claim {{ claim.number }} for order "
        "{{ order.number }} is settled: we're refunding {{ claim.refund_amount }} "
        "{{ claim.currency }} to how you paid. Your bank may take a few days to show it.</p>\n"
        "{% else %}<p>Your claim {{ claim.number }} for order {{ order.number }} is settled: "
        "we've sent a replacement at no charge (order {{ claim.replacement_order_number }}). "
        "We'll tell you when it ships.</p>\n{% endif %}" + CLAIM_BUTTON,
    ),
    sms_template(
        "claim_resolved_sms",
        "Claim resolved (SMS)",
        "status",
        "{{ merchant.name }}: claim {{ claim.number }} is settled: "
        "{% if claim.resolution == 'refund' %}{{ claim.refund_amount }} {{ claim.currency }} "
        "refunded.{% else %}a replacement is on its way.{% endif %}",
    ),
]


# --- the blueprints ---------------------------------------------------------------------------

RESOLUTION_WAIT_HOURS = 1
PER_CLAIM = {"per": "order", "reentry": "always"}


def _notify(template: str) -> dict[str, Any]:
    """The email, and its SMS for a shopper the email cannot reach."""
    return {
        "id": "notify",
        "type": "send",
        "template": template,
        "next": "",
        "fallback_template": f"{template}_sms",
    }


def _definition(event: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "trigger": {"type": "event", "event": event},
        "entry": dict(PER_CLAIM),
        "start": steps[0]["id"],
        "steps": steps,
    }


def _notice(key: str, verb: str, description: str, event: str, steps=()) -> Blueprint:
    """A claim blueprint: on ``event``, ``steps`` (none: straight to) the notice ``key``."""
    return Blueprint(
        key=key,
        name=f"Protection claim: {verb}",
        description=description,
        kind=Kind.STATUS,
        definition=_definition(event, [*steps, _notify(key)]),
    )


BLUEPRINTS: list[Blueprint] = [
    _notice(
        "claim_received",
        "received",
        "Answers a shopper's protection claim at once: its number, what happens next and its page.",
        events.CLAIM_FILED,
    ),
    _notice(
        "claim_approved",
        "approved",
        "Tells the shopper their claim is approved, unless its resolution comes within the "
        "hour (then the resolution's notice says it all).",
        events.CLAIM_APPROVED,
        steps=[
            {
                "id": "resolution",
                "type": "wait_for_event",
                "event": events.CLAIM_RESOLVED,
                "match": {"claim_id": "trigger.claim_id"},
                "timeout_hours": RESOLUTION_WAIT_HOURS,
                "next": "",  # resolved meanwhile: that notice tells them
                "timeout_next": "notify",
            }
        ],
    ),
    _notice(
        "claim_rejected",
        "declined",
        "Tells the shopper their claim was declined, with the store's reason and how to reach it.",
        events.CLAIM_REJECTED,
    ),
    _notice(
        "claim_resolved",
        "resolved",
        "Tells the shopper how their claim was settled: the replacement order of a reship, or "
        "the amount of a refund.",
        events.CLAIM_RESOLVED,
    ),
]


def messages_register() -> None:
    """The ``claim`` variable and the claim blueprints (``claims_register``)."""
    from journeys.blueprints import blueprint_register
    from journeys.variables import registry
    from notifications.rendering import variable_register

    variable_register("claim", CLAIM_DESCRIPTION, CLAIM_SAMPLE)
    registry.register("claim", claim_variable)
    for blueprint in BLUEPRINTS:
        templates = [t for t in TEMPLATES if t["key"] in blueprint.templates]
        blueprint_register(blueprint, templates)
