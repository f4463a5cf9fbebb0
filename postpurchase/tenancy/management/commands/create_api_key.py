"""``manage.py create_api_key --merchant <slug> --name <name>``: issue a key and print it once."""

from django.core.management.base import BaseCommand, CommandError

from postpurchase.errors import DomainError
from postpurchase.tenancy.models import ApiKeyScope, Merchant
from postpurchase.tenancy.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a merchant and print it. The key is shown only this once."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="The merchant's slug.")
        parser.add_argument("--name", required=True, help="What the key is for.")
        parser.add_argument(
            "--scope",
            choices=ApiKeyScope.values,
            default=ApiKeyScope.WRITE,
            help="read, or write (read and write). Default: write.",
        )

    def handle(self, *args, merchant: str, name: str, scope: str, **options):
        found = Merchant.objects.filter(slug=merchant).first()
        if found is None:
            raise CommandError(f"No merchant has the slug {merchant!r}.")
        try:
            issued = api_key_create(merchant=found, name=name, scope=scope)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(
            f"Created {issued.api_key.scope} key {issued.api_key.name!r} for {found.slug}. "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(issued.plaintext)
