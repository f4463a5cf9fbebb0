"""Re-encrypt every stored secret with the first of ENCRYPTION_KEYS (the rotation step)."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from postpurchase import crypto


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the first key in ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.fields if isinstance(f, crypto.EncryptedTextField)]
            if not fields:
                continue
            manager = getattr(model, "unscoped", model._default_manager)
            names = [f.attname for f in fields]
            with transaction.atomic():
                # Loading decrypts with whichever key fits; saving encrypts with the first.
                rows = list(manager.select_for_update().only("pk", *names))
                for instance in rows:
                    instance.save(update_fields=names)
            total += len(rows)
            self.stdout.write(f"{model._meta.label}: {len(rows)} rows")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} rows."))
