"""Install a blueprint for a merchant and publish it, once.

    manage.py journey_blueprint_publish --merchant demo --blueprint order_confirmation

Does nothing when the merchant already has a journey of that key, whatever its state: a journey
a merchant paused or edited stays as they left it. ``./scripts/run`` uses it so that the demo
store sends its order confirmations from the first order posted (journeys never enter on the
seeded history, nor on an event older than their maximum age).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from journeys.blueprints import journey_blueprint_install
from journeys.models import Journey
from journeys.services import journey_publish
from postpurchase.errors import DomainError
from postpurchase.tenancy.models import Merchant
from postpurchase.tenancy.scoping import merchant_scope


class Command(BaseCommand):
    help = "Install a journey blueprint for a merchant and publish it, unless it has that journey."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="The merchant's slug.")
        parser.add_argument("--blueprint", required=True, help="The blueprint's key.")

    def handle(self, *args, merchant: str, blueprint: str, **options):
        found = Merchant.objects.filter(slug=merchant).first()
        if found is None:
            raise CommandError(f"No merchant {merchant!r}.")
        with merchant_scope(found), transaction.atomic():
            journey = Journey.unscoped.filter(merchant=found, key=blueprint).first()
            if journey is not None:
                self.stdout.write(f"Journey {blueprint!r}: already there ({journey.status}).")
                return
            try:
                journey = journey_blueprint_install(merchant=found, key=blueprint)
                journey_publish(journey=journey)
            except DomainError as error:
                raise CommandError(f"{error.field or blueprint}: {error.message}") from None
        self.stdout.write(f"Journey {blueprint!r}: installed and published.")
