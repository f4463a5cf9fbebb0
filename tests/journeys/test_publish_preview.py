"""Before publishing, the dashboard says how many customers would enter at once and how many
messages that means (``journey_publish_preview``), and the editor sets a journey's maximum age."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from journeys.blueprints import journey_blueprint_install
from journeys.models import Enrollment, JourneyVersion
from journeys.schema import Definition
from journeys.selectors import journey_publish_preview, sends_per_entry
from journeys.services import CONSUMER_NAME, journey_publish, journey_save, journeys_handle_event
from postpurchase.events.models import EventConsumerRun
from postpurchase.events.services import event_record
from tests.factories import CustomerFactory, event_payload
from tests.journeys.dashboard_helpers import page_data
from tests.journeys.engine_helpers import hello as hello_template

NOW = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CONFIRM = {
    "trigger": {"event": "order.placed"},
    "entry": {"per": "order", "reentry": "never"},
    "start": "confirm",
    "steps": [{"id": "confirm", "type": "send", "template": "hello"}],
}


@pytest.fixture
def hello(merchant_a):
    hello_template(merchant_a)
    return merchant_a


@pytest.fixture
def owner(owner_a):
    client = Client()
    client.force_login(owner_a)
    return client


def draft(merchant, definition, key="confirm"):
    return journey_save(merchant=merchant, key=key, name=key.title(), definition=definition)


def placed(merchant, customer, order_id, occurred_at, **payload):
    event, _ = event_record(
        merchant=merchant,
        type="order.placed",
        customer=customer,
        payload=event_payload(
            "order.placed", merchant=merchant, customer=customer, order_id=order_id, **payload
        ),
        occurred_at=occurred_at,
        now=NOW,
    )
    return event


def backlog(merchant):
    """Order events as a seeded install leaves them: a few recent ones not handed to journeys
    yet, older ones, one recent already handled, one recent already dispatched."""
    ada, bob, cy = (CustomerFactory(merchant=merchant) for _ in range(3))
    placed(merchant, ada, 1, NOW - 2 * HOUR, total="30.00")
    placed(merchant, ada, 2, NOW - HOUR, total="150.00")
    placed(merchant, bob, 3, NOW - 23 * HOUR, total="120.00")
    placed(merchant, cy, 4, NOW - 25 * HOUR, total="500.00")  # older than a day
    placed(merchant, cy, 5, NOW - 200 * 24 * HOUR, total="80.00")  # last year's history
    handled = placed(merchant, cy, 6, NOW - 3 * HOUR, total="60.00")
    EventConsumerRun.objects.create(
        event=handled,
        consumer=CONSUMER_NAME,
        status="done",
        event_recorded_at=handled.recorded_at,
    )
    dispatched = placed(merchant, cy, 7, NOW - 4 * HOUR, total="70.00")
    dispatched.dispatched_at = NOW
    dispatched.save(update_fields=["dispatched_at"])
    return ada, bob, cy


def test_an_event_trigger_counts_the_events_within_the_maximum_age_not_handled_yet(hello):
    # given
    backlog(hello)
    journey = draft(hello, CONFIRM)

    # when
    preview = journey_publish_preview(journey=journey, now=NOW)

    # then: Ada's two orders and Bob's; not the old ones, nor those handled already
    assert (preview.trigger_type, preview.max_age_hours) == ("event", 24)
    assert (preview.customers, preview.entries) == (2, 3)
    assert (preview.messages_at_once, preview.messages) == (3, 3)
    assert preview.recent_events == 5
    assert preview.needs == []


def test_the_preview_applies_the_conditions_the_entry_rules_and_the_maximum_age(hello):
    # given: per customer, orders over 100, a week's wait between two messages, and Bob already
    # on his way through the journey
    _, bob, _ = backlog(hello)
    definition = {
        "trigger": {
            "event": "order.placed",
            "conditions": [{"path": "event.total", "op": "gt", "value": 100}],
        },
        "entry": {"per": "customer", "max_age_hours": 48},
        "start": "confirm",
        "steps": [
            {"id": "confirm", "type": "send", "template": "hello", "next": "week"},
            {"id": "week", "type": "delay", "days": 7, "next": "again"},
            {"id": "again", "type": "send", "template": "hello"},
        ],
    }
    journey = draft(hello, definition)
    journey_publish(journey=journey, now=NOW - 48 * HOUR)
    # (handled directly: its event stays among those the consumer has not marked handled)
    journeys_handle_event(event=placed(hello, bob, 99, NOW - 30 * HOUR, total="200"), now=NOW)

    # when
    preview = journey_publish_preview(journey=journey, now=NOW)

    # then: Ada's order over 100 and Cy's of 25 hours ago (within 48); Bob is on his way
    assert Enrollment.unscoped.get().customer_id == bob.pk
    assert (preview.customers, preview.entries) == (2, 2)
    assert (preview.messages_at_once, preview.messages) == (2, 4)


def test_a_date_trigger_counts_who_the_next_run_enters(hello):
    # given: two birthdays today, one tomorrow
    for day in (date(1990, 6, 2), date(1985, 6, 2), date(1990, 6, 3)):
        CustomerFactory(merchant=hello, birthday=day)
    journey = draft(
        hello,
        {
            "trigger": {"type": "date", "date": "customer.birthday", "yearly": True},
            "start": "confirm",
            "steps": [{"id": "confirm", "type": "send", "template": "hello"}],
        },
    )

    # when
    preview = journey_publish_preview(journey=journey, now=NOW)

    # then
    assert (preview.trigger_type, preview.customers, preview.messages) == ("date", 2, 2)
    assert preview.recent_events == 0


def test_messages_per_entry_follow_the_longest_way_and_stop_at_the_first_wait():
    # given: a condition whose yes-branch sends twice, then a wait, then one more
    plan = Definition.model_validate(
        {
            "trigger": {"event": "order.placed"},
            "start": "check",
            "steps": [
                {
                    "id": "check",
                    "type": "condition",
                    "conditions": [{"path": "event.total", "op": "gt", "value": 1}],
                    "then": "one",
                    "else": "wait",
                },
                {"id": "one", "type": "send", "template": "a", "next": "two"},
                {"id": "two", "type": "send", "template": "a", "next": "wait"},
                {
                    "id": "wait",
                    "type": "wait_for_event",
                    "event": "review.submitted",
                    "timeout_hours": 24,
                    "timeout_next": "three",
                },
                {"id": "three", "type": "send", "template": "a", "fallback_template": "b"},
            ],
        }
    )

    # then
    assert sends_per_entry(plan) == (2, 3)


# --- the dashboard ----------------------------------------------------------------------------


def test_the_publish_step_shows_who_would_enter_and_publishing_needs_the_confirmation(owner, hello):
    # given: two orders of an hour ago (by the wall clock the page reads) not handed to journeys
    # yet, and one of two days ago
    now = datetime.now(UTC)
    for order_id, age in ((1, HOUR), (2, HOUR), (3, 48 * HOUR)):
        event_record(
            merchant=hello,
            type="order.placed",
            customer=CustomerFactory(merchant=hello),
            payload=event_payload("order.placed", merchant=hello, order_id=order_id),
            occurred_at=now - age,
            now=now - age,
        )
    journey = draft(hello, CONFIRM)
    url = reverse("dashboard:journey_publish", args=[journey.pk])

    # when: the detail's Publish leads to the confirmation step
    detail = owner.get(reverse("dashboard:journey_detail", args=[journey.pk])).content.decode()
    page = owner.get(url)

    # then: the counts, and nothing published yet
    html = page.content.decode()
    assert f'href="{url}" data-publish' in detail
    assert page.status_code == 200
    assert 'data-preview="customers">2</dd>' in html
    assert 'data-preview="messages_at_once">2</dd>' in html
    assert 'data-preview="messages">2</dd>' in html
    assert "For scale: 2 such events in the last 24 hours." in html
    assert "Publish now" in html
    assert JourneyVersion.unscoped.filter(journey=journey).count() == 0

    # when: confirmed
    response = owner.post(url)

    # then
    assert response.status_code == 302
    assert JourneyVersion.unscoped.filter(journey=journey).count() == 1


def test_a_blueprint_needing_a_feature_is_marked_and_its_publish_step_refuses(owner, merchant_a):
    # given
    journey = journey_blueprint_install(merchant=merchant_a, key="review_request", now=NOW)

    # when
    listing = owner.get(reverse("dashboard:journey_list")).content.decode()
    page = owner.get(reverse("dashboard:journey_publish", args=[journey.pk])).content.decode()
    posted = owner.post(reverse("dashboard:journey_publish", args=[journey.pk]), follow=True)

    # then
    assert 'data-needs="Feedback"' in listing
    assert listing.count("data-needs=") == 3  # review request; thank-you and birthday: Loyalty
    assert "Not ready to publish: Needs Feedback: review_reminder and review_request use " in page
    assert "Publish now" not in page
    assert "Not published: Needs Feedback" in posted.content.decode()
    assert JourneyVersion.unscoped.filter(journey=journey).count() == 0


def test_the_editor_sets_the_maximum_age_and_the_live_card_shows_it(owner, hello):
    # given
    journey = draft(hello, CONFIRM)
    page = owner.get(reverse("dashboard:journey_detail", args=[journey.pk]))
    assert 'name="entry-max_age_hours" value="24"' in page.content.decode()
    data = {
        key: value
        for key, value in page.context["editor"].entry_form.initial.items()
        if value is not None
    }

    # when: 6 hours, through the same forms
    response = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]),
        page_data(page, entry__max_age_hours="6"),
    )
    refused = owner.post(
        reverse("dashboard:journey_save", args=[journey.pk]),
        page_data(page, entry__max_age_hours="0"),
    )

    # then
    assert data["max_age_hours"] == 24
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.draft["entry"]["max_age_hours"] == 6
    assert refused.status_code == 200
    assert refused.context["editor"].entry_form.errors["max_age_hours"] == [
        "Ensure this value is greater than or equal to 1."
    ]
    journey_publish(journey=journey, now=NOW)
    live = owner.get(reverse("dashboard:journey_detail", args=[journey.pk])).content.decode()
    assert "<dd data-max-age>6 hours</dd>" in live
