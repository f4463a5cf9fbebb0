"""A private name (``_x``) is not imported from another module (docs/architecture.md).

Ruff's PLC2701 catches it between apps; inside an app ruff lets it through, so this walks the
code itself. A helper another module needs is made public where it is defined."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "postpurchase",
    "orders",
    "notifications",
    "journeys",
    "webhooks",
    "connectors",
    "tracking",
    "returns",
    "loyalty",
    "feedback",
    "analytics",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(path: Path) -> list[str]:
    """``module._name`` for each private name ``path`` imports from another module."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            private = alias.name.startswith("_") and not alias.name.startswith("__")
            if private and source != here:
                found.append(f"{source}.{alias.name}")
    return found


def test_no_module_imports_another_modules_private_names():
    # given
    files = [
        path
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    ]
    # when
    offending = {
        str(path.relative_to(ROOT)): names for path in files if (names := private_imports(path))
    }
    # then
    assert offending == {}


def test_the_walk_finds_a_private_import(tmp_path, monkeypatch):
    # given: a module in a package that takes a private helper from its sibling
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    module = package / "views.py"
    module.write_text("from shop.services import _assign, order_ingest\nfrom . import _rules\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    # when / then
    assert private_imports(module) == ["shop.services._assign", "shop._rules"]
