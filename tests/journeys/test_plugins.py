"""A pillar plugs into journeys without editing ``journeys/``: it registers a fact namespace, a
link and an action (here a made-up ``perks`` pillar, registered for one test and gone after), and
a journey using them runs end to end. A definition naming a fact, an operator, an action or
action fields nobody registered is refused naming the field; a version published while a pillar
was there still loads after it is gone, and fails only the enrollments that reach its step."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict, Field

from journeys.actions import ActionResult, actions
from journeys.facts import Fact, facts
from journeys.links import links
from journeys.models import Enrollment, JourneyStepLog
from journeys.scheduled import journeys_scheduled_entries
from journeys.services import journey_publish, journey_save, journeys_handle_event, journeys_tick
from notifications.models import Message
from notifications.services import message_template_save
from orders.models import Shipment
from postpurchase.errors import DomainError
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, MerchantFactory, OrderFactory, event_payload
from tests.journeys.engine_helpers import hello
from tracking.links import tracking_page_url, tracking_url_make

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
CUSTOMER_FACTS = (
    "birthday, email, email_marketing_consent, first_name, id, locale, orders_count, phone, "
    "sms_marketing_consent, tags, timezone, total_spent"
)


class AwardPoints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    points: Annotated[int, Field(ge=1, le=10_000)]


@pytest.fixture
def perks():
    """The ``perks`` pillar as its ``AppConfig.ready()`` would plug it in: its customers' tier
    (computed for many customers at once), its page's link, and an action awarding points
    (keyed by the step's idempotency key, as a ledger row would be)."""
    pillar = SimpleNamespace(asked=[], awarded={})
    loyalty_url = links.maker("loyalty_url")

    def tiers(*, merchant, subjects):
        pillar.asked.append(sorted(subject.customer.pk for subject in subjects))
        return [
            {"tier": "gold" if "vip" in subject.customer.tags else "bronze", "points": 120}
            for subject in subjects
        ]

    def award(params, context):
        pillar.awarded.setdefault(context.key, (params.points, context.customer.pk))
        return ActionResult("awarded", f"{params.points} points")

    facts.register(
        "perks",
        facts={"tier": Fact("text", "bronze, silver or gold"), "points": Fact("number")},
        compute=tiers,
    )
    actions.register("perks.award_points", AwardPoints, award, label="Award points")
    links.register(
        "loyalty_url", lambda *, customer, **about: f"https://perks.example/{customer.pk}"
    )
    yield pillar
    facts.unregister("perks")
    actions.unregister("perks.award_points")
    links.unregister("loyalty_url")
    if loyalty_url is not None:  # a real loyalty app's maker, put back
        links.register("loyalty_url", loyalty_url)


@pytest.fixture
def merchant(db):
    merchant = MerchantFactory(timezone="UTC")
    message_template_save(
        merchant=merchant,
        payload={
            "key": "rewards",
            "name": "Rewards",
            "channel": "email",
            "category": "transactional",
            "variants": [
                {
                    "locale": "en",
                    "subject": "Your points",
                    "html_body": "<p><a href='{{ loyalty_url }}'>Your points</a></p>"
                    "{% if tracking_url is defined %}<p>{{ tracking_url }}</p>{% endif %}",
                }
            ],
        },
    )
    return merchant


def definition(steps, **rest):
    return {"trigger": {"event": "order.placed"}, "start": steps[0]["id"], "steps": steps, **rest}


GOLD_ONLY = {
    "event": "order.placed",
    "conditions": [{"path": "perks.tier", "op": "eq", "value": "gold"}],
}
AWARD_THEN_SEND = [
    {"id": "award", "type": "action", "action": "perks.award_points", "points": 50, "next": "tell"},
    {"id": "tell", "type": "send", "template": "rewards"},
]


def live(merchant, steps, **rest):
    journey = journey_save(
        merchant=merchant, key="j", name="J", definition=definition(steps, **rest)
    )
    journey_publish(journey=journey, now=T0)
    return journey


def fire(merchant, customer, now=T0, **payload):
    event, _ = event_record(
        merchant=merchant,
        type="order.placed",
        customer=customer,
        payload=event_payload("order.placed", merchant=merchant, customer=customer, **payload),
        occurred_at=now,
        now=now,
    )
    return journeys_handle_event(event=event, now=now)


def log_of(enrollment):
    rows = JourneyStepLog.unscoped.filter(enrollment=enrollment).order_by("occurred_at", "id")
    return list(rows.values_list("step_id", "outcome", "detail"))


# --- a pillar's fact, link and action, end to end -------------------------------------------


def test_a_pillars_fact_link_and_action_run_a_journey_end_to_end(merchant, perks):
    # given: a journey for gold members that awards points, then sends the rewards page
    live(merchant, AWARD_THEN_SEND, trigger=GOLD_ONLY)
    gold = CustomerFactory(merchant=merchant, tags=["vip"], email="gold@example.com")
    bronze = CustomerFactory(merchant=merchant, tags=[], email="bronze@example.com")

    # when
    [enrollment] = fire(merchant, gold)
    entered = fire(merchant, bronze)

    # then: the gold member entered, was awarded once under the step's key, and was sent the link
    assert entered == []
    enrollment.refresh_from_db()
    assert enrollment.state == "completed"
    assert perks.awarded == {f"journey:{enrollment.pk}:award:1": (50, gold.pk)}
    assert log_of(enrollment)[1:3] == [
        ("award", "awarded", "50 points"),
        ("tell", "queued", "rewards"),
    ]
    message = Message.unscoped.get(customer=gold)
    assert f"https://perks.example/{gold.pk}" in message.html
    assert perks.asked == [[gold.pk], [bronze.pk]]  # once per event, for its customer


def test_a_condition_step_reads_a_pillars_fact(merchant, perks):
    # given
    live(
        merchant,
        [
            {
                "id": "check",
                "type": "condition",
                "conditions": [{"path": "perks.points", "op": "gte", "value": 100}],
                "then": "award",
            },
            {"id": "award", "type": "action", "action": "perks.award_points", "points": 5},
        ],
    )
    customer = CustomerFactory(merchant=merchant)

    # when
    [enrollment] = fire(merchant, customer)

    # then
    assert [(step, outcome) for step, outcome, _ in log_of(enrollment)] == [
        ("", "entered"),
        ("check", "yes"),
        ("award", "awarded"),
        ("", "completed"),
    ]


def test_a_pillars_facts_are_computed_once_for_a_whole_batch(db, perks):
    # given: a birthday journey for gold members, and three birthdays today
    merchant = MerchantFactory(timezone="UTC")
    hello(merchant)
    trigger = {
        "type": "date",
        "date": "customer.birthday",
        "yearly": True,
        "conditions": [{"path": "perks.tier", "op": "eq", "value": "gold"}],
    }
    journey = journey_save(
        merchant=merchant,
        key="b",
        name="B",
        definition={
            "trigger": trigger,
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "hello"}],
        },
    )
    journey_publish(journey=journey, now=T0)
    born = date(1990, 6, 2)
    people = [
        CustomerFactory(merchant=merchant, birthday=born, tags=tags)
        for tags in (["vip"], [], ["vip"])
    ]

    # when
    entered = journeys_scheduled_entries(now=T0)

    # then: one call for the three of them, and the two gold members entered
    assert perks.asked == [sorted(person.pk for person in people)]
    assert entered == 2


def test_the_tracking_link_comes_from_whichever_maker_is_registered(merchant, perks):
    # given: the branded tracking page's maker (the tracking app's), then another one
    live(merchant, [{"id": "tell", "type": "send", "template": "rewards"}])
    customer = CustomerFactory(merchant=merchant, email="ada@example.com")
    order = OrderFactory(merchant=merchant, customer=customer)
    Shipment.unscoped.create(
        merchant=merchant,
        order=order,
        external_id="s1",
        carrier="UPS",
        tracking_url="https://ups.example/1Z",
    )

    # when
    fire(merchant, customer, order_id=order.pk)
    carrier = links.maker("tracking_url")
    links.register("tracking_url", lambda *, order, **about: f"https://shop.example/t/{order.pk}")
    try:
        fire(merchant, customer, now=T0 + timedelta(hours=1), order_id=order.pk)
    finally:
        links.register("tracking_url", carrier)

    # then
    assert carrier is tracking_url_make
    first, second = Message.unscoped.filter(customer=customer).order_by("pk")
    page = tracking_page_url(merchant=merchant, order_id=order.pk).split("/track/")[0]
    assert f"{page}/track/" in first.html
    assert "ups.example" not in first.html
    assert f"https://shop.example/t/{order.pk}" in second.html
    assert "ups.example" not in second.html


# --- what nobody registered is refused, naming the field ------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "code", "message"),
    [
        (
            {
                "trigger": {
                    "event": "order.placed",
                    "conditions": [{"path": "perks.tier", "op": "eq"}],
                }
            },
            "trigger.conditions[0].path",
            "value_error",
            "a path starts with event., customer., order. or steps.",
        ),
        (
            {
                "trigger": {
                    "event": "order.placed",
                    "conditions": [{"path": "customer.size", "op": "eq"}],
                }
            },
            "trigger.conditions[0].path",
            "value_error",
            f"customer.size is not a fact; the customer facts are {CUSTOMER_FACTS}",
        ),
        (
            {
                "trigger": {
                    "event": "order.placed",
                    "conditions": [{"path": "customer.tags", "op": "gt"}],
                }
            },
            "trigger.conditions[0].op",
            "value_error",
            "customer.tags is a list: its operators are contains, not_contains, exists, missing",
        ),
        (
            {"steps": [{"id": "d", "type": "delay", "until": "perks.renewal"}]},
            "steps[0].delay.until",
            "value_error",
            "a path starts with event., customer., order. or steps.",
        ),
        (
            {"steps": [{"id": "a", "type": "action", "action": "perks.award_points", "points": 5}]},
            "steps[0].action.action",
            "value_error",
            "no action 'perks.award_points'; the actions are add_tag, remove_tag, webhook",
        ),
        (
            {"steps": [{"id": "a", "type": "action", "action": "add_tag"}]},
            "steps[0].tag",
            "missing",
            "Field required",
        ),
        (
            {"steps": [{"id": "a", "type": "action", "action": "add_tag", "tag": "x", "hue": 1}]},
            "steps[0].hue",
            "extra_forbidden",
            "Extra inputs are not permitted",
        ),
    ],
)
def test_a_definition_naming_what_nobody_registered_is_refused_naming_the_field(
    merchant, change, field, code, message
):
    # given
    draft = {**definition([{"id": "s", "type": "send", "template": "rewards"}]), **change}
    draft["start"] = draft["steps"][0]["id"]

    # when
    with pytest.raises(DomainError) as error:
        journey_save(merchant=merchant, key="j", name="J", definition=draft)

    # then
    assert error.value.fields == {field: [{"code": code, "message": message}]}


def test_a_pillars_action_fields_are_checked_by_its_own_model(merchant, perks):
    step = {"id": "a", "type": "action", "action": "perks.award_points", "points": 0}

    with pytest.raises(DomainError) as error:
        journey_save(merchant=merchant, key="j", name="J", definition=definition([step]))

    assert error.value.fields == {
        "steps[0].points": [
            {"code": "greater_than_equal", "message": "Input should be greater than or equal to 1"}
        ]
    }


def test_a_link_nobody_can_fill_is_refused_when_registered():
    with pytest.raises(ValueError, match="not a shopper link a maker fills: 'coupon_url'"):
        links.register("coupon_url", lambda **about: "https://x.example")
    assert "coupon_url" not in links.available()


def test_an_action_cannot_take_a_steps_own_field_nor_a_taken_name():
    class Clashing(BaseModel):
        next: str

    with pytest.raises(ValueError, match="next are the step's own"):
        actions.register("perks.clash", Clashing, lambda params, context: None)
    with pytest.raises(ValueError, match="'add_tag' is registered already"):
        actions.register("add_tag", AwardPoints, lambda params, context: None)
    assert actions.get("perks.clash") is None


def test_the_api_refuses_simulating_a_draft_naming_an_action_nobody_registered(
    api_a, merchant_a, perks
):
    # given: a draft saved while the pillar was there; the pillar is gone since
    journey = journey_save(
        merchant=merchant_a,
        key="j",
        name="J",
        definition=definition([{**AWARD_THEN_SEND[0], "next": ""}]),
    )
    customer = CustomerFactory(merchant=merchant_a, external_id="c1")
    actions.unregister("perks.award_points")

    # when
    response = api_a.post(
        f"/api/v1/journeys/{journey.pk}/simulate?draft=true",
        {"customer_id": customer.pk},
        format="json",
    )

    # then
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == {
        "steps[0].action.action": [
            {
                "code": "value_error",
                "message": "no action 'perks.award_points'; the actions are add_tag, remove_tag, "
                "webhook",
            }
        ]
    }
    journey.refresh_from_db()
    assert (journey.status, journey.live_version) == ("draft", None)


def test_the_api_refuses_simulating_a_draft_on_a_fact_nobody_registered(api_a, merchant_a, perks):
    # given: a draft saved while the pillar was there, entering gold members; the pillar is gone
    journey = journey_save(
        merchant=merchant_a,
        key="j",
        name="J",
        definition={**definition([{"id": "s", "type": "exit"}]), "trigger": GOLD_ONLY},
    )
    customer = CustomerFactory(merchant=merchant_a)
    facts.unregister("perks")

    # when
    response = api_a.post(
        f"/api/v1/journeys/{journey.pk}/simulate?draft=true",
        {"customer_id": customer.pk},
        format="json",
    )

    # then
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == {
        "trigger.conditions[0].path": [
            {
                "code": "value_error",
                "message": "a path starts with event., customer., order. or steps.",
            }
        ]
    }


def test_the_api_refuses_simulating_a_draft_whose_template_needs_a_link_nobody_fills(
    api_a, merchant_a
):
    # given: the rewards template names the loyalty link, and no app fills it
    message_template_save(
        merchant=merchant_a,
        payload={
            "key": "rewards",
            "name": "Rewards",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Hi", "html_body": "{{ loyalty_url }}"}],
        },
    )
    steps = [{"id": "tell", "type": "send", "template": "rewards"}]
    journey = journey_save(merchant=merchant_a, key="j", name="J", definition=definition(steps))
    customer = CustomerFactory(merchant=merchant_a)

    # when
    response = api_a.post(
        f"/api/v1/journeys/{journey.pk}/simulate?draft=true",
        {"customer_id": customer.pk},
        format="json",
    )

    # then
    assert response.status_code == 409, response.content
    assert response["Content-Type"] == "application/problem+json"
    message = (
        "Needs Loyalty: rewards uses loyalty_url, which comes with Loyalty. It can be "
        "published once that exists."
    )
    assert response.json()["errors"] == {"steps": [{"code": "feature_missing", "message": message}]}


# --- a published version outlives its pillar --------------------------------------------------


def test_a_version_naming_a_pillar_gone_since_loads_and_fails_only_at_its_step(merchant, perks):
    # given: published while the pillar was there; an enrollment waits before its action
    journey = live(
        merchant,
        [
            {"id": "wait", "type": "delay", "hours": 1, "next": "check"},
            {
                "id": "check",
                "type": "condition",
                "conditions": [{"path": "perks.tier", "op": "eq", "value": "gold"}],
                "then": "award",
                "else": "award",
            },
            *AWARD_THEN_SEND,
        ],
    )
    customer = CustomerFactory(merchant=merchant, tags=["vip"])
    [enrollment] = fire(merchant, customer)
    facts.unregister("perks")
    actions.unregister("perks.award_points")

    # when
    journeys_tick(now=T0 + timedelta(hours=1))

    # then: the fact reads as missing (no), the action fails this enrollment with the reason
    enrollment = Enrollment.unscoped.get(pk=enrollment.pk)
    assert (enrollment.state, enrollment.exit_reason) == ("failed", "error")
    assert log_of(enrollment)[-2:] == [
        ("check", "no", ""),
        (
            "award",
            "failed",
            "LookupError: no action 'perks.award_points'; the actions are add_tag, remove_tag, "
            "webhook",
        ),
    ]
    assert perks.awarded == {}
    assert journey.versions.get().definition["steps"][2]["points"] == 50


# --- a pillar's template variable and blueprint -----------------------------------------------

PERK_SAMPLE = {"title": "Free socks", "code": "SOCKS-1"}


@pytest.fixture
def perk_notice():
    """The ``perks`` pillar's ``perk`` variable, filled from a trigger whose order number is a
    perk's (``P-…``), and
    its blueprint telling the shopper about it, as its ``AppConfig.ready()`` would add them."""
    from journeys.blueprints import Blueprint, blueprint_register, blueprint_unregister
    from journeys.variables import registry as variables
    from notifications.rendering import variable_register, variable_unregister

    variable_register("perk", "The perk: title, code.", PERK_SAMPLE)
    made = []

    def perk(*, merchant, event, memo):
        code = event.get("number", "")
        if not code.startswith("P-"):
            return None
        made.append(code)
        return memo(("perk", code), lambda: {"title": f"Perk {code}", "code": code})

    variables.register("perk", perk)
    template = {
        "key": "perk_notice",
        "name": "Perk",
        "channel": "email",
        "category": "transactional",
        "variants": [{"locale": "en", "subject": "{{ perk.title }}", "html_body": "<p>x</p>"}],
    }
    blueprint = Blueprint(
        key="perk_notice",
        name="Perk notice",
        description="Tells the shopper their perk.",
        kind="transactional",
        definition=definition([{"id": "tell", "type": "send", "template": "perk_notice"}]),
    )
    blueprint_register(blueprint, [template])
    yield made
    variables.unregister("perk")
    variable_unregister("perk")
    blueprint_unregister("perk_notice")


def test_a_pillars_variable_and_blueprint_tell_the_shopper_from_the_trigger(merchant, perk_notice):
    # given: the pillar's blueprint installed and published as it comes
    from journeys.blueprints import blueprints_available, journey_blueprint_install

    journey_publish(journey=journey_blueprint_install(merchant=merchant, key="perk_notice"), now=T0)
    customer = CustomerFactory(merchant=merchant)
    order = OrderFactory(merchant=merchant, customer=customer)

    # when: an order whose number is a perk's, then one whose is not
    [told] = fire(merchant, customer, order_id=order.pk, number="P-7")
    [untold] = fire(merchant, customer, now=T0 + timedelta(days=1), order_id=order.pk, number="8")

    # then: the first is told its perk; the second's send fails naming the missing variable
    messages = Message.unscoped.filter(customer=customer).order_by("id")
    got = [(m.subject, m.status, m.reason, m.detail) for m in messages]
    assert got[0] == ("Perk P-7", "queued", "", "")
    assert got[1][:3] == ("", "failed", "render")
    assert "perk" in got[1][3]
    assert perk_notice == ["P-7"]
    assert ("tell", "queued") in [row[:2] for row in log_of(told)]
    assert ("tell", "failed:render") in [row[:2] for row in log_of(untold)]
    assert [c.blueprint.key for c in blueprints_available(merchant)][-1] == "perk_notice"


def test_a_variable_is_declared_once_with_a_plain_sample_and_filled_only_when_declared():
    from journeys.variables import registry as variables
    from notifications.rendering import variable_register
    from notifications.rendering import variables as declared

    with pytest.raises(ValueError, match="'order' is a built-in variable"):
        variable_register("order", "Mine.", {})
    with pytest.raises(ValueError, match="not a variable name: 'Perk-1'"):
        variable_register("Perk-1", "Mine.", {})
    with pytest.raises(TypeError, match=r"perk.at is a object"):
        variable_register("perk", "Mine.", {"at": object()})
    with pytest.raises(ValueError, match="not a registered feature variable: 'perk'"):
        variables.register("perk", lambda **about: None)
    with pytest.raises(ValueError, match="not a registered feature variable: 'customer'"):
        variables.register("customer", lambda **about: None)
    assert "perk" not in declared()


def test_a_blueprint_key_or_template_key_is_taken_once():
    from journeys.blueprints import Blueprint, blueprint_get, blueprint_register

    taken = blueprint_get("win_back")
    with pytest.raises(ValueError, match="blueprint with key 'win_back' is already registered"):
        blueprint_register(Blueprint(**{**taken.__dict__, "name": "Mine"}), [])
    blueprint_register(taken, [])  # the same again: nothing changes
    mine = Blueprint("mine", "Mine", "Mine.", "transactional", taken.definition)
    with pytest.raises(ValueError, match="template with key 'win_back' is already registered"):
        blueprint_register(mine, [{"key": "win_back", "variants": []}])
    odd = Blueprint(
        "odd",
        "Odd",
        "Odd.",
        "transactional",
        definition([{"id": "tell", "type": "send", "template": "nowhere"}]),
    )
    with pytest.raises(ValueError, match=r"the blueprint 'odd' sends unknown \['nowhere'\]"):
        blueprint_register(odd, [])
    with pytest.raises(DomainError):
        blueprint_get("mine")
