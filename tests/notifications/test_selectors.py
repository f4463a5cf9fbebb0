"""notifications.selectors (and the orders reads the template preview uses): what each read
returns, in which order, and that a merchant only ever reads its own rows — two merchants,
alpha (in scope) and bravo, in every test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications import selectors
from notifications.models import (
    ChannelSettings,
    Message,
    MessageEvent,
    PlatformSendCount,
    VerifiedPhone,
)
from notifications.services import message_template_save
from orders.selectors import customer_get_by_email, order_first_shipment, order_get_by_number
from postpurchase.tenancy.scoping import merchant_scope
from tests.factories import CustomerFactory, OrderFactory, shipment_for

T0 = datetime(2026, 3, 4, 14, 0, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def message(merchant, *, at: datetime = T0, **fields) -> Message:
    values = {"channel": "email", "category": "transactional", "status": "queued"}
    values.update({"to": "ada@example.net", "created_at": at, "updated_at": at, **fields})
    key = f"test-{Message.unscoped.count()}"
    return Message.unscoped.create(merchant=merchant, idempotency_key=key, **values)


def template(merchant, *, key: str, name: str):
    payload = {
        "key": key,
        "name": name,
        "channel": "sms",
        "category": "transactional",
        "default_locale": "en",
        "variants": [{"locale": "en", "sms_body": "{{ order.number }} has shipped."}],
    }
    return message_template_save(merchant=merchant, payload=payload, now=T0)


# --- the message log --------------------------------------------------------------------------


def test_message_list_is_the_merchants_messages_newest_first_ties_by_id(merchant_a, merchant_b):
    # given two of alpha's messages created in the same instant, an older one, and bravo's
    older = message(merchant_a, at=T0 - timedelta(hours=1))
    first = message(merchant_a)
    second = message(merchant_a)
    message(merchant_b, at=T0 + timedelta(hours=1))

    # when alpha reads its log
    with merchant_scope(merchant_a):
        rows = list(selectors.message_list(filters={}, zone=UTC))

    # then only alpha's, newest first, the later id first within one instant
    assert [row.pk for row in rows] == [second.pk, first.pk, older.pk]


def test_message_list_filters_by_channel_status_and_customer(in_a, merchant_b):
    # given alpha's email and text messages to different people, and bravo's matching one
    ada = CustomerFactory(merchant=in_a, email="ada@shop.example")
    email = message(in_a, to="ada@shop.example", customer=ada, status="sent")
    message(in_a, channel="sms", to="+15555550100", status="sent")
    message(in_a, to="bob@example.net", status="failed")
    message(merchant_b, to="ada@shop.example", status="sent")

    # when the log is filtered
    by_channel = selectors.message_list(filters={"channel": "sms"}, zone=UTC)
    by_customer = selectors.message_list(filters={"customer": "ADA@shop"}, zone=UTC)
    by_status = selectors.message_list(filters={"status": "failed"}, zone=UTC)

    # then each filter narrows alpha's messages only
    assert [row.to for row in by_channel] == ["+15555550100"]
    assert [row.pk for row in by_customer] == [email.pk]
    assert [row.to for row in by_status] == ["bob@example.net"]


def test_message_list_dates_are_whole_days_in_the_merchants_zone(in_a):
    # given messages just inside and just outside 4 March in New York (UTC-5)
    before = message(in_a, at=datetime(2026, 3, 4, 4, 59, tzinfo=UTC))
    start = message(in_a, at=datetime(2026, 3, 4, 5, 0, tzinfo=UTC))
    end = message(in_a, at=datetime(2026, 3, 5, 4, 59, 59, tzinfo=UTC))
    after = message(in_a, at=datetime(2026, 3, 5, 5, 0, tzinfo=UTC))
    day = date(2026, 3, 4)

    # when the log asks for that one day, and for everything up to the calendar's last day
    one_day = selectors.message_list(filters={"date_from": day, "date_to": day}, zone=NEW_YORK)
    to_the_end = selectors.message_list(filters={"date_to": date.max}, zone=NEW_YORK)

    # then both ends of the local day are in, the instants outside it are not
    assert [row.pk for row in one_day] == [end.pk, start.pk]
    assert [row.pk for row in to_the_end] == [after.pk, end.pk, start.pk, before.pk]


def test_message_list_goes_on_after_the_cursor_and_ignores_one_that_does_not_parse(in_a):
    # given three messages, two of them in one instant
    older = message(in_a, at=T0 - timedelta(seconds=1))
    first = message(in_a)
    second = message(in_a)

    # when the log continues after the newest, and from a cursor typed by hand
    cursor = selectors.message_cursor(second)
    after = selectors.message_list(filters={}, zone=UTC, before=cursor)
    broken = selectors.message_list(filters={}, zone=UTC, before="yesterday-1")
    too_far = selectors.message_list(filters={}, zone=UTC, before=f"{'9' * 20}-1")

    # then the cursor is exact (microseconds and id) and a bad one starts from the top
    micros = (T0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert cursor == f"{micros}-{second.pk}"
    assert [row.pk for row in after] == [first.pk, older.pk]
    assert [row.pk for row in broken] == [second.pk, first.pk, older.pk]
    assert [row.pk for row in too_far] == [second.pk, first.pk, older.pk]


def test_message_list_is_one_query_with_template_and_customer(in_a, django_assert_num_queries):
    # given a message with a template and a customer
    sms = template(in_a, key="shipped_sms", name="Shipped (SMS)")
    ada = CustomerFactory(merchant=in_a, email="ada@shop.example")
    message(in_a, channel="sms", template=sms, customer=ada)

    # when the log's page is read and shown
    with django_assert_num_queries(1):
        rows = list(selectors.message_list(filters={}, zone=UTC)[:51])
        shown = [(row.template.name, row.customer.email) for row in rows]

    # then one query brought the joined rows
    assert shown == [("Shipped (SMS)", "ada@shop.example")]


def test_message_detail_and_events_read_the_merchants_message_in_time_order(in_a, merchant_b):
    # given alpha's message with two events recorded out of order, and bravo's message
    sent = message(in_a)
    theirs = message(merchant_b)
    MessageEvent.unscoped.create(merchant=in_a, message=sent, status="delivered", occurred_at=T0)
    MessageEvent.unscoped.create(
        merchant=in_a, message=sent, status="sent", occurred_at=T0 - timedelta(minutes=1)
    )

    # when alpha reads the message and its timeline
    found = selectors.message_detail().filter(pk=sent.pk).first()
    other = selectors.message_detail().filter(pk=theirs.pk).first()
    events = selectors.message_events(message=found)

    # then its events come oldest first; bravo's message is not found
    assert [event.status for event in events] == ["sent", "delivered"]
    assert other is None


def test_message_sms_get_unscoped_finds_a_text_message_only(merchant_a, merchant_b):
    # given a text message of bravo's and an email of alpha's, no merchant in scope
    text = message(merchant_b, channel="sms", to="+4915155550100")
    email = message(merchant_a)

    # when Twilio's callback looks them up
    found = selectors.message_sms_get_unscoped(message_id=text.pk)
    not_a_text = selectors.message_sms_get_unscoped(message_id=email.pk)

    # then the text is found, the email is not
    assert (found.pk, found.merchant_id) == (text.pk, merchant_b.pk)
    assert not_a_text is None


# --- templates ------------------------------------------------------------------------------


def test_message_templates_are_the_merchants_by_name(merchant_a, merchant_b):
    # given two of alpha's templates and one of bravo's
    zebra = template(merchant_a, key="zebra", name="Zebra")
    apple = template(merchant_a, key="apple", name="Apple")
    theirs = template(merchant_b, key="banana", name="Banana")

    # when alpha lists them and asks for each
    with merchant_scope(merchant_a):
        choices = [row.name for row in selectors.message_template_choices()]
        listed = [row.name for row in selectors.message_template_list()]
        found = selectors.message_template_get(pk=zebra.pk)
        other = selectors.message_template_get(pk=theirs.pk)

    # then alpha's by name, its own found with its current version, bravo's not found
    assert choices == listed == ["Apple", "Zebra"]
    assert found.current_version.number == 1
    assert other is None
    assert apple.current_version.number == 1


def test_message_template_get_brings_the_current_version_in_one_query(
    in_a, django_assert_num_queries
):
    # given a template saved twice
    saved = template(in_a, key="shipped", name="Shipped")
    payload = {
        "key": "shipped",
        "name": "Shipped",
        "channel": "sms",
        "category": "transactional",
        "default_locale": "en",
        "variants": [{"locale": "en", "sms_body": "On its way."}],
    }
    message_template_save(merchant=in_a, payload=payload, template=saved, now=T0)

    # when the editor loads it and reads its current version
    with django_assert_num_queries(1):
        found = selectors.message_template_get(pk=saved.pk)
        number = found.current_version.number

    # then the second version, in the same query
    assert number == 2


def test_message_template_versions_newest_first_up_to_the_limit(in_a, merchant_b):
    # given three saves of alpha's template
    saved = template(in_a, key="shipped", name="Shipped")
    for body in ("Second.", "Third."):
        payload = {
            "key": "shipped",
            "name": "Shipped",
            "channel": "sms",
            "category": "transactional",
            "default_locale": "en",
            "variants": [{"locale": "en", "sms_body": body}],
        }
        message_template_save(merchant=in_a, payload=payload, template=saved, now=T0)

    # when the editor's history asks for two
    versions = selectors.message_template_versions(template=saved, limit=2)
    details = selectors.message_template_version_detail()

    # then the two newest, and every version is alpha's
    assert [version.number for version in versions] == [3, 2]
    assert sorted(version.number for version in details) == [1, 2, 3]


# --- settings -------------------------------------------------------------------------------


def test_platform_sends_today_counts_that_merchants_day_by_channel(merchant_a, merchant_b):
    # given alpha's counts today and yesterday, and bravo's today
    today = date(2026, 3, 4)
    PlatformSendCount.unscoped.create(merchant=merchant_a, channel="email", day=today, count=7)
    PlatformSendCount.unscoped.create(merchant=merchant_a, channel="sms", day=today, count=2)
    PlatformSendCount.unscoped.create(
        merchant=merchant_a, channel="email", day=today - timedelta(days=1), count=40
    )
    PlatformSendCount.unscoped.create(merchant=merchant_b, channel="email", day=today, count=99)

    # when the settings page reads each merchant's day
    alpha = selectors.platform_sends_today(merchant=merchant_a, day=today)
    bravo = selectors.platform_sends_today(merchant=merchant_b, day=today)
    quiet = selectors.platform_sends_today(merchant=merchant_b, day=today + timedelta(days=1))

    # then each its own, a day with none empty
    assert alpha == {"email": 7, "sms": 2}
    assert bravo == {"email": 99}
    assert quiet == {}


def test_verified_phones_are_the_merchants_by_number(merchant_a, merchant_b):
    # given alpha's two numbers (one still waiting for its code) and bravo's
    VerifiedPhone.unscoped.create(merchant=merchant_a, phone="+15555550199", verified_at=T0)
    VerifiedPhone.unscoped.create(merchant=merchant_a, phone="+15555550100")
    VerifiedPhone.unscoped.create(merchant=merchant_b, phone="+4915155550100", verified_at=T0)

    # when each merchant's are read
    alpha = selectors.verified_phones(merchant=merchant_a)
    bravo = selectors.verified_phones(merchant=merchant_b)

    # then by number, verified or not
    assert [(row.phone, row.verified_at) for row in alpha] == [
        ("+15555550100", None),
        ("+15555550199", T0),
    ]
    assert [row.phone for row in bravo] == ["+4915155550100"]


def test_channel_settings_stored_is_none_for_a_merchant_that_saved_none(merchant_a, merchant_b):
    # given alpha's saved settings and none for bravo
    saved = ChannelSettings.unscoped.create(merchant=merchant_a, email_provider="postmark")

    # when each merchant's are read
    alpha = selectors.channel_settings_stored(merchant=merchant_a)
    bravo = selectors.channel_settings_stored(merchant=merchant_b)

    # then alpha's row, nothing for bravo (not a blank one)
    assert (alpha.pk, alpha.email_provider) == (saved.pk, "postmark")
    assert bravo is None


# --- the preview's orders reads (orders.selectors) ----------------------------------------------


def test_preview_finds_the_merchants_order_and_customer_only(in_a, merchant_b):
    # given the same order number and email at both merchants, alpha's order twice imported
    ada = CustomerFactory(merchant=in_a, email="Ada@Shop.example")
    OrderFactory(merchant=in_a, customer=ada, number="#1001", placed_at=T0 - timedelta(days=1))
    newest = OrderFactory(merchant=in_a, customer=ada, number="#1001", placed_at=T0)
    CustomerFactory(merchant=merchant_b, email="bob@shop.example")
    OrderFactory(merchant=merchant_b, number="#2002")
    parcel = shipment_for(newest)

    # when the preview looks them up as typed
    order = order_get_by_number(number=" #1001 ")
    customer = customer_get_by_email(email=" ada@shop.EXAMPLE ")

    # then alpha's newest order with its customer and parcel; bravo's rows are not found
    assert (order.pk, order.customer.email) == (newest.pk, "Ada@Shop.example")
    assert order_first_shipment(order=order).pk == parcel.pk
    assert customer.pk == ada.pk
    assert order_get_by_number(number="#2002") is None
    assert customer_get_by_email(email="bob@shop.example") is None


def test_order_first_shipment_is_none_before_the_order_ships(in_a):
    # given an order with no parcel
    order = OrderFactory(merchant=in_a)

    # when its first parcel is asked for
    found = order_first_shipment(order=order)

    # then there is none
    assert found is None


@pytest.mark.parametrize("number", ["", "#9999"])
def test_order_get_by_number_is_none_for_a_number_the_merchant_does_not_have(in_a, number):
    # given one order of alpha's
    OrderFactory(merchant=in_a, number="#1001")

    # when another number is asked for
    found = order_get_by_number(number=number)

    # then there is none
    assert found is None
