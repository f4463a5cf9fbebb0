"""Journey blueprints installed: each as a draft with the templates it needs, and publishing;
side by side, never twice, never over a merchant's template nor a journey; and their templates
render with the sample data and fit. The journeys at work are in test_blueprints_journeys.py."""

from __future__ import annotations

import pytest

from journeys import schema
from journeys.blueprint_templates import BLUEPRINT_TEMPLATES
from journeys.blueprints import (
    BLUEPRINTS,
    TEMPLATE_PAYLOADS,
    blueprints_all,
    blueprints_available,
    journey_blueprint_install,
)
from journeys.models import Journey
from journeys.services import journey_publish
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.models import MessageTemplate, MessageTemplateVersion
from notifications.rendering import sample_context, sms_segments
from notifications.services import message_template_render, message_template_save
from postpurchase.errors import DomainError
from postpurchase.validation import parse_payload
from tests.journeys.blueprint_helpers import DAY, KEYS, T0, live

# Feedback and Loyalty's links, as they will register them (tests/journeys/conftest.py).
pytestmark = pytest.mark.usefixtures("blueprint_links")


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
    blueprint = next(b for b in blueprints_all() if b.key == key)

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
    wanted = {key for blueprint in blueprints_all() for key in blueprint.templates}
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


# the built-in blueprints' templates and those features registered with theirs (claims)
EVERY_BLUEPRINT_TEMPLATE = [p for p in TEMPLATE_PAYLOADS.values() if p not in DEFAULT_TEMPLATES]


@pytest.mark.parametrize("payload", EVERY_BLUEPRINT_TEMPLATE, ids=lambda p: p["key"])
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
