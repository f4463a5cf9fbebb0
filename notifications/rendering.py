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
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

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


def sample_context() -> dict[str, Any]:
    """A fresh copy of every variable's sample value."""
    return {name: copy.deepcopy(sample) for name, (_, sample) in VARIABLES.items()}


# --- the sandbox ------------------------------------------------------------------------------


MAX_LENGTH = 100_000  # characters a repeated or replaced string may reach, items a list
MAX_EXPONENT = 64
MAX_OUTPUT = 500_000  # characters of rendered output
RENDER_SECONDS = 2.0  # wall time one render may take (main thread only: see _time_limit)

# The filters a message needs. Left out: those that pad or repeat to a size the template
# chooses (center, indent, wordwrap, format, batch, slice), mark data safe (safe), or are of no
# use in a message (attr, pprint, random, tojson, urlize, xmlattr, filesizeformat, forceescape).
FILTERS = frozenset(
    {
        "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "groupby", "int", "items", "join", "last", "length", "list", "lower", "map",
        "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "select",
        "selectattr", "sort", "string", "striptags", "sum", "title", "trim", "truncate",
        "unique", "upper", "urlencode", "wordcount",
    }
)  # fmt: skip
# ``namespace`` is left out: it alone lets a loop carry a value from one pass to the next, so a
# string doubled forty times over could exhaust memory. ``lipsum`` writes text of any size.
GLOBALS = frozenset({"range", "dict", "cycler", "joiner"})


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with the operators that could build a huge value checked."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"powers are limited to exponents up to {MAX_EXPONENT}")
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                repeated = isinstance(sized, str | list | tuple) and isinstance(times, int)
                if repeated and len(sized) * times > MAX_LENGTH:
                    raise SecurityError(f"a repeated value may be at most {MAX_LENGTH:,} long")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("%-formatting is not available; use {{ value }} in the text")
        return super().call_binop(context, operator, left, right)


def _replace(value, old, new, count=None):
    """The ``replace`` filter, refusing a result longer than ``MAX_LENGTH``."""
    text, old, new = str(value), str(old), str(new)
    occurrences = text.count(old) if old else len(text) + 1
    if count is not None:
        occurrences = min(occurrences, max(int(count), 0))
    if len(text) + occurrences * (len(new) - len(old)) > MAX_LENGTH:
        raise SecurityError(f"a replaced value may be at most {MAX_LENGTH:,} long")
    return text.replace(old, new, -1 if count is None else int(count))


@cache
def environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    env.filters["replace"] = _replace
    env.globals = {name: value for name, value in env.globals.items() if name in GLOBALS}
    return env


class RenderTimeout(SecurityError):
    pass


@contextmanager
def _time_limit(seconds: float):
    """Interrupt a render that runs longer than ``seconds`` (a loop in a loop in a loop).
    ``SIGALRM`` reaches the main thread only, where gunicorn's sync workers and Celery's
    prefork workers run; elsewhere (a threaded development server) the outer request or task
    time limits apply. A timer already set by someone else is put back, less the time spent."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise RenderTimeout(f"the template took longer than {seconds:g} s to render")

    previous = signal.signal(signal.SIGALRM, expire)
    earlier, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if earlier:
            left = max(earlier - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def _render(template: Template, context: dict[str, Any]) -> str:
    with _time_limit(RENDER_SECONDS):
        output = template.render(context)
    if len(output) > MAX_OUTPUT:
        raise SecurityError(f"the rendered text is longer than {MAX_OUTPUT:,} characters")
    return output


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


def _undefined_message(exc: UndefinedError) -> str:
    found = _ATTRIBUTE.search(str(exc))
    if found:
        return f"unknown variable: nothing called {found['name']!r} here"
    return f"unknown variable: {exc}"


def check_source(source: str, *, html: bool) -> list[Problem]:
    """Everything wrong with a template source: its syntax (with the line), variables that are
    not among ``VARIABLES`` (named), and what the sample render finds (attributes that do not
    exist, operations the sandbox refuses)."""
    env = environment(html=html)
    try:
        parsed = env.parse(source)
        template = env.from_string(source)  # compiling finds unknown filters and tests
    except TemplateSyntaxError as exc:
        return [Problem(f"syntax error: {exc.message}", exc.lineno)]
    problems = []
    for name in sorted(meta.find_undeclared_variables(parsed) - set(VARIABLES) - set(env.globals)):
        problems.append(Problem(f"unknown variable {name!r}", _first_use(parsed, name)))
    if problems:
        return problems
    try:
        _render(template, sample_context())
    except (SecurityError, OverflowError, MemoryError) as exc:
        return [Problem(f"not allowed in a template: {exc}", _template_line(exc))]
    except UndefinedError as exc:
        return [Problem(_undefined_message(exc), _template_line(exc))]
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        return [Problem(f"cannot be rendered: {exc}", _template_line(exc))]
    return []


def _first_use(parsed: nodes.Template, name: str) -> int | None:
    lines = [node.lineno for node in parsed.find_all(nodes.Name) if node.name == name]
    return min(lines) if lines else None


# --- rendering --------------------------------------------------------------------------------


class RenderError(Exception):
    """A template that passed its checks failed on real data (say, a value the sample lacks)."""

    def __init__(self, part: str, problem: Problem) -> None:
        super().__init__(f"{part}: {problem}")
        self.part, self.problem = part, problem


def render_source(source: str, context: dict[str, Any], *, html: bool, part: str) -> str:
    """One template source rendered with ``context`` (plain data only) in the sandbox."""
    _check_plain(context, "context")
    try:
        return _render(environment(html=html).from_string(source), context)
    except (SecurityError, OverflowError, MemoryError) as exc:
        problem = Problem(f"not allowed in a template: {exc}", _template_line(exc))
        raise RenderError(part, problem) from None
    except UndefinedError as exc:
        raise RenderError(part, Problem(_undefined_message(exc), _template_line(exc))) from None
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        problem = Problem(f"cannot be rendered: {exc}", _template_line(exc))
        raise RenderError(part, problem) from None


@cache
def _text_config() -> ParserConfig:
    return ParserConfig(display_links=True)


def html_to_text(html: str) -> str:
    """The plain-text alternative of an HTML email: layout kept, links written out."""
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
