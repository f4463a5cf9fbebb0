"""``manage.py seed_demo``: the demo store "Demo Outfitters" with a year of data and an owner login.

Safe to run again: the data is generated from the seed and the merchant's creation date, so a
second run feeds the services the same payloads and they find nothing to change. Its events are
recorded as history: nothing is queued for the worker and no journey or webhook fires on them.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, OutputWrapper
from django.db import transaction
from tqdm import tqdm

from orders import demo
from postpurchase.tenancy.lifecycle import demo_loaded_handlers, demo_seed_handlers


class _ProgressStream:
    """Lets tqdm redraw its bar on the command's stderr (which would end every write with a
    newline and colour it as an error)."""

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, style_func=str, ending="")

    def flush(self) -> None:
        self.wrapper.flush()

    def isatty(self) -> bool:
        return self.wrapper.isatty()


class Command(BaseCommand):
    help = "Create or refresh the demo merchant 'Demo Outfitters' with a year of realistic data."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seed", type=int, default=demo.DEMO_SEED)
        parser.add_argument("--customers", type=int, default=500)
        parser.add_argument("--orders", type=int, default=1500)
        parser.add_argument(
            "--password",
            help=f"The owner's password (default {demo.OWNER_PASSWORD!r} for a new owner; "
            "an existing owner's password is only changed when this is given).",
        )
        parser.add_argument(
            "--today",
            type=date.fromisoformat,
            help="End the demo's year on this date (YYYY-MM-DD) instead of the day the demo "
            "merchant was created.",
        )
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, **options) -> None:
        customers, orders = options["customers"], options["orders"]
        if customers < 0 or orders < 0:
            raise CommandError("--customers and --orders must not be negative.")
        if orders > customers * demo.MOST_ORDERS:
            raise CommandError(
                f"{orders} orders need at least {-(-orders // demo.MOST_ORDERS)} customers."
            )
        with transaction.atomic():
            merchant, _ = demo.demo_merchant_ensure()
            owner = demo.demo_owner_ensure(merchant=merchant, password=options["password"])
            # What the apps above orders give the demo (notifications: its default templates).
            given = demo_seed_handlers.run(merchant=merchant)
        anchor = demo.demo_anchor(merchant=merchant, today=options["today"])
        plan = demo.demo_plan(
            anchor=anchor, seed=options["seed"], customers=customers, orders=orders
        )

        stream = _ProgressStream(self.stderr)
        hidden = True if options["no_progress"] else None  # None: only on a terminal

        def progress(items, description):
            return tqdm(items, desc=description, unit="", file=stream, disable=hidden)

        report = demo.demo_load(merchant=merchant, plan=plan, progress=progress)
        given |= demo_loaded_handlers.run(merchant=merchant)

        self.stdout.write(
            f"{merchant.name} ({merchant.slug}): {report.customers} customers, "
            f"{report.orders} orders, {report.shipments} shipments over the year to {anchor}; "
            f"{report.changed} records created or changed, {report.events} events recorded "
            "(as history: no journey or webhook runs on them)."
        )
        for line in given.values():
            self.stdout.write(line)
        shown = "(unchanged; pass --password to set one)"
        if owner.password_set:
            shown = options["password"] or demo.OWNER_PASSWORD
        self.stdout.write(self.style.SUCCESS("Sign in to the dashboard:"))
        self.stdout.write(f"  URL:      {settings.SITE_URL.rstrip('/')}/app/")
        self.stdout.write(f"  Email:    {owner.user.email}")
        self.stdout.write(f"  Password: {shown}")
