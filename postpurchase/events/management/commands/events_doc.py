"""``manage.py events_doc``: write ``docs/events.md`` from the event catalogue (``--check``:
only say whether the committed page is current, exiting 1 when it is not)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from postpurchase.events.docs import events_doc


def events_doc_path() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "events.md"


class Command(BaseCommand):
    help = "Write docs/events.md from the event catalogue."
    requires_system_checks: list[str] = []  # the catalogue is all it reads

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true", help="Only compare; change nothing.")

    def handle(self, *args, check: bool = False, **options) -> None:
        path = events_doc_path()
        text = events_doc()
        if check:
            if not path.exists() or path.read_text() != text:
                raise CommandError(f"{path} differs from the catalogue: run manage.py events_doc")
            self.stdout.write(f"{path} is current.")
            return
        path.write_text(text)
        self.stdout.write(f"Wrote {path}.")
