"""``manage.py error_codes_doc``: write the table of error codes into ``docs/api.md`` from the
enums (``--check``: only say whether the page is up to date, failing when it is not)."""

from django.core.management.base import BaseCommand, CommandError

from postpurchase.api.error_docs import DOC_PATH, error_code_section_replace


class Command(BaseCommand):
    help = "Regenerate the error-code table in docs/api.md from every app's error-code enum."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; fail if the table is stale."
        )

    def handle(self, *args, check: bool, **options):
        text = DOC_PATH.read_text(encoding="utf-8")
        try:
            new = error_code_section_replace(text)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if new == text:
            self.stdout.write(f"{DOC_PATH.name}: the error codes are up to date.")
        elif check:
            raise CommandError(f"{DOC_PATH.name}: the error codes are stale; run error_codes_doc.")
        else:
            DOC_PATH.write_text(new, encoding="utf-8")
            self.stdout.write(f"{DOC_PATH.name}: the error codes were rewritten.")
