"""The table of error codes in ``docs/api.md``, made from the enums themselves.

Each app's codes live in its ``errors.py`` (see ``postpurchase.errors``); their statuses and
titles in ``postpurchase.api.exceptions``. The table is written between two markers by
``manage.py error_codes_doc`` and checked by ``tests/api/test_error_codes.py``, so the page
cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from postpurchase.api.exceptions import problem_status, problem_title
from postpurchase.errors import error_code_enums

DOC_PATH = Path(settings.BASE_DIR) / "docs" / "api.md"
START = "<!-- error codes: made by `manage.py error_codes_doc` from the enums; edit those -->"
END = "<!-- end of error codes -->"


@dataclass(frozen=True)
class ErrorCodeRow:
    app: str
    code: str
    status: int
    title: str
    meaning: str


def error_code_rows() -> list[ErrorCodeRow]:
    """One row per app and code, in ``INSTALLED_APPS`` order, each enum in its own order."""
    return [
        ErrorCodeRow(
            app, str(member), problem_status(member), problem_title(member), member.meaning
        )
        for app, enum in error_code_enums()
        for member in enum
    ]


def error_code_table() -> str:
    lines = ["| app | code | status | title | meaning |", "|---|---|---|---|---|"]
    lines += [
        f"| {row.app} | `{row.code}` | {row.status} | {row.title} | {row.meaning} |"
        for row in error_code_rows()
    ]
    return "\n".join(lines)


def error_code_section(text: str) -> str:
    """What ``text`` (the page) holds between the markers; raises ``ValueError`` without them."""
    _, start, rest = text.partition(START)
    body, end, _ = rest.partition(END)
    if not (start and end):
        raise ValueError(f"{DOC_PATH.name} lacks the markers {START!r} and {END!r}")
    return body.strip("\n")


def error_code_section_replace(text: str) -> str:
    """``text`` with the table between the markers made anew."""
    error_code_section(text)  # the markers must be there
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{error_code_table()}\n{END}{tail}"
