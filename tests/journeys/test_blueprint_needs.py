"""Blueprints whose templates need a link no feature fills yet (the survey link of Feedback, the
rewards link of Loyalty) are marked as needing that feature; they install, to be looked at, and
are not published until the feature registers its link."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from journeys.blueprints import blueprints_available, journey_blueprint_install
from journeys.links import links, links_used
from journeys.models import Journey
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications.models import Message
from notifications.services import message_template_save
from postpurchase.errors import DomainError
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, MerchantFactory, event_payload

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def merchant(db):
    return MerchantFactory(timezone="UTC")


@pytest.fixture
def feedback():
    """The Feedback feature, as it will register its survey link."""
    links.register("survey_url", lambda *, customer, **about: f"https://t.example/f/{customer.pk}")
    yield
    links.unregister("survey_url")


def test_blueprints_are_marked_with_the_features_they_need(merchant):
    # when
    choices = blueprints_available(merchant)

    # then
    needs = {c.blueprint.key: c.needed_features for c in choices if c.needed_features}
    assert needs == {
        "review_request": ["Feedback"],
        "thank_you_loyalty": ["Loyalty"],
        "birthday_reward": ["Loyalty"],
    }
    [review] = [c for c in choices if c.blueprint.key == "review_request"]
    assert [(n.link, n.templates) for n in review.needs] == [
        ("survey_url", ("review_reminder", "review_request"))
    ]


def test_a_blueprint_needing_a_feature_installs_but_is_not_published(merchant):
    # given: installed, to be looked at
    journey = journey_blueprint_install(merchant=merchant, key="review_request", now=T0)

    # when
    with pytest.raises(DomainError) as error:
        journey_publish(journey=journey, now=T0)

    # then: refused, naming the feature, the templates and the link; nothing published
    assert (error.value.code, error.value.field) == ("feature_missing", "steps")
    assert error.value.message == (
        "Needs Feedback: review_reminder and review_request use survey_url, which comes with "
        "Feedback. It can be published once that exists."
    )
    journey.refresh_from_db()
    assert (journey.status, journey.live_version, journey.versions.count()) == ("draft", None, 0)


def test_once_the_feature_registers_its_link_the_blueprint_publishes_and_sends_it(
    merchant, feedback
):
    # given
    journey = journey_blueprint_install(merchant=merchant, key="review_request", now=T0)
    assert [c.needed_features for c in blueprints_available(merchant)][6] == []

    # when
    version = journey_publish(journey=journey, now=T0)

    # then
    assert (version.number, Journey.unscoped.get(pk=journey.pk).status) == (1, "live")


def test_a_merchants_own_journey_is_checked_on_its_templates_as_they_are(merchant, feedback):
    # given: a template that asks for the rewards link outright, one that offers it when there
    for key, body in (
        ("outright", "<p><a href='{{ loyalty_url }}'>Rewards</a></p>"),
        ("guarded", "{% if loyalty_url is defined %}<a href='{{ loyalty_url }}'>R</a>{% endif %}"),
    ):
        message_template_save(
            merchant=merchant,
            payload={
                "key": key,
                "name": key,
                "channel": "email",
                "category": "transactional",
                "variants": [{"locale": "en", "subject": "Hi", "html_body": body}],
            },
        )

    def journey(key, template):
        return journey_save(
            merchant=merchant,
            key=key,
            name=key,
            definition={
                "trigger": {"event": "order.placed"},
                "start": "s",
                "steps": [{"id": "s", "type": "send", "template": template}],
            },
        )

    # when
    with pytest.raises(DomainError) as error:
        journey_publish(journey=journey("a", "outright"), now=T0)
    published = journey_publish(journey=journey("b", "guarded"), now=T0)

    # then
    assert error.value.message == (
        "Needs Loyalty: outright uses loyalty_url, which comes with Loyalty. It can be "
        "published once that exists."
    )
    assert published.number == 1


def test_a_registered_link_reaches_the_message(merchant, feedback):
    # given: a live journey sending a template with the survey link
    message_template_save(
        merchant=merchant,
        payload={
            "key": "ask",
            "name": "Ask",
            "channel": "email",
            "category": "transactional",
            "variants": [
                {"locale": "en", "subject": "How was it?", "html_body": "<p>{{ survey_url }}</p>"}
            ],
        },
    )
    journey = journey_save(
        merchant=merchant,
        key="ask",
        name="Ask",
        definition={
            "trigger": {"event": "order.placed"},
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "ask"}],
        },
    )
    journey_publish(journey=journey, now=T0)
    customer = CustomerFactory(merchant=merchant, email="ada@example.com", timezone="UTC")

    # when
    event, _ = event_record(
        merchant=merchant,
        type="order.placed",
        customer=customer,
        payload=event_payload("order.placed", merchant=merchant, customer=customer),
        occurred_at=T0,
        now=T0,
    )
    journeys_handle_event(event=event, now=T0)

    # then
    message = Message.unscoped.get(customer=customer)
    assert (message.status, f"https://t.example/f/{customer.pk}" in message.html) == (
        "queued",
        True,
    )


@pytest.mark.parametrize(
    ("source", "needed"),
    [
        ("{{ survey_url }}", {"survey_url"}),
        ("{% if survey_url is defined %}{{ survey_url }}{% endif %}", set()),
        ("{% if x %}{% elif survey_url is defined %}{{ survey_url }}{% endif %}", set()),
        ("{% if survey_url is defined %}{% else %}{{ survey_url }}{% endif %}", {"survey_url"}),
        ("{{ survey_url if survey_url is defined else '' }}", set()),
        ("{{ survey_url | default('') }}", set()),
        ("{% if survey_url %}x{% endif %}", {"survey_url"}),  # undefined is an error there too
        ("{{ loyalty_url }} {{ tracking_url }} {{ return_url }}", {"loyalty_url", "return_url"}),
        ("{% if %}", set()),  # does not parse: its own check says why
    ],
)
def test_which_links_a_template_cannot_do_without(source, needed):
    assert links_used(source) == needed
