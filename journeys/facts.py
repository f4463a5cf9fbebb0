"""The facts a journey's conditions and dated waits read, by namespace: ``customer.orders_count``,
``order.categories``, and whatever a pillar plugs in (``loyalty.tier``, ``returns.open_count``)
without editing ``journeys/``.

A provider registers its namespace in its app's ``AppConfig.ready()``
(``journeys.facts.facts.register``): the facts it offers, each with a type (which decides the
operators a condition may apply to it), and a function that computes them for many subjects at
once, so a provider reads its rows in one query for a batch of enrollments or candidates, never
one per customer. ``event.<key>`` (the trigger's payload) and ``steps.<id>.status`` (what an
earlier send became) are the engine's own.

What reads facts asks only for the namespaces its paths name (nothing is computed that no
condition reads). A namespace ``about`` the order is kept once per order within an engine run; one
about the customer is asked again at each step, since a step may change the customer (a tag).

A saved or published definition may name only registered facts (``journeys/schema.py`` checks
every path); a published version is read as it was stored, so a namespace no longer registered
reads as missing rather than failing the journey.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from orders.models import Customer, Order
    from postpurchase.tenancy.models import Merchant

ALL_OPS = (
    *("eq", "ne", "gt", "gte", "lt", "lte"),
    *("contains", "not_contains", "in", "exists", "missing"),
)
ORDERED = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "exists", "missing")
# a fact's type → the operators a condition may apply to it
OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "text": ALL_OPS,  # compared as text, contains as a substring
    "number": ORDERED,  # compared as numbers (a decimal string is a number)
    "date": ORDERED,  # ISO text, compared in order
    "boolean": ("eq", "ne", "in", "exists", "missing"),
    "list": ("contains", "not_contains", "exists", "missing"),
}
ENGINE_NAMESPACES = ("event", "steps")  # the trigger's payload; earlier sends' statuses


@dataclass(frozen=True)
class Fact:
    """One fact of a namespace: its type and what it means (shown to merchants)."""

    type: Literal["text", "number", "date", "boolean", "list"]
    description: str = ""

    @property
    def ops(self) -> tuple[str, ...]:
        return OPS_BY_TYPE[self.type]


@dataclass(frozen=True)
class Subject:
    """Whom facts are about: an enrollment's (or a candidate's) customer, and the order its
    trigger named (None: no order)."""

    customer: Customer
    order: Order | None = None


# (merchant=, subjects=) → one dict of facts per subject, in the subjects' order
Compute = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class FactProvider:
    namespace: str
    facts: Mapping[str, Fact]
    compute: Compute
    about: Literal["customer", "order"] = "customer"


class FactRegistry:
    """The fact providers, by namespace, in the order they registered."""

    def __init__(self) -> None:
        self._providers: dict[str, FactProvider] = {}

    def register(
        self,
        namespace: str,
        *,
        facts: Mapping[str, Fact],
        compute: Compute,
        about: Literal["customer", "order"] = "customer",
    ) -> None:
        """Offer ``namespace.<fact>`` to conditions; ``compute(merchant=, subjects=)`` returns
        each subject's facts (a subject without an order gets ``{}`` from a provider ``about``
        the order, without being asked)."""
        if namespace in ENGINE_NAMESPACES or not namespace.isidentifier():
            raise ValueError(f"not a namespace a provider may register: {namespace!r}")
        if namespace in self._providers:
            raise ValueError(f"facts {namespace!r} are registered already")
        for name, fact in facts.items():
            if not name.isidentifier() or fact.type not in OPS_BY_TYPE:
                raise ValueError(f"not a fact: {namespace}.{name} ({fact.type})")
        self._providers[namespace] = FactProvider(namespace, dict(facts), compute, about)

    def unregister(self, namespace: str) -> None:
        self._providers.pop(namespace, None)

    def get(self, namespace: str) -> FactProvider | None:
        return self._providers.get(namespace)

    def paths(self) -> list[str]:
        """Every registered fact's path (``customer.orders_count``, ``loyalty.tier``)."""
        return [f"{ns}.{name}" for ns, p in self._providers.items() for name in p.facts]

    def namespaces(self) -> list[str]:
        """Every namespace a path may start with: the trigger's event first, the registered
        ones, and the steps."""
        return ["event", *self._providers, "steps"]

    # --- checking a path -----------------------------------------------------------------------

    def expected(self) -> str:
        """What a path looks like: ``a path starts with event., customer., order. or steps.``"""
        names = [f"{name}." for name in self.namespaces()]
        return f"a path starts with {', '.join(names[:-1])} or {names[-1]}"

    def path_error(self, path: str) -> str | None:
        """Why ``path`` names no fact (None: it does). ``event.`` and ``steps.`` paths name
        whatever the payload or the step log holds; a registered namespace's paths name one of
        its facts (and may go on into it: ``customer.tags.0``)."""
        namespace, _, rest = path.partition(".")
        if namespace in ENGINE_NAMESPACES:
            return None
        provider = self._providers.get(namespace)
        if provider is None:
            return self.expected()
        name = rest.partition(".")[0]
        if name not in provider.facts:
            known = ", ".join(sorted(provider.facts))
            return f"{namespace}.{name} is not a fact; the {namespace} facts are {known}"
        return None

    def op_error(self, path: str, op: str) -> str | None:
        """Why ``op`` does not apply to the fact ``path`` names (None: it does)."""
        namespace, _, rest = path.partition(".")
        provider = self._providers.get(namespace)
        name, _, deeper = rest.partition(".")
        fact = provider.facts.get(name) if provider else None
        if fact is None or deeper or op in fact.ops:
            return None  # inside a fact (a list's item), anything may be compared
        return f"{path} is a {fact.type}: its operators are {', '.join(fact.ops)}"

    # --- computing -----------------------------------------------------------------------------

    def needed(self, paths: Iterable[str]) -> list[FactProvider]:
        """The providers of the namespaces ``paths`` read, in registration order (a namespace
        no longer registered is not asked: its paths read as missing)."""
        wanted = {path.partition(".")[0] for path in paths}
        return [p for name, p in self._providers.items() if name in wanted]

    def gather(
        self,
        *,
        merchant: Merchant,
        subjects: Sequence[Subject],
        paths: Iterable[str],
        memo: Callable[[tuple, Callable[[], Any]], Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Per subject, ``{namespace: its facts}`` for each namespace ``paths`` read, each
        provider asked once for all the subjects. ``memo(key, make)`` (the engine's run) keeps
        an order's facts once per order."""
        found: list[dict[str, Any]] = [{} for _ in subjects]
        for provider in self.needed(paths):
            asked = [i for i, s in enumerate(subjects) if provider.about == "customer" or s.order]
            if provider.about == "order" and memo is not None:
                computed = [
                    memo(
                        ("facts", provider.namespace, subjects[i].order.pk),
                        partial(self._compute_one, provider, merchant, subjects[i]),
                    )
                    for i in asked
                ]
            else:
                computed = self._compute(provider, merchant, [subjects[i] for i in asked])
            for i, computed_facts in zip(asked, computed, strict=True):
                found[i][provider.namespace] = computed_facts
            for row in found:
                row.setdefault(provider.namespace, {})
        return found

    def _compute_one(self, provider: FactProvider, merchant, subject: Subject) -> dict:
        return self._compute(provider, merchant, [subject])[0]

    @staticmethod
    def _compute(provider: FactProvider, merchant, subjects: list[Subject]) -> list[dict]:
        if not subjects:
            return []
        computed = provider.compute(merchant=merchant, subjects=subjects)
        if len(computed) != len(subjects):
            raise ValueError(f"facts {provider.namespace!r}: one dict per subject expected")
        return computed


facts = FactRegistry()
