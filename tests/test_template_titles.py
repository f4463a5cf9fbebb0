"""A page's ``{% block title %}`` is the text of its ``<title>``: markup put there by mistake
shows as literal text in the browser's tab (and a signed link in it would be kept in history
titles). Every template's title block holds text and template tags only."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TITLE = re.compile(r"\{% block title %\}(.*?)\{% endblock %\}", re.S)


def test_no_title_block_holds_markup():
    found = [
        (str(path.relative_to(TEMPLATES)), block[:60])
        for path in sorted(TEMPLATES.rglob("*.html"))
        for block in TITLE.findall(path.read_text())
        if "<" in block or "\n" in block
    ]
    assert found == []
