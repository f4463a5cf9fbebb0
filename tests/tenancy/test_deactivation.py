"""Deactivating a merchant stops what was still to leave: due messages are cancelled with the
reason, live journeys are paused, pending webhook deliveries are cancelled, and tasks already
queued refuse to run. Reactivation turns the merchant on and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from journeys.models import Journey
from journeys.services import journey_publish, journey_save
from notifications.models import Message, MessageEvent, MessageTemplate
from notifications.services import message_send, message_template_save
from orders.models import Customer
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_task
from postpurchase.tenancy.services import merchant_deactivate, merchant_reactivate
from tests.factories import CustomerFactory, UserFactory
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_create, webhook_endpoint_send_test

NOON = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


@merchant_task(name="tests.tag_every_customer")
def tag_every_customer(*, merchant_id: int) -> int:
    return Customer.objects.update(tags=["tagged"])


def hello_template(merchant):
    return message_template_save(
        merchant=merchant,
        payload={
            "key": "hello",
            "name": "Hello",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}],
        },
    )


def queued_message(merchant, key: str) -> Message:
    template = MessageTemplate.unscoped.filter(merchant=merchant, key="hello").first()
    customer = CustomerFactory(merchant=merchant, email=f"{key}@example.com", timezone="UTC")
    return message_send(
        merchant=merchant,
        template=template or hello_template(merchant),
        customer=customer,
        context={},
        idempotency_key=key,
        now=NOON,
    )


def live_journey(merchant, key: str) -> Journey:
    journey = journey_save(
        merchant=merchant,
        key=key,
        name=key,
        definition={
            "trigger": {"event": "order.placed"},
            "start": "s",
            "steps": [{"id": "s", "type": "send", "template": "hello"}],
        },
    )
    journey_publish(journey=journey, now=NOON)
    return journey


def test_a_merchant_task_refuses_to_run_for_an_inactive_merchant(merchant_a):
    # given: a customer, and the merchant switched off
    customer = CustomerFactory(merchant=merchant_a, tags=[])
    merchant_deactivate(merchant=merchant_a, now=NOON)

    # when: the task arrives through Celery (eagerly here) and directly
    through_celery = tag_every_customer.apply(kwargs={"merchant_id": merchant_a.pk})
    direct = tag_every_customer.run(merchant_id=merchant_a.pk)

    # then: it ended without running and without an error to retry on
    assert (through_celery.state, through_celery.result, direct) == ("SUCCESS", None, None)
    assert Customer.unscoped.get(pk=customer.pk).tags == []


def test_a_merchant_task_runs_again_once_the_merchant_is_reactivated(merchant_a):
    # given
    customer = CustomerFactory(merchant=merchant_a, tags=[])
    merchant_deactivate(merchant=merchant_a, now=NOON)

    # when
    merchant_reactivate(merchant=merchant_a)
    tagged = tag_every_customer.run(merchant_id=merchant_a.pk)

    # then
    assert tagged == 1
    assert Customer.unscoped.get(pk=customer.pk).tags == ["tagged"]


def test_deactivation_cancels_due_messages_pauses_live_journeys_and_cancels_deliveries(
    merchant_a, merchant_b, settings
):
    # given: for each merchant, two queued messages, a live journey and a draft one; and a
    # pending webhook delivery for A
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    a_first, a_second = queued_message(merchant_a, "first"), queued_message(merchant_a, "second")
    b_first = queued_message(merchant_b, "first")
    a_live, b_live = live_journey(merchant_a, "live"), live_journey(merchant_b, "live")
    a_draft = journey_save(merchant=merchant_a, key="draft", name="Draft", definition=a_live.draft)
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url="http://127.0.0.1:9/hooks", event_types=["*"], now=NOON
    )
    delivery = webhook_endpoint_send_test(endpoint=endpoint, now=NOON)

    # when
    stopped = merchant_deactivate(merchant=merchant_a, now=NOON + timedelta(minutes=1))

    # then: A's work stopped, with the reason on each message's timeline
    assert stopped == {
        "messages cancelled": 2,
        "journeys paused": 1,
        "webhook deliveries cancelled": 1,
    }
    assert Merchant.objects.get(pk=merchant_a.pk).is_active is False
    for message in (a_first, a_second):
        message.refresh_from_db()
        assert (message.status, message.reason, message.detail, message.claim) == (
            "cancelled",
            "merchant_deactivated",
            "Not sent: the merchant was deactivated.",
            "",
        )
        assert message.next_attempt_at is None
        assert list(
            MessageEvent.unscoped.filter(message=message).values_list("status", "reason")
        ) == [("queued", ""), ("cancelled", "merchant_deactivated")]
    assert Journey.unscoped.get(pk=a_live.pk).status == "paused"
    assert Journey.unscoped.get(pk=a_draft.pk).status == "draft"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error, delivery.next_attempt_at) == (
        "cancelled",
        "Cancelled: the merchant was deactivated.",
        None,
    )
    # and B's untouched
    assert Message.unscoped.get(pk=b_first.pk).status == "queued"
    assert Journey.unscoped.get(pk=b_live.pk).status == "live"
    assert Merchant.objects.get(pk=merchant_b.pk).is_active is True


def test_reactivation_turns_the_merchant_on_and_resumes_nothing_by_itself(merchant_a):
    # given
    message = queued_message(merchant_a, "first")
    journey = live_journey(merchant_a, "live")
    merchant_deactivate(merchant=merchant_a, now=NOON)

    # when
    merchant_reactivate(merchant=merchant_a)

    # then: cancelled stays cancelled, paused stays paused until the merchant resumes it
    assert Merchant.objects.get(pk=merchant_a.pk).is_active is True
    assert Message.unscoped.get(pk=message.pk).status == "cancelled"
    assert Journey.unscoped.get(pk=journey.pk).status == "paused"
    assert WebhookDelivery.unscoped.count() == 0


def test_deactivating_twice_stops_what_was_written_since(merchant_a):
    # given: deactivated, then a message written anyway (a request already in flight)
    merchant_deactivate(merchant=merchant_a, now=NOON)
    late = queued_message(merchant_a, "first")

    # when
    stopped = merchant_deactivate(merchant=merchant_a, now=NOON + timedelta(minutes=1))

    # then
    assert stopped["messages cancelled"] == 1
    assert Message.unscoped.get(pk=late.pk).status == "cancelled"


@pytest.fixture
def operator(client, db):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def admin_form_data(form) -> dict:
    """What the change form posts back as it was shown, with "active" unticked (a checkbox
    left out); the admin splits a date and time into two inputs."""
    data = {}
    for name, value in form.initial.items():
        if value is None or name in ("is_active", "logo"):
            continue
        if isinstance(value, datetime):
            data[f"{name}_0"], data[f"{name}_1"] = value.date(), value.time()
        else:
            data[name] = value
    return data


def test_unticking_active_in_the_admin_deactivates_through_the_service(
    client, operator, merchant_a
):
    # given
    message = queued_message(merchant_a, "first")
    journey = live_journey(merchant_a, "live")
    url = reverse("admin:tenancy_merchant_change", args=[merchant_a.pk])
    data = admin_form_data(client.get(url).context["adminform"].form)

    # when: saved with "active" unticked
    response = client.post(url, data, follow=True)

    # then
    assert response.status_code == 200
    assert Merchant.objects.get(pk=merchant_a.pk).is_active is False
    assert Message.unscoped.get(pk=message.pk).status == "cancelled"
    assert Journey.unscoped.get(pk=journey.pk).status == "paused"
    notices = [str(m) for m in response.context["messages"]]
    assert notices[0] == "Alpha Apparel is deactivated (journeys paused: 1, messages cancelled: 1)."


def test_the_admin_action_deactivates_and_reactivates(client, operator, merchant_a, merchant_b):
    # given
    message = queued_message(merchant_a, "first")
    changelist = reverse("admin:tenancy_merchant_changelist")

    # when
    client.post(
        changelist,
        {"action": "deactivate_merchants", "_selected_action": [merchant_a.pk]},
    )
    deactivated = Merchant.objects.get(pk=merchant_a.pk).is_active
    client.post(
        changelist,
        {"action": "reactivate_merchants", "_selected_action": [merchant_a.pk]},
    )

    # then
    assert deactivated is False
    assert Message.unscoped.get(pk=message.pk).status == "cancelled"
    assert Merchant.objects.get(pk=merchant_a.pk).is_active is True
    assert Merchant.objects.get(pk=merchant_b.pk).is_active is True
