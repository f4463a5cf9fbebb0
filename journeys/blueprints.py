"""Journey blueprints: ready-made journeys, one or more per kind of message in the product brief,
that a merchant installs as a draft, reviews, edits and publishes like any journey of their own.

``journey_blueprint_install`` saves the blueprint's definition as a draft journey keyed by the
blueprint's key (never published: the merchant reviews first) and gives the merchant the
templates it sends that they lack (``DEFAULT_TEMPLATES`` and ``BLUEPRINT_TEMPLATES``, by key); a
template the merchant already has, edited or not, is theirs and stays as it is.

Choices, and why:

- **Shipping updates are four small journeys**, one per status event (``shipment.in_transit``,
  ``.out_for_delivery``, ``.delivered``, ``.exception``), each one send. A journey has one
  trigger event, and a ``wait_for_event`` step waits for one event type and ignores the rest, so
  a single journey walking shipped → out for delivery → delivered would drop the notices a
  carrier sends out of that order: a parcel delivered without an out-for-delivery scan, and a
  delay (``shipment.exception``), which can come at any point, more than once. Separate journeys
  answer each status whenever it comes. Each is per order and re-entered on every event (a
  second parcel of the order, a second delivery attempt); the delay notice at most once a day
  per order. Out for delivery goes by SMS first (it is about today), the others by email, each
  with the other channel as the fallback when the first cannot reach the shopper.
- **Waits match the order** (``"order_id": "trigger.order_id"``). The review request *waits*
  7 days for a review of that order instead of *delaying* 7 days: a review that comes first
  (from the shop's own page) ends it before anything is sent. (Exits and goals of a journey
  keyed per order count for its own order only, so another order's review changes nothing.)
- **Some need a feature that comes later**: the review request sends the survey link
  (Feedback), the loyalty invitation and the birthday reward the rewards link (Loyalty).
  ``blueprints_available`` marks them (``needs``); they install, and ``journey_publish``
  refuses them until the feature registers its link (``journeys/links.py``).
- **Running late** is the delay scan's own notice (``shipment.delayed``: no first scan, no scan
  for days, past the estimated date), apart from the carrier's exception, so a merchant may run
  one, the other or both; it sends the same templates as the exception notice, at most once
  every three days per order (an incident is raised once, but a parcel may stall again). An
  order not shipped by the promised day (``order.fulfillment_delayed``) gets its own notice,
  once (the scan raises none for a cancelled order).
- **Onboarding** starts the morning after delivery (10:00 in the shopper's zone) and branches on
  the order's categories: electronics gets a set-up guide and a 72-hour wait for
  ``product.setup_completed`` about that order (the integrator posts it with the platform's
  ``order_id``), with a troubleshooting guide when it does not come; apparel and footwear get a
  care guide; anything else the generic tips. The categories are examples to edit.
- **Thank-you and loyalty invite** run once per customer at most every 30 days (a thank-you per
  order would follow every confirmation); the invite goes once per customer, remembered by the
  tag ``loyalty-invited``. **The birthday reward** has a date trigger, so it is a blueprint of
  its own.
- **Win-back** is entered after 60 days without an order (each quiet period enters once), sends
  a second touch 30 days later (day 90), and ends on a purchase, which is also its goal.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from journeys.blueprint_templates import BLUEPRINT_TEMPLATES
from journeys.links import Need, needs_of
from journeys.models import Journey
from journeys.services import SOURCE_FIELDS, journey_save
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.errors import NotificationsErrorCode
from notifications.models import Kind, MessageTemplate
from notifications.services import message_template_save
from orders.events import (
    ORDER_CANCELLED,
    ORDER_FULFILLMENT_DELAYED,
    ORDER_PLACED,
    SHIPMENT_DELAYED,
    SHIPMENT_DELIVERED,
    SHIPMENT_EXCEPTION,
    SHIPMENT_IN_TRANSIT,
    SHIPMENT_OUT_FOR_DELIVERY,
)
from postpurchase.errors import DomainError, ErrorCode
from postpurchase.tenancy.models import Merchant

DAY_HOURS = 24
MATCH_ORDER = {"order_id": "trigger.order_id"}


@dataclass(frozen=True)
class Blueprint:
    key: str  # also the installed journey's key
    name: str
    description: str
    kind: str  # the kind of message (``notifications.models.Kind``)
    definition: dict[str, Any]

    @property
    def templates(self) -> list[str]:
        """The template keys its steps send, fallbacks included, in step order."""
        keys: list[str] = []
        for step in self.definition["steps"]:
            for name in ("template", "fallback_template"):
                if step.get(name) and step[name] not in keys:
                    keys.append(step[name])
        return keys


def _send(step_id: str, template: str, next_step: str = "", fallback: str = "") -> dict:
    step = {"id": step_id, "type": "send", "template": template, "next": next_step}
    if fallback:
        step["fallback_template"] = fallback
    return step


def _status(event: str, template: str, fallback: str, **entry: Any) -> dict[str, Any]:
    return {
        "trigger": {"type": "event", "event": event},
        "entry": {"per": "order", "reentry": "always", **entry},
        "start": "notify",
        "steps": [_send("notify", template, fallback=fallback)],
    }


def _wait_for_review(step_id: str, hours: int, timeout_next: str) -> dict:
    return {
        "id": step_id,
        "type": "wait_for_event",
        "event": "review.submitted",
        "match": MATCH_ORDER,
        "timeout_hours": hours,
        "next": "",  # reviewed: done
        "timeout_next": timeout_next,
    }


def _category(step_id: str, categories: list[str], then: str, otherwise: str) -> dict:
    return {
        "id": step_id,
        "type": "condition",
        "conditions": [
            {"path": "order.categories", "op": "contains", "value": category}
            for category in categories
        ],
        "match": "any",
        "then": then,
        "else": otherwise,
    }


BLUEPRINTS: list[Blueprint] = [
    Blueprint(
        key="order_confirmation",
        name="Order confirmation",
        description="Confirms every order as soon as it is placed, by email (SMS when the "
        "shopper has no email address).",
        kind=Kind.TRANSACTIONAL,
        definition={
            "trigger": {"type": "event", "event": ORDER_PLACED},
            "entry": {"per": "order", "reentry": "never"},
            "start": "confirm",
            "steps": [_send("confirm", "order_confirmation", fallback="order_confirmation_sms")],
        },
    ),
    Blueprint(
        key="shipping_shipped",
        name="Shipping update: shipped",
        description="Tells the shopper their parcel is on its way when the carrier first scans "
        "it, with the tracking link.",
        kind=Kind.STATUS,
        definition=_status(SHIPMENT_IN_TRANSIT, "shipped", "shipped_sms"),
    ),
    Blueprint(
        key="shipping_out_for_delivery",
        name="Shipping update: out for delivery",
        description="A text on the morning the parcel is out for delivery (email when there is "
        "no phone number).",
        kind=Kind.STATUS,
        definition=_status(SHIPMENT_OUT_FOR_DELIVERY, "out_for_delivery_sms", "out_for_delivery"),
    ),
    Blueprint(
        key="shipping_delivered",
        name="Shipping update: delivered",
        description="Confirms the delivery, with the way to start a return.",
        kind=Kind.STATUS,
        definition=_status(SHIPMENT_DELIVERED, "delivered", "delivered_sms"),
    ),
    Blueprint(
        key="shipping_delayed",
        name="Shipping update: delayed",
        description="Apologises when the carrier reports a problem (an exception), with the "
        "latest estimate; at most once a day per order.",
        kind=Kind.STATUS,
        definition=_status(
            SHIPMENT_EXCEPTION,
            "delayed",
            "delayed_sms",
            reentry="after",
            cooldown_hours=DAY_HOURS,
        ),
    ),
    Blueprint(
        key="shipping_running_late",
        name="Shipping update: running late",
        description="Tells the shopper before they have to ask when the hourly delay scan finds "
        "their parcel stuck (no first scan, no scan for days, past its estimated date), with "
        "the tracking page; at most once every three days per order.",
        kind=Kind.STATUS,
        definition=_status(
            SHIPMENT_DELAYED,
            "delayed",
            "delayed_sms",
            reentry="after",
            cooldown_hours=3 * DAY_HOURS,
        ),
    ),
    Blueprint(
        key="order_running_late",
        name="Order update: not shipped yet",
        description="Tells the shopper when their order has not left by the day the store "
        "promised (the delay scan's fulfilment promise), with the order's page; once per order.",
        kind=Kind.STATUS,
        definition=_status(
            ORDER_FULFILLMENT_DELAYED, "order_delayed", "order_delayed_sms", reentry="never"
        ),
    ),
    Blueprint(
        key="onboarding",
        name="Onboarding by product category",
        description="The morning after delivery: a set-up guide for electronics (with a "
        "troubleshooting guide when set-up is not completed within 3 days), a care guide for "
        "apparel and footwear, tips for everything else.",
        kind=Kind.ONBOARDING,
        definition={
            "trigger": {"type": "event", "event": SHIPMENT_DELIVERED},
            "entry": {"per": "order", "reentry": "never"},
            "goal": {"event": "product.setup_completed", "within_hours": 7 * DAY_HOURS},
            "start": "morning",
            "steps": [
                {"id": "morning", "type": "delay", "at": "10:00", "next": "is_electronics"},
                _category("is_electronics", ["electronics"], "setup_guide", "is_apparel"),
                _category("is_apparel", ["apparel", "footwear"], "care_guide", "tips"),
                _send("setup_guide", "onboarding_setup", "setup_wait"),
                {
                    "id": "setup_wait",
                    "type": "wait_for_event",
                    "event": "product.setup_completed",
                    "match": MATCH_ORDER,
                    "timeout_hours": 3 * DAY_HOURS,
                    "next": "",  # set up: done
                    "timeout_next": "troubleshooting",
                },
                _send("troubleshooting", "troubleshooting_guide"),
                _send("care_guide", "onboarding_care"),
                _send("tips", "onboarding_tips"),
            ],
        },
    ),
    Blueprint(
        key="review_request",
        name="Review request",
        description="Asks for a review 7 days after delivery, with one reminder 4 days later; "
        "a review of the order at any point ends it.",
        kind=Kind.FEEDBACK,
        definition={
            "trigger": {"type": "event", "event": SHIPMENT_DELIVERED},
            "entry": {"per": "order", "reentry": "never"},
            "goal": {"event": "review.submitted", "within_hours": 14 * DAY_HOURS},
            "start": "first_week",
            "steps": [
                _wait_for_review("first_week", 7 * DAY_HOURS, "ask"),
                _send("ask", "review_request", "answer"),
                _wait_for_review("answer", 4 * DAY_HOURS, "remind"),
                _send("remind", "review_reminder"),
            ],
        },
    ),
    Blueprint(
        key="thank_you_loyalty",
        name="Thank you and loyalty invitation",
        description="A thank-you the day after an order (at most one every 30 days), then, "
        "once per customer, an invitation to the rewards programme.",
        kind=Kind.RELATIONSHIP,
        definition={
            "trigger": {"type": "event", "event": ORDER_PLACED},
            "entry": {"per": "customer", "reentry": "after", "cooldown_hours": 30 * DAY_HOURS},
            "exit_events": [ORDER_CANCELLED],
            "goal": {"event": ORDER_PLACED, "within_hours": 90 * DAY_HOURS},
            "start": "next_day",
            "steps": [
                {"id": "next_day", "type": "delay", "days": 1, "at": "10:00", "next": "thank"},
                _send("thank", "thank_you", "invited"),
                {
                    "id": "invited",
                    "type": "condition",
                    "conditions": [
                        {"path": "customer.tags", "op": "contains", "value": "loyalty-invited"}
                    ],
                    "then": "",
                    "else": "later",
                },
                {"id": "later", "type": "delay", "days": 2, "at": "10:00", "next": "invite"},
                _send("invite", "loyalty_invite", "remember"),
                {"id": "remember", "type": "action", "action": "add_tag", "tag": "loyalty-invited"},
            ],
        },
    ),
    Blueprint(
        key="birthday_reward",
        name="Birthday reward",
        description="A birthday treat at 09:00 on the shopper's birthday, every year.",
        kind=Kind.RELATIONSHIP,
        definition={
            "trigger": {
                "type": "date",
                "date": "customer.birthday",
                "yearly": True,
                "offset_days": 0,
                "at": "09:00",
            },
            # once a year, whatever the scheduler does
            "entry": {"per": "customer", "reentry": "after", "cooldown_hours": 300 * DAY_HOURS},
            "goal": {"event": ORDER_PLACED, "within_hours": 30 * DAY_HOURS},
            "start": "celebrate",
            "steps": [_send("celebrate", "birthday_reward")],
        },
    ),
    Blueprint(
        key="win_back",
        name="Win-back",
        description="60 days without an order: a we-miss-you email, and a last note 30 days "
        "later (day 90). A purchase ends it.",
        kind=Kind.RE_ENGAGEMENT,
        definition={
            "trigger": {"type": "inactivity", "days": 60, "at": "10:00"},
            "entry": {"per": "customer", "reentry": "always"},
            "exit_events": [ORDER_PLACED],
            "goal": {"event": ORDER_PLACED, "within_hours": 60 * DAY_HOURS},
            "start": "first_touch",
            "steps": [
                _send("first_touch", "win_back", "pause"),
                {"id": "pause", "type": "delay", "days": 30, "at": "10:00", "next": "second_touch"},
                _send("second_touch", "win_back_second"),
            ],
        },
    ),
]

TEMPLATE_PAYLOADS: dict[str, dict] = {
    payload["key"]: payload for payload in [*DEFAULT_TEMPLATES, *BLUEPRINT_TEMPLATES]
}

# Blueprints a feature adds for its own events (``blueprint_register``, from its
# ``AppConfig.ready()``): package protection's claim notices; a return's, later.
_REGISTERED: list[Blueprint] = []
_ADDED: dict[str, list[str]] = {}  # a registered blueprint's key → the template keys it added


def blueprint_register(blueprint: Blueprint, templates: list[dict]) -> None:
    """Offer ``blueprint`` after the built-in ones, with the templates it sends that are neither
    defaults nor the built-in blueprints' (``templates``: payloads ``message_template_save``
    takes). A key already taken, by a blueprint or a template, is refused unless it is the same
    registration again; a template the blueprint sends must exist."""
    taken = {b.key: b for b in blueprints_all()}
    if blueprint.key in taken and taken[blueprint.key] != blueprint:
        raise ValueError(f"a blueprint with key {blueprint.key!r} is already registered")
    for payload in templates:
        known = TEMPLATE_PAYLOADS.get(payload["key"])
        if known is not None and known != payload:
            raise ValueError(f"a template with key {payload['key']!r} is already registered")
    missing = set(blueprint.templates) - set(TEMPLATE_PAYLOADS) - {p["key"] for p in templates}
    if missing:
        raise ValueError(f"the blueprint {blueprint.key!r} sends unknown {sorted(missing)}")
    for payload in templates:
        TEMPLATE_PAYLOADS[payload["key"]] = payload
    if blueprint.key not in taken:
        _REGISTERED.append(blueprint)
        _ADDED[blueprint.key] = [payload["key"] for payload in templates]


def blueprint_unregister(key: str) -> None:
    """Take a registered blueprint back, with the templates it added (a test's pillar leaves)."""
    _REGISTERED[:] = [blueprint for blueprint in _REGISTERED if blueprint.key != key]
    for template in _ADDED.pop(key, []):
        TEMPLATE_PAYLOADS.pop(template, None)


def blueprints_all() -> list[Blueprint]:
    """The built-in blueprints, then those features registered, in the order they came."""
    return [*BLUEPRINTS, *_REGISTERED]


def blueprint_get(key: str) -> Blueprint:
    for blueprint in blueprints_all():
        if blueprint.key == key:
            return blueprint
    raise DomainError(ErrorCode.NOT_FOUND, f"No blueprint has key {key!r}.", field="key")


def blueprint_needs(blueprint: Blueprint) -> list[Need]:
    """The features the blueprint's own templates need that do not exist yet (a review request
    needs Feedback's survey link): it installs, to be looked at, but is not published until
    they exist (``journey_publish`` checks the merchant's templates the same way)."""
    sources = {
        key: [
            variant.get(name, "")
            for variant in TEMPLATE_PAYLOADS[key]["variants"]
            for name in SOURCE_FIELDS
        ]
        for key in blueprint.templates
    }
    return needs_of(sources)


@dataclass(frozen=True)
class BlueprintChoice:
    """A blueprint as a merchant sees it: installed (a journey has its key) or not, and the
    features it needs that do not exist yet."""

    blueprint: Blueprint
    journey_id: int | None
    needs: tuple[Need, ...] = ()

    @property
    def installed(self) -> bool:
        return self.journey_id is not None

    @property
    def needed_features(self) -> list[str]:
        return list(dict.fromkeys(need.feature for need in self.needs))


def blueprints_available(merchant: Merchant) -> list[BlueprintChoice]:
    """Every blueprint, in order, with the merchant's journey of its key if there is one."""
    every = blueprints_all()
    keys = [blueprint.key for blueprint in every]
    installed = dict(
        Journey.unscoped.filter(merchant=merchant, key__in=keys).values_list("key", "id")
    )
    return [BlueprintChoice(b, installed.get(b.key), tuple(blueprint_needs(b))) for b in every]


def journey_blueprint_install(
    *, merchant: Merchant, key: str, by=None, now: datetime | None = None
) -> Journey:
    """Install blueprint ``key`` as a draft journey of that key, with the templates it sends
    that the merchant lacks; in one transaction, so a refused install changes nothing. A
    journey of that key already there: ``key_taken`` on ``key``."""
    blueprint = blueprint_get(key)
    with transaction.atomic():
        journey = journey_save(
            merchant=merchant,
            key=blueprint.key,
            name=blueprint.name,
            description=blueprint.description,
            definition=copy.deepcopy(blueprint.definition),
            now=now,
        )
        _templates_install(merchant, blueprint.templates, by=by, now=now)
    return journey


def _templates_install(merchant: Merchant, keys: list[str], *, by, now) -> None:
    have = set(
        MessageTemplate.unscoped.filter(merchant=merchant, key__in=keys).values_list(
            "key", flat=True
        )
    )
    for key in keys:
        if key in have:
            continue  # the merchant's own, edited or not
        try:
            message_template_save(merchant=merchant, payload=TEMPLATE_PAYLOADS[key], by=by, now=now)
        except DomainError as error:
            if error.code != NotificationsErrorCode.KEY_TAKEN:
                raise  # a blueprint template that fails its own checks is a bug
            # made meanwhile by another install or by the merchant: theirs stands
