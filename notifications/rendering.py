"""Merchants' message templates: checked when saved, rendered in Jinja2's sandbox.

Templates are written by merchants, so they are untrusted code. They run in Jinja2's
``ImmutableSandboxedEnvironment``, which refuses private and internal attributes
(``''.__class__``), unsafe ``str.format`` calls and changes to the context, and caps ``range()``.
The context is made of plain data only (dicts, lists, strings, numbers, dates): never a model
instance, whose methods a template could reach. Undefined names and attributes are errors
(``StrictUndefined``), so a misspelt ``{{ order.totl }}`` is refused when the template is saved
rather than sent as an empty string.

HTML parts are autoescaped; subjects, preheaders, text parts and SMS bodies are not (they are not
HTML). An email whose template has no text part gets one made from the rendered HTML.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError

from notifications import sandbox

# --- the variables a template may use ---------------------------------------------------------

SAMPLE_LINES = [
    {
        "title": "Trail running shoe",
        "sku": "TS-42",
        "quantity": 2,
        "unit_price": "40.00",
        "discount": "0.00",
        "product": {
            "title": "Trail running shoe",
            "category": "footwear",
            "image_url": "https://cdn.example.com/shoe.jpg",
            "url": "https://shop.example.com/products/trail-shoe",
        },
    },
    {
        "title": "Merino socks",
        "sku": "MS-1",
        "quantity": 1,
        "unit_price": "12.50",
        "discount": "2.50",
        "product": {
            "title": "Merino socks",
            "category": "apparel",
            "image_url": "",
            "url": "https://shop.example.com/products/merino-socks",
        },
    },
]

# Each variable a template may name: what it holds, and the value the editor's preview and the
# checks on save use when no real customer or order is chosen.
VARIABLES: dict[str, tuple[str, Any]] = {
    "customer": (
        "The shopper: first_name, last_name, email, phone, locale, timezone, orders_count, "
        "total_spent, tags.",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "+14155550123",
            "locale": "en-US",
            "timezone": "America/New_York",
            "orders_count": 3,
            "total_spent": "245.50",
            "tags": ["vip"],
        },
    ),
    "order": (
        "The order: number, placed_at, currency, subtotal, discount, shipping, tax, total, "
        "financial_status, fulfillment_status, and lines (each with title, sku, quantity, "
        "unit_price, discount and product: title, category, image_url, url).",
        {
            "number": "#1001",
            "placed_at": datetime.fromisoformat("2026-03-01T12:00:00+00:00"),
            "currency": "USD",
            "subtotal": "92.50",
            "discount": "2.50",
            "shipping": "5.00",
            "tax": "0.00",
            "total": "95.00",
            "financial_status": "paid",
            "fulfillment_status": "fulfilled",
            "lines": SAMPLE_LINES,
        },
    ),
    "shipment": (
        "The parcel: carrier, tracking_number, status, shipped_at, estimated_delivery, "
        "delivered_at.",
        {
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "status": "in_transit",
            "shipped_at": datetime.fromisoformat("2026-03-02T09:30:00+00:00"),
            "estimated_delivery": date(2026, 3, 5),
            "delivered_at": None,
        },
    ),
    "merchant": (
        "The store: name, address (postal), support_email, support_url, country.",
        {
            "name": "Demo Outfitters",
            "address": "12 Trail Road\nBoulder, CO 80302\nUnited States",
            "support_email": "help@demo-outfitters.example",
            "support_url": "https://demo-outfitters.example/help",
            "country": "US",
        },
    ),
    "brand": (
        "The store's look: logo_url, primary_colour, accent_colour, sender_name.",
        {
            "logo_url": "https://cdn.example.com/logo.png",
            "primary_colour": "#1f2937",
            "accent_colour": "#2563eb",
            "sender_name": "Demo Outfitters",
        },
    ),
    "tracking_url": ("The shopper's branded tracking page.", "https://t.example/s/demo/t/abc"),
    "return_url": (
        "The self-service return portal for the order.",
        "https://t.example/s/demo/r/abc",
    ),
    "survey_url": ("The survey or review request.", "https://t.example/s/demo/f/abc"),
    "loyalty_url": ("The shopper's loyalty page.", "https://t.example/s/demo/l/abc"),
    "preferences_url": ("The shopper's preference centre.", "https://t.example/s/demo/p/abc"),
    "unsubscribe_url": (
        "One-click unsubscribe from this kind of message.",
        "https://t.example/u/abc",
    ),
}


# Variables a feature adds (``variable_register``, from its ``AppConfig.ready()``): the claim a
# protection claim's messages are about, a return's, … Which sends fill one is the feature's
# business (a journey's send asks ``journeys/variables.py``); templates may name them like the
# ones above, and are checked against their samples the same way.
_REGISTERED: dict[str, tuple[str, Any]] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def variable_register(name: str, description: str, sample: dict[str, Any]) -> None:
    """Let templates name ``name``: what it holds (shown in the template editor) and the sample
    the preview and the checks on save render with. A name already taken is refused, unless it
    is the same registration again; the sample must be plain data (``_check_plain``)."""
    if not _NAME.match(name):
        raise ValueError(f"not a variable name: {name!r}")
    if name in VARIABLES:
        raise ValueError(f"{name!r} is a built-in variable")
    if not isinstance(sample, dict):
        raise ValueError(f"the sample of {name!r} must be a dict")
    _check_plain(sample, name)
    taken = _REGISTERED.get(name)
    if taken is not None and taken != (description, sample):
        raise ValueError(f"the variable {name!r} is already registered")
    _REGISTERED[name] = (description, copy.deepcopy(sample))


def variable_unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def variables() -> dict[str, tuple[str, Any]]:
    """Every variable a template may name, with its description and sample: the built-in ones,
    then those features registered, in the order they came."""
    return {**VARIABLES, **_REGISTERED}


def sample_context() -> dict[str, Any]:
    """A fresh copy of every variable's sample value (the registered ones too)."""
    return {name: copy.deepcopy(sample) for name, (_, sample) in variables().items()}


# --- the sandbox ------------------------------------------------------------------------------


PLAIN_TYPES = (str, int, float, bool, Decimal, date, type(None))


def _check_plain(value: Any, path: str) -> None:
    """Refuse anything but plain data in a context (a model instance exposes its methods)."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, f"{where}.{k}") for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(item))
        elif not isinstance(item, PLAIN_TYPES):
            raise TypeError(f"{where} is a {type(item).__name__}: contexts hold plain data only")


@dataclass(frozen=True)
class Problem:
    """Why a template source cannot be saved: a message and, where known, its line."""

    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _template_line(exc: BaseException) -> int | None:
    """The template line an error was raised at: Jinja2 rewrites the traceback so that frames
    of template code carry the template's own line numbers."""
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_ATTRIBUTE = re.compile(r"'(?P<owner>[^']+)' has no attribute '(?P<name>[^']+)'")
_UNDEFINED_NAME = re.compile(r"^'(?P<name>[^']+)' is undefined$")


def _dotted(node: nodes.Node) -> str | None:
    """``order.lines`` for the expression ``order.lines`` (or ``order['lines']``)."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        owner = _dotted(node.node)
        return f"{owner}.{node.attr}" if owner else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        owner = _dotted(node.node)
        return f"{owner}.{node.arg.value}" if owner else None
    return None


def _variable_at(source: str, line: int | None, name: str, *, html: bool) -> str:
    """The whole name (``order.totl``) of the attribute ``name`` used on ``line``, as the
    template writes it; ``name`` alone when it cannot be told."""
    try:
        parsed = sandbox.environment(html=html).parse(source)
    except Exception:
        return name
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        attr = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if attr == name and (line is None or node.lineno == line):
            return _dotted(node) or name
    return name


def _undefined_message(exc: UndefinedError, source: str, line: int | None, html: bool) -> str:
    found = _ATTRIBUTE.search(str(exc))
    if found:
        return f"unknown variable '{_variable_at(source, line, found['name'], html=html)}'"
    found = _UNDEFINED_NAME.match(str(exc))
    if found:
        return f"unknown variable '{found['name']}': this message has no value for it"
    return f"unknown variable: {exc}"


def problem_of(exc: BaseException, source: str = "", *, html: bool = False) -> Problem:
    """What went wrong, for the merchant: never a crash. Anything a template can raise (a
    recursion too deep, a value of the wrong type, a sandbox refusal) becomes a problem, with
    the template line and, for a name or attribute that is not there, the variable."""
    line = _template_line(exc)
    if isinstance(exc, TemplateSyntaxError):
        return Problem(f"syntax error: {exc.message}", exc.lineno)
    if isinstance(exc, MemoryError):
        return Problem(
            "not allowed in a template: it needs more memory than a render may use", line
        )
    if isinstance(exc, SecurityError | OverflowError | RecursionError):
        return Problem(f"not allowed in a template: {exc}", line)
    if isinstance(exc, UndefinedError):
        return Problem(_undefined_message(exc, source, line, html), line)
    return Problem(f"cannot be rendered: {exc}", line)


def _parse(source: str, *, html: bool) -> tuple[Template, nodes.Template]:
    env = sandbox.environment(html=html)
    return sandbox.compiled(source, html=html), env.parse(source)


def check_in_process(
    source: str, *, html: bool, samples: dict[str, Any] | None = None
) -> list[Problem]:
    """Everything wrong with a template source: its syntax and refused constructs (with the
    line), variables that are not among ``samples``' names (named), and what rendering the
    samples finds (attributes that do not exist, what the sandbox refuses). ``samples``: every
    variable's sample (``sample_context()``, which the caller sends: a render process has no
    Django, so no feature registered its variables there). Runs here: the render pool's
    processes call it (``check_sources`` sends work there)."""
    samples = sample_context() if samples is None else samples
    try:
        template, parsed = _parse(source, html=html)
    except Exception as exc:
        return [problem_of(exc, source, html=html)]
    env = sandbox.environment(html=html)
    problems = [
        Problem(f"unknown variable {name!r}", _first_use(parsed, name))
        for name in sorted(meta.find_undeclared_variables(parsed) - set(samples) - set(env.globals))
    ]
    if problems:
        return problems
    try:
        _checked_output(sandbox.render(template, samples))  # the sandbox changes nothing
    except Exception as exc:
        return [problem_of(exc, source, html=html)]
    return []


def _checked_output(output: str) -> str:
    if "\x00" in output:
        raise SecurityError("the rendered text holds a NUL character, which cannot be stored")
    return output


def _first_use(parsed: nodes.Template, name: str) -> int | None:
    lines = [node.lineno for node in parsed.find_all(nodes.Name) if node.name == name]
    return min(lines) if lines else None


# --- rendering --------------------------------------------------------------------------------


class RenderError(Exception):
    """A template that passed its checks failed on real data (say, a value the sample lacks),
    or was stopped by the render pool's wall."""

    def __init__(self, part: str, problem: Problem) -> None:
        super().__init__(f"{part}: {problem}")
        self.part, self.problem = part, problem

    def __reduce__(self):
        return RenderError, (self.part, self.problem)


def render_in_process(parts: list[tuple[str, bool, str]], context: dict[str, Any]) -> list[str]:
    """Several parts of one message (``(source, html, part)`` each) rendered here, under one
    deadline, with ``context`` as it is: the sandbox refuses every mutating method, so the
    parts cannot reach one another through it. The render pool's processes call it."""
    rendered: list[str] = []
    source, html, part = parts[0] if parts else ("", False, "")
    try:
        # one deadline for the message's parts together (each part's own would cost a timer)
        with sandbox.time_limit(sandbox.RENDER_SECONDS):
            for source, html, part in parts:  # noqa: B007 - they name a failure below
                output = sandbox.render(sandbox.compiled(source, html=html), context, limited=False)
                rendered.append(_checked_output(output) if source else "")
    except Exception as exc:
        raise RenderError(part, problem_of(exc, source, html=html)) from None
    return rendered


def check_sources(sources: list[tuple[str, bool]]) -> list[list[Problem]]:
    """``check_in_process`` for each ``(source, html)``, in a render process, all within
    ``sandbox.SAVE_SECONDS``; raises ``sandbox.RenderTimeout`` when they take longer."""
    from notifications import render_pool

    return render_pool.check(sources)


def check_source(source: str, *, html: bool) -> list[Problem]:
    """Everything wrong with one template source (see ``check_in_process``)."""
    return check_sources([(source, html)])[0]


def render_many(
    messages: list[tuple[list[tuple[str, bool, str]], dict[str, Any]]],
) -> list[list[str] | RenderError]:
    """Each message's parts (``(source, html, part)`` each) rendered with its context (plain
    data only) in the render pool, all in one round trip: for each, the rendered parts, or the
    ``RenderError`` that names the part, the line and, where one is missing, the variable."""
    from notifications import render_pool

    for _, context in messages:
        _check_plain(context, "context")
    return render_pool.render(messages)


def render_sources(parts: list[tuple[str, bool, str]], context: dict[str, Any]) -> list[str]:
    """One message's parts rendered in the render pool (see ``render_many``); the caller's
    data is never touched (it travels to the render process as a copy)."""
    [result] = render_many([(parts, context)])
    if isinstance(result, RenderError):
        raise result
    return result


def render_source(source: str, context: dict[str, Any], *, html: bool, part: str) -> str:
    """One template source rendered (see ``render_sources``)."""
    return render_sources([(source, html, part)], context)[0]


@cache
def _text_config():
    from inscriptis.model.config import ParserConfig  # here: render processes never need it

    return ParserConfig(display_links=True)


def html_to_text(html: str) -> str:
    """The plain-text alternative of an HTML email: layout kept, links written out."""
    from inscriptis import get_text

    return get_text(html, _text_config()).strip() + "\n"


# --- SMS segments -----------------------------------------------------------------------------

# GSM 03.38: the default alphabet (one septet each) and its extension table (two septets each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsSegments:
    """How an SMS body travels: ``encoding`` GSM-7 or UCS-2, its length in that encoding's units
    (septets, or UTF-16 code units), and the number of segments a carrier bills."""

    encoding: str
    units: int
    segments: int
    per_segment: int
    unsupported: str  # the characters that forced UCS-2, if any

    @property
    def warning(self) -> str | None:
        if self.encoding == "UCS-2":
            return (
                f"Characters outside the GSM alphabet ({self.unsupported}) make this message "
                f"UCS-2: {self.per_segment} characters per segment instead of 153-160."
            )
        if self.segments > 1:
            return f"This message is sent as {self.segments} segments, each billed."
        return None


def sms_segments(text: str) -> SmsSegments:
    """Segments of an SMS: GSM-7 holds 160 septets in one segment, 153 per segment when split;
    UCS-2 holds 70 UTF-16 units, 67 when split (an emoji takes two)."""
    unsupported = "".join(
        dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION)
    )
    if unsupported:
        units, single, multi, encoding = len(text.encode("utf-16-le")) // 2, 70, 67, "UCS-2"
    else:
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    if units <= single:
        return SmsSegments(encoding, units, 1 if units else 0, single, unsupported)
    return SmsSegments(encoding, units, -(-units // multi), multi, unsupported)
