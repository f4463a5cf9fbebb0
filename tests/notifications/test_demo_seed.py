"""The demo merchant gets its message templates through the seed hook notifications registers,
not by the demo loader (in orders) importing notifications."""

from __future__ import annotations

import io

from django.core.management import call_command

from notifications.defaults import DEFAULT_TEMPLATES
from notifications.models import MessageTemplate
from postpurchase.tenancy.lifecycle import HandlerRegistry, demo_seed_handlers
from postpurchase.tenancy.models import Merchant

TINY = ("--customers=3", "--orders=6", "--today=2026-06-01", "--no-progress")


def test_seed_demo_gives_the_demo_merchant_every_default_template(db):
    # when
    out = io.StringIO()
    call_command("seed_demo", *TINY, stdout=out, stderr=io.StringIO())
    # then
    demo = Merchant.objects.get(slug="demo")
    keys = set(MessageTemplate.unscoped.filter(merchant=demo).values_list("key", flat=True))
    assert keys == {payload["key"] for payload in DEFAULT_TEMPLATES}
    assert len(keys) == 15
    assert "Message templates: 15 defaults installed." in out.getvalue()


def test_the_demo_seed_hook_installs_only_what_the_merchant_lacks(merchant_a):
    # given: the merchant already has every default
    demo_seed_handlers.run(merchant=merchant_a)
    # when
    again = demo_seed_handlers.run(merchant=merchant_a)
    # then
    assert again == {"message templates": "Message templates: 0 defaults installed."}
    assert MessageTemplate.unscoped.filter(merchant=merchant_a).count() == 15


def test_handlers_run_in_registration_order_and_a_name_registers_once():
    # given
    registry = HandlerRegistry()
    registry.register("first", lambda *, merchant: f"1 for {merchant}")
    registry.register("second", lambda *, merchant: f"2 for {merchant}")
    registry.register("first", lambda *, merchant: f"one for {merchant}")
    # when
    answers = registry.run(merchant="demo")
    # then
    assert list(answers.items()) == [("first", "one for demo"), ("second", "2 for demo")]
