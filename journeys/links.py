"""The shopper links a journey's messages carry, which feature fills each, and which a journey's
templates cannot do without.

The outbox adds the preference and unsubscribe links to every message. Every other link comes
from a maker registered here (``links.register`` in an app's ``AppConfig.ready()``), which the
engine asks when it builds a send's context: ``tracking_url`` is the journeys app's own until the
branded tracking page registers its maker in its place (``journeys/builtins.py``: the carrier's
page); the returns, feedback and loyalty links come with those features. A template that names a
link no feature fills outside an ``{% if … is defined %}`` (or a ``default``) fails on every
send, so a journey sending one is marked as needing that feature ("needs Feedback") and is not
published until the feature exists. A link's name is one a template may use
(``notifications.context.LINKS``): a maker for any other name is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, nodes

# link → the feature that fills it
FEATURES = {"return_url": "Returns", "survey_url": "Feedback", "loyalty_url": "Loyalty"}
ALWAYS = frozenset({"tracking_url", "preferences_url", "unsubscribe_url"})  # never "needed"
MAKEABLE = frozenset({"tracking_url", *FEATURES})  # the links a maker may fill
GUARDS = ("defined", "undefined")  # tests that ask whether a link is there
DEFAULTS = ("default", "d")  # filters that stand in for a missing link

# (merchant=, customer=, order=, shipment=, memo=) → the link for this shopper, or None.
# ``memo(key, make)``: a run's cache for what many sends share (an order's latest parcel).
LinkMaker = Callable[..., str | None]


class LinkRegistry:
    """The makers of the shopper links, by link name. An app registers its link in its
    ``AppConfig.ready()`` (registering a name again replaces its maker: the branded tracking
    page takes ``tracking_url`` over); tests register one for the duration of a test."""

    def __init__(self) -> None:
        self._makers: dict[str, LinkMaker] = {}

    def register(self, name: str, make: LinkMaker) -> None:
        if name not in MAKEABLE:
            known = ", ".join(sorted(MAKEABLE))
            raise ValueError(f"not a shopper link a maker fills: {name!r} (the links: {known})")
        self._makers[name] = make

    def unregister(self, name: str) -> None:
        self._makers.pop(name, None)

    def maker(self, name: str) -> LinkMaker | None:
        """The maker registered for ``name`` (a test puts it back after replacing it)."""
        return self._makers.get(name)

    def available(self) -> frozenset[str]:
        return frozenset(self._makers)

    def fill(self, **about: Any) -> dict[str, str]:
        """Each registered link for the shopper ``about`` describes (merchant, customer, order,
        shipment, memo); a maker that has none for them (None) leaves its link out."""
        found = {}
        for name, make in sorted(self._makers.items()):
            url = make(**about)
            if url:
                found[name] = url
        return found


links = LinkRegistry()


@dataclass(frozen=True)
class Need:
    """A feature a journey cannot be published without, and the templates that need it."""

    feature: str
    link: str
    templates: tuple[str, ...]


def _guarded_names(test: nodes.Node) -> set[str]:
    """The names a condition asks about with ``is defined`` (its body may use them freely)."""
    tests = [test, *test.find_all(nodes.Test)]  # find_all looks below the node only
    return {
        found.node.name
        for found in tests
        if isinstance(found, nodes.Test)
        and found.name in GUARDS
        and isinstance(found.node, nodes.Name)
    }


def _used(node: nodes.Node, guarded: frozenset[str]) -> set[str]:
    """The feature links ``node`` uses where a missing one would fail the render."""
    if isinstance(node, nodes.If | nodes.CondExpr):
        inside = guarded | _guarded_names(node.test)
        found = _used(node.test, guarded)
        if isinstance(node, nodes.CondExpr):
            found |= _used(node.expr1, inside)
            return found | (_used(node.expr2, guarded) if node.expr2 is not None else set())
        for child in node.body:
            found |= _used(child, inside)
        for child in [*node.elif_, *node.else_]:
            found |= _used(child, guarded)
        return found
    if isinstance(node, nodes.Test) and node.name in GUARDS and isinstance(node.node, nodes.Name):
        return set()
    if (
        isinstance(node, nodes.Filter)
        and node.name in DEFAULTS
        and isinstance(node.node, nodes.Name)
    ):
        return set().union(*(_used(arg, guarded) for arg in node.args), set())
    if isinstance(node, nodes.Name):
        wanted = node.ctx == "load" and node.name in FEATURES and node.name not in guarded
        return {node.name} if wanted else set()
    return set().union(*(_used(child, guarded) for child in node.iter_child_nodes()), set())


def links_used(source: str) -> set[str]:
    """The feature links a template source cannot render without. A source that does not parse
    needs nothing here (it cannot be saved, and its own check says why)."""
    try:
        parsed = Environment(autoescape=True).parse(source)  # parsed only, never rendered
    except TemplateSyntaxError:
        return set()
    return _used(parsed, frozenset())


def needs_of(
    sources: dict[str, Iterable[str]], available: Iterable[str] | None = None
) -> list[Need]:
    """The features missing for templates given as ``{key: their sources}``: each feature link
    a template uses that no registered feature fills (``available``: the registry's)."""
    have = set(links.available() if available is None else available)
    using: dict[str, list[str]] = {}
    for key, parts in sources.items():
        for link in sorted(set().union(*(links_used(part) for part in parts if part), set())):
            if link not in have and key not in using.get(link, []):
                using.setdefault(link, []).append(key)
    return [Need(FEATURES[link], link, tuple(sorted(keys))) for link, keys in sorted(using.items())]
