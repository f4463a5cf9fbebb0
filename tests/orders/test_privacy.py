"""Erasing a customer asks every app for its part: afterwards no table holds their email, phone,
name or address (a scan of every text and JSON column of every model), another merchant's
customer with the same details is untouched, a second erasure changes nothing, and the export
gathers every app's sections."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.db import models
from django.db.models.functions import Cast

from journeys.models import Enrollment
from journeys.services import journey_publish, journey_save, journeys_handle_event
from notifications.models import ContactPreference, Message, MessageEvent, Suppression
from notifications.rendering import sample_context
from notifications.reports import sms_reply_record
from notifications.services import message_send, message_template_save
from orders.models import Customer, Order
from orders.privacy import customer_erase, customer_export, privacy_parts
from orders.services import shipment_ingest
from postpurchase.api.models import IdempotencyRecord
from postpurchase.events.models import Event
from postpurchase.events.services import event_record
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import order_payload
from tests.tracking.claims.objects import claim_objects
from tracking.claims.models import Claim
from tracking.updates import subscription_create
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_deliveries_for_event

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
EMAIL, PHONE = "jon.snow@example.com", "+16135550123"
ADDRESS = "1 Wall Street, Ottawa K1A 0B1"
# Where his order ships (the API's shipping_address): a gift, to a name that is not his.
SHIPPING_ADDRESS = {
    "name": "Sansa Stark",
    "company": "",
    "address1": "1 Wall Street",
    "address2": "Apt 5",
    "city": "Ottawa",
    "province_code": "ON",
    "postal_code": "K1A 0B1",
    "country_code": "CA",
    "phone": "",
}
# What must not survive anywhere (matched case-insensitively).
PERSONAL = [EMAIL, PHONE, "Jon Snow", "Snow", ADDRESS, "K1A 0B1", "1 Wall Street", "Sansa Stark"]
# Kept on purpose, documented in notifications/privacy.py: the opt-out list keeps its promise.
KEPT = {("notifications.Suppression", "address")}


def _customer_payload() -> dict:
    return {
        "external_id": "cust-jon",
        "email": EMAIL,
        "phone": PHONE,
        "first_name": "Jon",
        "last_name": "Snow",
        "birthday": "1990-05-01",
        "tags": ["vip", "Jon Snow"],
        "accepts_email_marketing": True,
    }


def _template(merchant, key: str, channel: str):
    variant = (
        {"locale": "en", "subject": "Hi {{ customer.first_name }}", "html_body": "<p>Hi</p>"}
        if channel == "email"
        else {"locale": "en", "sms_body": "Hi {{ customer.first_name }} {{ customer.last_name }}"}
    )
    payload = {"key": key, "name": key, "channel": channel, "category": "transactional"}
    return message_template_save(merchant=merchant, payload={**payload, "variants": [variant]})


def _seed(merchant, api) -> Customer:
    """Jon, as every app comes to hold him."""
    # the customer's response is kept for Idempotency-Key replays: it names him
    response = api.post(
        "/api/v1/customers",
        _customer_payload(),
        format="json",
        headers={"Idempotency-Key": f"customer-{merchant.slug}"},
    )
    assert response.status_code == 201, response.content
    response = api.post(
        "/api/v1/orders",
        {
            **{k: v for k, v in order_payload(currency="USD").items() if k != "customer"},
            "customer_external_id": "cust-jon",
            "shipping_address": SHIPPING_ADDRESS,
        },
        format="json",
        # kept for replays too: it names his street
        headers={"Idempotency-Key": f"order-{merchant.slug}"},
    )
    assert response.status_code == 201, response.content
    with merchant_scope(merchant):
        customer = Customer.objects.get(external_id="cust-jon")
        order = Order.objects.get(customer=customer)
        shipment_ingest(
            merchant=merchant,
            payload={
                "external_id": "shp-jon",
                "order_external_id": order.external_id,
                "carrier": "UPS",
                "tracking_number": "1Z999",
                "checkpoints": [
                    {
                        "status": "delivered",
                        "occurred_at": "2026-03-04T12:00:00Z",
                        "description": "Delivered, signed by JON SNOW",
                        "location": ADDRESS,
                    }
                ],
            },
        )
        event_record(
            merchant=merchant,
            type="product.setup_completed",
            customer=customer,
            payload={"email": EMAIL, "note": f"Call Jon Snow at {PHONE}", "plan": "gold"},
            source="api",
        )
        email = _template(merchant, "hello", "email")
        sms = _template(merchant, "hello_sms", "sms")
        for template, key in ((email, "e1"), (sms, "s1")):
            message_send(
                merchant=merchant,
                template=template,
                customer=customer,
                context=sample_context(),
                idempotency_key=key,
                now=NOW,
            )
        # a test send to his address under no customer, and a bounce quoting the address
        message = message_send(
            merchant=merchant,
            template=email,
            customer=None,
            context=sample_context(),
            idempotency_key="team-test",
            to=EMAIL,
            now=NOW,
        )
        Message.objects.filter(pk=message.pk).update(detail=f"550 <{EMAIL}> unknown")
        MessageEvent.objects.create(
            merchant=merchant, message=message, status="bounced", detail=f"550 <{EMAIL}>"
        )
        ContactPreference.objects.create(merchant=merchant, customer=customer, muted_kinds=["x"])
        # he asked for texts about his parcel on its tracking page
        subscription_create(merchant=merchant, order=order, channel="sms", address=PHONE, now=NOW)
        sms_reply_record(merchants=[merchant], sender=PHONE, body="STOP", message_sid="SM-1")
        journey = journey_save(
            merchant=merchant,
            key="welcome",
            name="Welcome",
            definition={
                "trigger": {"event": "order.placed"},
                "start": "wait",
                "steps": [{"id": "wait", "type": "delay", "days": 3}],
            },
        )
        journey_publish(journey=journey)
        placed = Event.objects.get(type="order.placed")
        journeys_handle_event(event=placed, now=placed.occurred_at)
        enrollment = Enrollment.objects.get()
        # still running, its context holding what a custom event about him would
        Enrollment.objects.filter(pk=enrollment.pk).update(
            state="active",
            finished_at=None,
            next_run_at=NOW,
            context={**enrollment.context, "event": {"email": EMAIL, "who": "Jon Snow"}},
        )
        WebhookEndpoint.objects.create(
            merchant=merchant,
            url="https://hooks.example/in",
            event_types=["*"],
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw7XC3hdK8vzQ=",
        )
        for event in Event.objects.order_by("id"):
            webhook_deliveries_for_event(event=event, now=NOW)
        delivery = WebhookDelivery.objects.get(event_type="product.setup_completed")
        WebhookAttempt.objects.create(
            merchant=merchant,
            delivery=delivery,
            number=1,
            attempted_at=NOW,
            status_code=400,
            response_excerpt=f'{{"error": "{EMAIL} is not on our list"}}',
        )
        _inbound(merchant)
        # a protection claim in his words, with a photo of his door
        claim_objects(merchant, Order.objects.get())
        Claim.objects.update(
            statement=f"Jon Snow here: left at {ADDRESS}, gone.",
            decision_message="Sorry, Jon Snow.",
        )
    return customer


def _inbound(merchant) -> None:
    from connectors.models import InboundDelivery

    for delivery_id, source, topic, body in (
        (
            "wh-1",
            "shopify",
            "orders/create",
            {"id": 1001, "email": EMAIL, "customer": {"id": "cust-jon", "first_name": "Jon"}},
        ),
        ("trk-1", "tracking", "tracking/update", {"tracking_number": "1Z999", "to": ADDRESS}),
    ):
        InboundDelivery.objects.create(
            merchant=merchant,
            source=source,
            delivery_id=delivery_id,
            topic=topic,
            body=body,
            status="processed",
        )


def _text_columns(model) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
    ]


def personal_data_left(*, skip_merchant=None) -> set[tuple[str, str, str]]:
    """(model, column, value found) for every stored copy of Jon's details, in every model of
    every app; rows of ``skip_merchant`` are left out."""
    found = set()
    for model in apps.get_models():
        rows = model._base_manager.all()
        if skip_merchant is not None and any(f.name == "merchant" for f in model._meta.fields):
            rows = rows.exclude(merchant=skip_merchant)
        for column in _text_columns(model):
            if (model._meta.label, column) in KEPT:
                continue
            text = rows.annotate(as_text=Cast(column, models.TextField()))
            for needle in PERSONAL:
                if text.filter(as_text__icontains=needle).exists():
                    found.add((model._meta.label, column, needle))
    return found


@pytest.fixture
def jon(merchant_a, api_a):
    return _seed(merchant_a, api_a)


def test_erasing_leaves_no_copy_of_the_customers_details_in_any_table(merchant_a, jon):
    # given: every app holds some of him
    seeded = personal_data_left()
    assert {label for label, _, _ in seeded} >= {
        "orders.Customer",
        "orders.Order",
        "orders.TrackingEvent",
        "events.Event",
        "notifications.Message",
        "notifications.MessageEvent",
        "journeys.Enrollment",
        "webhooks.WebhookDelivery",
        "webhooks.WebhookAttempt",
        "connectors.InboundDelivery",
        "tracking.TrackingSubscription",
        "tracking.Claim",
    }
    # the customer's response names him, the order's his street
    assert IdempotencyRecord.unscoped.count() == 2

    # when
    erased = customer_erase(merchant=merchant_a, customer=jon, now=NOW, source="api")

    # then
    assert personal_data_left() == set()
    assert erased == {
        "customers": 1,
        "events": 1,
        "shipping_addresses": 1,
        "tracking_events": 1,
        "api_responses": 2,
        "enrollments": 1,
        "messages": 3,
        "preferences": 1,
        "deliveries": 2,
        "webhook_deliveries": 1,
        "tracking_subscriptions": 1,
        "claims": 1,
        "claim_photos": 1,
    }
    assert IdempotencyRecord.unscoped.count() == 0
    assert list(
        Event.unscoped.filter(type="customer.redacted").values_list("customer", "payload", "source")
    ) == [(jon.pk, {"customer_id": jon.pk}, "api")]


def test_what_the_books_need_is_kept(merchant_a, jon):
    # given
    order_before = Order.unscoped.values("number", "total", "currency", "customer").get()

    # when
    customer_erase(merchant=merchant_a, customer=jon, now=NOW, source="dashboard")

    # then: the order, its customer link and figures stay; the opt-out stays
    assert Order.unscoped.values("number", "total", "currency", "customer").get() == order_before
    assert Customer.unscoped.values_list("external_id", "orders_count").get() == ("cust-jon", 1)
    assert list(Suppression.unscoped.values_list("channel", "address", "reason")) == [
        ("sms", PHONE, "sms_stop")
    ]
    assert set(Message.unscoped.values_list("status", "to", "subject", "sms")) == {
        ("cancelled", "", "", "")
    }
    enrollment = Enrollment.unscoped.get()
    assert (enrollment.state, enrollment.exit_reason) == ("exited", "customer_erased")
    assert enrollment.context["event"] == {"email": "[redacted]", "who": "[redacted]"}


def test_a_second_erasure_changes_nothing_and_records_nothing(merchant_a, jon):
    # given
    customer_erase(merchant=merchant_a, customer=jon, now=NOW, source="api")

    # when
    again = customer_erase(merchant=merchant_a, customer=jon, now=NOW, source="api")

    # then
    assert set(again.values()) == {0}
    assert set(again) == {
        "customers",
        "events",
        "shipping_addresses",
        "tracking_events",
        "api_responses",
        "enrollments",
        "messages",
        "preferences",
        "deliveries",
        "webhook_deliveries",
        "tracking_subscriptions",
        "claims",
        "claim_photos",
    }
    assert Event.unscoped.filter(type="customer.redacted").count() == 1


def test_another_merchants_customer_with_the_same_details_is_untouched(
    merchant_a, merchant_b, api_b, jon
):
    # given: merchant B holds a Jon Snow of its own, with the same email and phone
    _seed(merchant_b, api_b)
    before_b = personal_data_left(skip_merchant=merchant_a)

    # when
    customer_erase(merchant=merchant_a, customer=jon, now=NOW, source="api")

    # then: nothing of A's Jon is left; B's rows are as they were
    assert personal_data_left(skip_merchant=merchant_b) == set()
    assert personal_data_left(skip_merchant=merchant_a) == before_b
    customer_b = Customer.unscoped.get(merchant=merchant_b)
    assert (customer_b.email, customer_b.first_name) == (EMAIL, "Jon")
    assert IdempotencyRecord.unscoped.filter(merchant=merchant_b).count() == 2


def test_the_export_gathers_every_apps_sections(merchant_a, jon):
    # when
    export = customer_export(merchant=merchant_a, customer=jon)

    # then
    assert list(export) == [
        "merchant",
        "customers",
        "orders",
        "events",
        "journeys",
        "messages",
        "muted_topics",
        "suppressions",
        "tracking_subscriptions",
        "claims",
    ]
    assert export["merchant"] == {"name": merchant_a.name, "slug": merchant_a.slug}
    assert [c["email"] for c in export["customers"]] == [EMAIL]
    assert [o["shipments"][0]["tracking_events"][0]["location"] for o in export["orders"]] == [
        ADDRESS
    ]
    assert [o["shipping_address"] for o in export["orders"]] == [SHIPPING_ADDRESS]
    assert [(m["channel"], m["to"]) for m in export["messages"]] == [
        ("email", EMAIL),
        ("sms", PHONE),
        ("email", EMAIL),
    ]
    assert export["muted_topics"] == ["x"]
    assert export["suppressions"] == [
        {
            "channel": "sms",
            "address": PHONE,
            "reason": "sms_stop",
            "created_at": Suppression.unscoped.get().created_at.isoformat(),
        }
    ]
    assert [(j["journey"], j["state"]) for j in export["journeys"]] == [("Welcome", "active")]


def test_every_app_that_holds_personal_data_has_registered_its_part():
    assert privacy_parts.names() == [
        "orders",
        "journeys",
        "notifications",
        "connectors",
        "webhooks",
        "tracking",
        "claims",
    ]
