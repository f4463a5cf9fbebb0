"""Journey blueprints: each installs as a draft with the templates it needs and publishes; an
install never overwrites a merchant's template nor a journey; their templates render and fit;
and the journeys behave as described, driven through the engine with an explicit clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from journeys import schema
from journeys.blueprint_templates import BLUEPRINT_TEMPLATES
from journeys.blueprints import (
    BLUEPRINTS,
    TEMPLATE_PAYLOADS,
    blueprints_available,
    journey_blueprint_install,
)
from journeys.links import links
from journeys.models import Enrollment, Journey, JourneyStepLog
from journeys.services import journey_publish, journeys_handle_event, journeys_tick
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.models import Message, MessageTemplate, MessageTemplateVersion
from notifications.rendering import sample_context, sms_segments
from notifications.services import message_template_render, message_template_save
from orders.models import Shipment
from postpurchase.errors import DomainError
from postpurchase.events.services import event_record
from postpurchase.validation import parse_payload
from tests.factories import (
    CustomerFactory,
    MerchantFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    event_payload,
)

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # a Tuesday
DAY = timedelta(days=1)
KEYS = [blueprint.key for blueprint in BLUEPRINTS]


@pytest.fixture(autouse=True)
def features():
    """Feedback and Loyalty, as they will register their links: with them, every blueprint
    publishes (without them, see test_blueprint_needs.py)."""
    for name in ("survey_url", "loyalty_url", "return_url"):
        links.register(name, lambda *, customer, **about: f"https://t.example/{customer.pk}")
    yield
    for name in ("survey_url", "loyalty_url", "return_url"):
        links.unregister(name)


@pytest.fixture
def merchant(db):
    return MerchantFactory(
        timezone="UTC", name="Demo Outfitters", support_url="https://demo.example/help"
    )


@pytest.fixture
def customer(merchant):
    return CustomerFactory(
        merchant=merchant,
        first_name="Ada",
        email="ada@example.com",
        phone="+14155550123",
        timezone="UTC",
        email_marketing_consent=True,
    )


def an_order(merchant, customer, category="electronics", title="Smart speaker"):
    order = OrderFactory(merchant=merchant, customer=customer)
    product = ProductFactory(merchant=merchant, title=title, category=category)
    OrderLineFactory(order=order, product=product, title=title)
    return order


def a_shipment(order):
    return Shipment.unscoped.create(
        merchant=order.merchant,
        order=order,
        external_id=f"shp-{order.pk}",
        carrier="UPS",
        tracking_url="https://ups.example/track/1Z",
    )


def live(merchant, key):
    journey = journey_blueprint_install(merchant=merchant, key=key, now=T0)
    journey_publish(journey=journey, now=T0)
    return journey


def fire(merchant, customer, type, now=T0, **payload):
    event, _ = event_record(
        merchant=merchant,
        type=type,
        customer=customer,
        payload=event_payload(type, merchant=merchant, customer=customer, **payload),
        occurred_at=now,
        now=now,
    )
    return journeys_handle_event(event=event, now=now)


def delivered(merchant, customer, order, now=T0):
    shipment = a_shipment(order)
    return fire(
        merchant,
        customer,
        "shipment.delivered",
        now=now,
        order_id=order.pk,
        shipment_id=shipment.pk,
    )


def sent(customer):
    """(template, when) of each message the steps asked for, fallbacks left out."""
    return list(
        Message.unscoped.filter(customer=customer)
        .exclude(idempotency_key__endswith=":fallback")
        .order_by("created_at", "id")
        .values_list("template__key", "created_at")
    )


def statuses(customer):
    return list(
        Message.unscoped.filter(customer=customer)
        .order_by("created_at", "id")
        .values_list("template__key", "status", "reason")
    )


def snapshot(merchant):
    return (
        list(Journey.unscoped.filter(merchant=merchant).values_list("key", "draft", "updated_at")),
        sorted(
            MessageTemplate.unscoped.filter(merchant=merchant).values_list(
                "key", "current_version_id"
            )
        ),
        MessageTemplateVersion.unscoped.filter(merchant=merchant).count(),
    )


# --- installing -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_every_blueprint_installs_as_a_draft_with_its_templates_and_publishes(merchant, key):
    # given
    blueprint = next(b for b in BLUEPRINTS if b.key == key)

    # when
    journey = journey_blueprint_install(merchant=merchant, key=key, now=T0)

    # then: a draft, not live, with the templates it sends
    journey.refresh_from_db()
    assert (journey.key, journey.name, journey.status, journey.live_version) == (
        key,
        blueprint.name,
        "draft",
        None,
    )
    assert journey.description == blueprint.description
    assert journey.draft == blueprint.definition
    installed = MessageTemplate.unscoped.filter(merchant=merchant, current_version__isnull=False)
    assert sorted(installed.values_list("key", flat=True)) == sorted(blueprint.templates)

    # when: the merchant publishes it as it is
    version = journey_publish(journey=journey, now=T0)

    # then
    plan = parse_payload(schema.Definition, version.definition)
    assert (version.number, version.trigger_type) == (1, plan.trigger.type)
    assert version.trigger_event == (plan.trigger.event or "")


def test_blueprints_cover_every_kind_of_message_and_their_templates_exist():
    # then: each kind of message in the product brief has a blueprint
    kinds = {str(blueprint.kind) for blueprint in BLUEPRINTS}
    assert kinds == {
        "transactional",
        "status",
        "onboarding",
        "feedback",
        "relationship",
        "re_engagement",
    }
    assert len(set(KEYS)) == len(KEYS)
    sends = {key for blueprint in BLUEPRINTS for key in blueprint.templates}
    assert sends <= set(TEMPLATE_PAYLOADS)
    ours = {payload["key"] for payload in BLUEPRINT_TEMPLATES}
    assert ours <= sends  # nothing unused
    assert not ours & {payload["key"] for payload in DEFAULT_TEMPLATES}


def test_all_blueprints_install_side_by_side_and_are_listed_as_installed(merchant):
    # given
    before = blueprints_available(merchant)

    # when
    journeys = {key: journey_blueprint_install(merchant=merchant, key=key, now=T0) for key in KEYS}

    # then
    after = blueprints_available(merchant)
    assert [(c.blueprint.key, c.installed) for c in before] == [(key, False) for key in KEYS]
    assert [(c.blueprint.key, c.journey_id) for c in after] == [
        (key, journeys[key].pk) for key in KEYS
    ]
    wanted = {key for blueprint in BLUEPRINTS for key in blueprint.templates}
    have = MessageTemplate.unscoped.filter(merchant=merchant).values_list("key", flat=True)
    assert set(have) == wanted
    assert MessageTemplateVersion.unscoped.filter(merchant=merchant).count() == len(wanted)


def test_installing_a_blueprint_twice_is_a_conflict_and_changes_nothing(merchant):
    # given: installed, then a template it sends deleted by the merchant
    journey_blueprint_install(merchant=merchant, key="review_request", now=T0)
    MessageTemplate.unscoped.filter(merchant=merchant, key="review_reminder").delete()
    before = snapshot(merchant)

    # when
    with pytest.raises(DomainError) as error:
        journey_blueprint_install(merchant=merchant, key="review_request", now=T0 + DAY)

    # then: refused on the key, and the missing template was not made either
    assert (error.value.code, error.value.field) == ("key_taken", "key")
    assert error.value.message == "Another journey has key 'review_request'."
    assert snapshot(merchant) == before


def test_installing_over_a_live_renamed_journey_is_a_conflict(merchant):
    # given: installed, published and renamed by the merchant
    live(merchant, "win_back")
    Journey.unscoped.filter(merchant=merchant, key="win_back").update(name="My win-back")
    before = snapshot(merchant)

    # when
    with pytest.raises(DomainError) as error:
        journey_blueprint_install(merchant=merchant, key="win_back")

    # then
    assert (error.value.code, error.value.field) == ("key_taken", "key")
    assert snapshot(merchant) == before
    assert Journey.unscoped.get(merchant=merchant, key="win_back").name == "My win-back"


def test_an_unknown_blueprint_is_not_found(merchant):
    with pytest.raises(DomainError) as error:
        journey_blueprint_install(merchant=merchant, key="nope")
    assert (error.value.code, error.value.field) == ("not_found", "key")
    assert Journey.unscoped.filter(merchant=merchant).count() == 0


def test_the_merchants_own_templates_are_never_overwritten(merchant):
    # given: the merchant edited the default review request and wrote their own reminder
    [original] = [p for p in DEFAULT_TEMPLATES if p["key"] == "review_request"]
    edited = message_template_save(merchant=merchant, payload=original, now=T0)
    variant = {**original["variants"][0], "subject": "Tell us, {{ customer.first_name }}"}
    edited = message_template_save(
        merchant=merchant, template=edited, payload={**original, "variants": [variant]}, now=T0
    )
    own = message_template_save(
        merchant=merchant,
        payload={
            "key": "review_reminder",
            "name": "Our reminder",
            "channel": "sms",
            "category": "marketing",
            "variants": [{"locale": "en", "sms_body": "Review us? {{ survey_url }}"}],
        },
        now=T0,
    )

    # when
    journey_blueprint_install(merchant=merchant, key="review_request", now=T0 + DAY)

    # then: both kept as they were, version and all
    for template, version in ((edited, 2), (own, 1)):
        fresh = MessageTemplate.unscoped.get(pk=template.pk)
        assert fresh.current_version_id == template.current_version_id
        assert (fresh.name, fresh.current_version.number) == (template.name, version)
        assert fresh.versions.count() == version
    rendered = message_template_render(template=edited, context=sample_context())
    assert rendered.subject == "Tell us, Ada"


# --- the templates ----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", BLUEPRINT_TEMPLATES, ids=lambda p: p["key"])
def test_every_blueprint_template_renders_with_the_sample_data(merchant, payload):
    # given
    template = message_template_save(merchant=merchant, payload=payload)
    without_support = sample_context()
    without_support["merchant"]["support_url"] = ""

    # when
    rendered = message_template_render(template=template, context=sample_context())
    plain = message_template_render(template=template, context=without_support)

    # then
    if template.channel == "sms":
        segments = sms_segments(rendered.sms)
        assert (segments.encoding, segments.segments) == ("GSM-7", 1)
        assert "{" not in rendered.sms
        return
    [variant] = payload["variants"]
    assert variant["text_body"].strip()  # hand-written, like the defaults
    assert "<" not in variant["text_body"]
    assert rendered.subject and rendered.preheader and "{" not in rendered.subject
    assert rendered.text.startswith("Hi Ada,")
    if "merchant.support_url" in variant["html_body"]:
        assert "https://demo-outfitters.example/help" in rendered.text
        assert "https://demo-outfitters.example/help" in rendered.html
        assert "demo-outfitters.example/help" not in plain.html + plain.text


# --- the journeys at work ---------------------------------------------------------------------


def test_order_confirmation_goes_when_the_order_is_placed(merchant, customer):
    # given
    live(merchant, "order_confirmation")
    order = an_order(merchant, customer)

    # when
    [enrollment] = fire(merchant, customer, "order.placed", order_id=order.pk)
    again = fire(merchant, customer, "order.placed", now=T0 + DAY, order_id=order.pk)

    # then: once per order
    assert again == []
    assert sent(customer) == [("order_confirmation", T0)]
    assert Enrollment.unscoped.get(pk=enrollment.pk).key == f"order:{order.pk}"


def test_shipping_updates_answer_each_status_in_whatever_order_it_comes(merchant, customer):
    # given: the four status journeys; a parcel delayed, then delivered without an
    # out-for-delivery scan; the carrier repeats the delay
    for key in KEYS:
        if key.startswith("shipping_"):
            live(merchant, key)
    order = an_order(merchant, customer)
    shipment = a_shipment(order)
    ids = {"order_id": order.pk, "shipment_id": shipment.pk}

    # when
    fire(merchant, customer, "shipment.in_transit", now=T0, **ids)
    fire(merchant, customer, "shipment.exception", now=T0 + DAY, **ids)
    fire(merchant, customer, "shipment.exception", now=T0 + DAY * 1.5, **ids)
    fire(merchant, customer, "shipment.exception", now=T0 + DAY * 2.5, **ids)
    fire(merchant, customer, "shipment.delivered", now=T0 + DAY * 3, **ids)

    # then: a delay notice at most once a day per order
    assert sent(customer) == [
        ("shipped", T0),
        ("delayed", T0 + DAY),
        ("delayed", T0 + DAY * 2.5),
        ("delivered", T0 + DAY * 3),
    ]


def test_out_for_delivery_is_a_text_with_the_email_as_fallback(merchant, customer):
    # given: a shopper with no phone number
    live(merchant, "shipping_out_for_delivery")
    customer.phone = ""
    customer.save()
    order = an_order(merchant, customer)
    shipment = a_shipment(order)

    # when
    fire(
        merchant,
        customer,
        "shipment.out_for_delivery",
        order_id=order.pk,
        shipment_id=shipment.pk,
    )

    # then
    assert statuses(customer) == [
        ("out_for_delivery_sms", "suppressed", "no_address"),
        ("out_for_delivery", "queued", ""),
    ]


@pytest.mark.parametrize(
    ("category", "template"),
    [
        ("electronics", "onboarding_setup"),
        ("apparel", "onboarding_care"),
        ("footwear", "onboarding_care"),
        ("garden", "onboarding_tips"),
    ],
)
def test_onboarding_by_product_category_the_morning_after_delivery(
    merchant, customer, category, template
):
    # given: delivered on Tuesday at 15:00 (the shopper's zone is UTC)
    live(merchant, "onboarding")
    order = an_order(merchant, customer, category=category)
    [enrollment] = delivered(merchant, customer, order)

    # when
    journeys_tick(now=datetime(2026, 6, 3, 10, 0, tzinfo=UTC))

    # then
    assert statuses(customer) == [(template, "queued", "")]
    assert sent(customer) == [(template, datetime(2026, 6, 3, 10, 0, tzinfo=UTC))]
    state = Enrollment.unscoped.get(pk=enrollment.pk).state
    assert state == ("waiting" if category == "electronics" else "completed")


def test_onboarding_sends_the_troubleshooting_guide_when_setup_is_not_completed(merchant, customer):
    # given: the set-up guide went on Wednesday at 10:00; set-up of another order completes
    live(merchant, "onboarding")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)
    guide_at = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    journeys_tick(now=guide_at)
    fire(merchant, customer, "product.setup_completed", now=guide_at + DAY, order_id=order.pk + 1)

    # when: three days pass
    early = journeys_tick(now=guide_at + 3 * DAY - timedelta(seconds=1))
    on_time = journeys_tick(now=guide_at + 3 * DAY)

    # then
    assert (early, on_time) == (0, 1)
    assert statuses(customer) == [
        ("onboarding_setup", "queued", ""),
        ("troubleshooting_guide", "queued", ""),
    ]
    assert sent(customer)[1] == ("troubleshooting_guide", guide_at + 3 * DAY)
    enrollment.refresh_from_db()
    # the goal counts for its own order only: another order's set-up does not convert it
    assert (enrollment.state, enrollment.converted_at) == ("completed", None)


def test_onboarding_ends_without_troubleshooting_when_setup_is_completed(merchant, customer):
    # given
    live(merchant, "onboarding")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)
    guide_at = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)
    journeys_tick(now=guide_at)

    # when: set-up completed two days later
    done_at = guide_at + 2 * DAY
    fire(merchant, customer, "product.setup_completed", now=done_at, order_id=order.pk)
    later = journeys_tick(now=guide_at + 10 * DAY)

    # then
    assert later == 0
    assert [key for key, _ in sent(customer)] == ["onboarding_setup"]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.converted_at) == ("completed", done_at)
    steps = JourneyStepLog.unscoped.filter(enrollment=enrollment, step_id="setup_wait")
    assert list(steps.values_list("outcome", flat=True)) == ["waiting", "event_arrived"]


def test_review_request_a_week_after_delivery_then_one_reminder(merchant, customer):
    # given
    live(merchant, "review_request")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)

    # when
    ticks = [
        journeys_tick(now=T0 + 7 * DAY - timedelta(seconds=1)),
        journeys_tick(now=T0 + 7 * DAY),
        journeys_tick(now=T0 + 11 * DAY - timedelta(seconds=1)),
        journeys_tick(now=T0 + 11 * DAY),
        journeys_tick(now=T0 + 30 * DAY),
    ]

    # then
    assert ticks == [0, 1, 0, 1, 0]
    assert sent(customer) == [("review_request", T0 + 7 * DAY), ("review_reminder", T0 + 11 * DAY)]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.converted_at) == ("completed", None)


def test_a_review_of_the_order_stops_the_reminder_and_converts(merchant, customer):
    # given: asked a week after delivery
    live(merchant, "review_request")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)
    journeys_tick(now=T0 + 7 * DAY)

    # when: a review of another order, then of this one
    fire(merchant, customer, "review.submitted", now=T0 + 8 * DAY, order_id=order.pk + 1)
    still = Enrollment.unscoped.get(pk=enrollment.pk).state
    fire(merchant, customer, "review.submitted", now=T0 + 9 * DAY, order_id=order.pk)
    journeys_tick(now=T0 + 30 * DAY)

    # then
    assert still == "waiting"
    assert [key for key, _ in sent(customer)] == ["review_request"]
    enrollment.refresh_from_db()
    # the wait matches the order, and so does the goal (a journey keyed per order)
    assert (enrollment.state, enrollment.converted_at) == ("completed", T0 + 9 * DAY)


def test_a_review_before_the_request_means_no_request(merchant, customer):
    # given
    live(merchant, "review_request")
    order = an_order(merchant, customer)
    [enrollment] = delivered(merchant, customer, order)

    # when: reviewed on the shop's own page two days after delivery
    fire(merchant, customer, "review.submitted", now=T0 + 2 * DAY, order_id=order.pk)
    journeys_tick(now=T0 + 30 * DAY)

    # then
    assert sent(customer) == []
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.converted_at) == ("completed", T0 + 2 * DAY)


def test_thank_you_the_next_morning_and_the_loyalty_invite_once(merchant, customer):
    # given
    live(merchant, "thank_you_loyalty")
    first, second = an_order(merchant, customer), an_order(merchant, customer)
    thursday, saturday = (datetime(2026, 6, d, 10, 0, tzinfo=UTC) for d in (4, 6))

    # when: one order, then another a month later
    fire(merchant, customer, "order.placed", order_id=first.pk)
    journeys_tick(now=thursday)
    journeys_tick(now=saturday)
    fire(merchant, customer, "order.placed", now=T0 + 31 * DAY, order_id=second.pk)
    journeys_tick(now=thursday + 31 * DAY)
    journeys_tick(now=saturday + 31 * DAY)

    # then
    assert sent(customer) == [
        ("thank_you", thursday),
        ("loyalty_invite", saturday),
        ("thank_you", thursday + 31 * DAY),
    ]
    customer.refresh_from_db()
    assert customer.tags == ["loyalty-invited"]
    first_enrollment = Enrollment.unscoped.filter(customer=customer).order_by("pk").first()
    assert first_enrollment.converted_at == T0 + 31 * DAY


def win_back_entered(merchant, customer):
    """An enrollment as the inactivity scan makes it (entered at 10:00, due at once)."""
    journey = live(merchant, "win_back")
    journey.refresh_from_db()
    return Enrollment.unscoped.create(
        merchant=merchant,
        journey=journey,
        version=journey.live_version,
        customer=customer,
        key="inactive:2026-04-03",
        state="active",
        current_step=journey.live_version.definition["start"],
        next_run_at=datetime(2026, 6, 2, 10, 0, tzinfo=UTC),
        context={"event": {"type": "inactivity", "key": "inactive:2026-04-03"}},
        entered_at=datetime(2026, 6, 2, 10, 0, tzinfo=UTC),
    )


def test_win_back_sends_a_second_touch_thirty_days_later(merchant, customer):
    # given
    entered_at = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    enrollment = win_back_entered(merchant, customer)

    # when
    ticks = [
        journeys_tick(now=entered_at),
        journeys_tick(now=entered_at + 30 * DAY - timedelta(seconds=1)),
        journeys_tick(now=entered_at + 30 * DAY),
    ]

    # then
    assert ticks == [1, 0, 1]
    assert sent(customer) == [
        ("win_back", entered_at),
        ("win_back_second", entered_at + 30 * DAY),
    ]
    assert statuses(customer)[1] == ("win_back_second", "queued", "")
    enrollment.refresh_from_db()
    assert enrollment.state == "completed"


def test_win_back_ends_on_a_purchase_which_is_its_goal(merchant, customer):
    # given: the first touch went
    entered_at = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
    enrollment = win_back_entered(merchant, customer)
    journeys_tick(now=entered_at)

    # when: the shopper orders ten days later
    bought_at = entered_at + 10 * DAY
    fire(merchant, customer, "order.placed", now=bought_at, order_id=1, total="80.00")
    journeys_tick(now=entered_at + 60 * DAY)

    # then
    assert [key for key, _ in sent(customer)] == ["win_back"]
    enrollment.refresh_from_db()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "event:order.placed")
    assert (enrollment.converted_at, enrollment.revenue) == (bought_at, Decimal("80.000"))
