"""The sandbox merchants' templates run in: Jinja2's ``ImmutableSandboxedEnvironment``, narrowed.

Templates are untrusted code run in web and worker processes, so beyond Jinja2's sandbox (no
private or internal attributes, no changes to the context's lists and dicts):

- **What a template may say.** No macros, call blocks, blocks, recursive loops, includes,
  imports or extends (recursion and other files), and no ``{% autoescape %}`` (it would turn
  HTML escaping off). Refused when the template is compiled, with the line.
- **What it may touch.** Attributes of classes are refused (``dict.update(customer, …)`` would
  reach round the immutable sandbox), and methods only from a short list per type (``lower``,
  ``strftime``, ``get``, …): no ``ljust(10**9)``, no ``str.format``. Globals are functions that
  make a fresh value (``dict``, ``cycler``, ``joiner``) and a capped ``range``.
- **How big a value may grow.** Every operation that can grow a value (``*``, ``+``, ``~``,
  ``**`` and the ``join``, ``replace``, ``sum``, ``list`` and ``int`` filters) checks the size
  of its result *before* building it: at most ``MAX_SIZE`` characters (strings, and lists by
  the size of what they hold), integers up to ``MAX_INT_BITS`` bits (``int`` reads at most
  ``MAX_INT_DIGITS`` digits). Filters that make a sequence lazily (``map``, ``select``,
  ``reject``, ``selectattr``, ``rejectattr``) stop once what they made passes ``MAX_SIZE``,
  so nothing built from them can pass it. Dates format through a checked ``strftime``: only
  the directives in ``STRFTIME_DIRECTIVES`` (with ``-``, glibc's "no padding"), no field
  widths or other flags (``%250Y`` pads to 250 characters), a format of at most
  ``MAX_DATE_FORMAT`` characters. Output is counted as it is produced and stops at
  ``MAX_OUTPUT``.
- **How long it may run.** A render is interrupted after ``RENDER_SECONDS`` by a timer
  (``SIGALRM``), which only the main thread can receive: elsewhere a render is refused rather
  than run without a deadline. Renders run in the render pool's processes
  (``notifications.render_pool``), in their main thread, under an address-space and a CPU
  limit as well, so what the checks above miss still meets a wall.

Compiled templates are cached per process by their source.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.filters import do_join, make_attrgetter
from jinja2.runtime import LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, pass_context, pass_environment, pass_eval_context
from markupsafe import Markup, escape

MAX_SIZE = 100_000  # characters a value may reach (a list: what it holds, plus one per item)
MAX_INT_BITS = 4096
MAX_EXPONENT = 64
MAX_RANGE = 100_000
MAX_OUTPUT = 500_000  # characters of rendered output
MAX_INT_DIGITS = 1000  # characters the int filter reads (a 4096-bit number in base 16)
MAX_DATE_FORMAT = 100  # characters of a strftime format
# What strftime may say: fixed-size fields only (no widths, no flags but "-", "no padding").
STRFTIME_DIRECTIVES = frozenset("aAbBcdeHIjmMpSuUVwWxXyYzZGgF%")
STRFTIME_DIRECTIVE = re.compile(r"%([-_0^#]*)([0-9]*)(.?)", re.DOTALL)
RENDER_SECONDS = 2.0  # one render (the main thread: see _time_limit)
SAVE_SECONDS = 10.0  # every check of one template save

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

# Methods a template may call, by the type of the value.
TEXT_METHODS = frozenset(
    {
        "lower", "upper", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith",
        "endswith", "split", "count", "find", "isdigit", "isalpha", "isspace",
    }
)  # fmt: skip
DATE_METHODS = frozenset({"strftime", "isoformat", "weekday", "isoweekday", "date"})
SAFE_METHODS: tuple[tuple[type, frozenset[str]], ...] = (
    (str, TEXT_METHODS),
    (date, DATE_METHODS),  # datetimes too
    (dict, frozenset({"get", "items", "keys", "values"})),
    (list, frozenset({"index", "count"})),
    (LoopContext, frozenset({"cycle", "changed"})),
    (Cycler, frozenset({"next", "reset"})),
)

# Nodes a message template may not use, and why.
REFUSED_NODES: tuple[tuple[type, str], ...] = (
    (nodes.Macro, "macros are not available"),
    (nodes.CallBlock, "call blocks are not available"),
    (nodes.Block, "blocks are not available"),
    (nodes.Extends, "templates cannot extend other templates"),
    (nodes.Include, "templates cannot include other templates"),
    (nodes.Import, "templates cannot import other templates"),
    (nodes.FromImport, "templates cannot import other templates"),
    (nodes.EvalContextModifier, "autoescape cannot be changed"),
)


def size(value: Any, depth: int = 0) -> int:
    """How big ``value`` is as text, roughly: a string's length, a list's items' sizes plus one
    each (nested up to three levels, then counted as the limit)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | dict):
        if depth > 3:
            return MAX_SIZE + 1
        items = value.items() if isinstance(value, dict) else value
        total = len(value)
        for item in items:
            total += size(item, depth + 1)
            if total > MAX_SIZE:
                return total
        return total
    if isinstance(value, int) and not isinstance(value, bool):
        return value.bit_length() // 3 + 1
    return 8


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} would be larger than {MAX_SIZE:,} characters")


class _Generator(CodeGenerator):
    """Jinja2's code generator, with ``a ~ b`` going through the environment's size check."""

    def visit_Concat(self, node: nodes.Concat, frame) -> None:
        self.write(f"environment.checked_concat({bool(frame.eval_ctx.autoescape)}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class Sandbox(ImmutableSandboxedEnvironment):
    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def wrap_str_format(self, value: Any) -> None:
        """No ``str.format`` at all (Jinja2 lets a sandboxed one through before the attribute
        check; its padding alone can allocate any size)."""
        return None

    def getattr(self, obj: Any, attribute: str) -> Any:
        return _checked_method(obj, attribute, super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return _checked_method(obj, argument, super().getitem(obj, argument))

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value) or isinstance(obj, type):
            return False
        if not callable(value):
            return True  # data: a value of the context's dicts, a loop's index, a date's year
        return any(isinstance(obj, kind) and attr in methods for kind, methods in SAFE_METHODS)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise SecurityError(f"powers are limited to exponents up to {MAX_EXPONENT}")
        elif operator == "*":
            self._check_product(left, right)
        elif operator == "+":
            if isinstance(left, str | list | tuple) and size(left) + size(right) > MAX_SIZE:
                raise _too_big("a joined value")
        elif operator == "%" and isinstance(left, str):
            raise SecurityError("%-formatting is not available; use {{ value }} in the text")
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"numbers are limited to {MAX_INT_BITS} bits")
        return result

    @staticmethod
    def _check_product(left: Any, right: Any) -> None:
        for sized, times in ((left, right), (right, left)):
            repeated = isinstance(sized, str | list | tuple) and isinstance(times, int)
            if repeated and size(sized) * max(times, 0) > MAX_SIZE:
                raise _too_big("a repeated value")
        numbers = isinstance(left, int) and isinstance(right, int)
        if numbers and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise SecurityError(f"numbers are limited to {MAX_INT_BITS} bits")

    def checked_concat(self, escape: bool, parts: tuple) -> str:
        """``a ~ b ~ …``: the parts as text, refused before it is built when too big."""
        if sum(size(p if isinstance(p, str) else str(p)) for p in parts) > MAX_SIZE:
            raise _too_big("a joined value")
        return markup_join(parts) if escape else str_join(parts)


def strftime_problem(fmt: Any) -> str | None:
    """Why ``fmt`` cannot format a date in a template, or None when it can."""
    if not isinstance(fmt, str):
        return "a date format must be text"
    if len(fmt) > MAX_DATE_FORMAT:
        return f"a date format may hold at most {MAX_DATE_FORMAT} characters"
    for found in STRFTIME_DIRECTIVE.finditer(fmt):
        flags, width, directive = found.groups()
        if width or flags not in ("", "-") or (flags and directive == "%"):
            return f"date formats take no field widths or flags ({found.group(0)!r})"
        if directive not in STRFTIME_DIRECTIVES:
            return f"{found.group(0)!r} is not a date directive a template may use"
    return None


def _strftime(moment: date, fmt: Any = None, *extra: Any) -> str:
    """``moment.strftime(fmt)``, with the format checked first (see ``STRFTIME_DIRECTIVES``)."""
    problem = "strftime takes one format" if extra or fmt is None else strftime_problem(fmt)
    if problem:
        raise SecurityError(problem)
    return moment.strftime(fmt)


def _checked_method(obj: Any, name: Any, value: Any) -> Any:
    """A date's ``strftime`` as a template reaches it: the checked one."""
    if name == "strftime" and isinstance(obj, date) and callable(value):
        return lambda *args: _strftime(obj, *args)
    return value


def _bounded(items: Iterable, what: str) -> Iterable:
    """``items`` one at a time, stopping once they add up to more than ``MAX_SIZE``."""
    total = 0
    for item in items:
        total += size(item) + 1
        if total > MAX_SIZE:
            raise _too_big(what)
        yield item


def _list(value: Any) -> list:
    """The ``list`` filter, refusing a list that would hold more than ``MAX_SIZE``."""
    if isinstance(value, str) and 2 * len(value) > MAX_SIZE:
        raise _too_big("a list")
    return list(_bounded(value, "a list"))


def _int(value: Any, default: Any = 0, base: Any = 10) -> int:
    """The ``int`` filter, reading at most ``MAX_INT_DIGITS`` characters of text (a long
    enough run of digits makes a number of any size) into at most ``MAX_INT_BITS`` bits."""
    if isinstance(value, str | bytes) and len(value.strip()) > MAX_INT_DIGITS:
        raise SecurityError(f"int reads numbers of at most {MAX_INT_DIGITS} digits")
    number = jinja_filters.do_int(value, default, base)
    if isinstance(number, int) and number.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"numbers are limited to {MAX_INT_BITS} bits")
    return number


def _lazy(name: str, made_by: Any):
    @pass_context
    def bounded(context, value: Any, *args: Any, **kwargs: Any) -> Iterable:
        return _bounded(made_by(context, value, *args, **kwargs), f"what {name} makes")

    return bounded


LAZY_FILTERS = {
    "map": jinja_filters.do_map,
    "select": jinja_filters.do_select,
    "reject": jinja_filters.do_reject,
    "selectattr": jinja_filters.do_selectattr,
    "rejectattr": jinja_filters.do_rejectattr,
}


def _replace(value: Any, old: Any, new: Any, count: Any = None) -> str:
    """The ``replace`` filter, refusing a result longer than ``MAX_SIZE`` before building it. A
    negative count replaces every occurrence, as Python does. On escaped HTML, ``old`` and
    ``new`` are escaped too (``Markup.replace`` does it), so escaped text is not garbled."""
    limit = -1 if count is None or int(count) < 0 else int(count)
    if isinstance(value, Markup):
        old_text, new_text, text = str(escape(old)), str(escape(new)), str(value)
    else:
        value, old_text, new_text = str(value), str(old), str(new)
        text = value
    occurrences = text.count(old_text) if old_text else len(text) + 1
    if limit >= 0:
        occurrences = min(occurrences, limit)
    if len(text) + occurrences * (len(new_text) - len(old_text)) > MAX_SIZE:
        raise _too_big("a replaced value")
    return (
        value.replace(old, new, limit)
        if isinstance(value, Markup)
        else text.replace(old_text, new_text, limit)
    )


@pass_eval_context
def _join(eval_ctx, value: Iterable, d: str = "", attribute: Any = None) -> str:
    """The ``join`` filter, refusing a result longer than ``MAX_SIZE`` before building it."""
    items = list(_bounded(value, "a joined value"))
    parts = items
    if attribute is not None:
        parts = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    total = sum(size(p if isinstance(p, str) else str(p)) for p in parts)
    if total + len(str(d)) * len(parts) > MAX_SIZE:
        raise _too_big("a joined value")
    return do_join(eval_ctx, items, d, attribute)


@pass_environment
def _sum(environment, iterable: Iterable, attribute: Any = None, start: Any = 0) -> Any:
    """The ``sum`` filter, for numbers only (summing lists or strings is quadratic)."""
    values = list(_bounded(iterable, "a sum's values"))
    if attribute is not None:
        values = list(map(make_attrgetter(environment, attribute), values))
    numbers = int | float | Decimal
    if not isinstance(start, numbers) or not all(isinstance(v, numbers) for v in values):
        raise SecurityError("sum adds numbers only")
    return sum(values, start)


def _range(*args: int) -> range:
    made = range(*args)
    if len(made) > MAX_RANGE:
        raise SecurityError(f"a range may hold at most {MAX_RANGE:,} numbers")
    return made


def _dict(**items: Any) -> dict:
    return dict(items)


def _cycler(*items: Any) -> Cycler:
    if not items:
        raise SecurityError("cycler needs at least one value")
    return Cycler(*items)


def _joiner(sep: str = ", ") -> Joiner:
    return Joiner(sep)


@cache
def environment(*, html: bool) -> Sandbox:
    env = Sandbox(autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters = {name: f for name, f in env.filters.items() if name in FILTERS}
    env.filters.update(replace=_replace, join=_join, sum=_sum, list=_list, int=_int)
    env.filters.update({name: _lazy(name, made_by) for name, made_by in LAZY_FILTERS.items()})
    env.globals = {"range": _range, "dict": _dict, "cycler": _cycler, "joiner": _joiner}
    return env


def _constant_format_problem(call: nodes.Call) -> str | None:
    """What is wrong with a ``….strftime('…')`` whose format is written out in the template:
    known at save, whatever data the template meets later."""
    target = call.node
    if not (isinstance(target, nodes.Getattr) and target.attr == "strftime"):
        return None
    if len(call.args) == 1 and isinstance(call.args[0], nodes.Const):
        return strftime_problem(call.args[0].value)
    return None


def refused_node(parsed: nodes.Template) -> tuple[str, int] | None:
    """The first construct a message template may not use, with its line."""
    for node in parsed.find_all((*(kind for kind, _ in REFUSED_NODES), nodes.For, nodes.Call)):
        if isinstance(node, nodes.Call):
            problem = _constant_format_problem(node)
            if problem:
                return problem, node.lineno
            continue
        if isinstance(node, nodes.For):
            if node.recursive:
                return "recursive loops are not available", node.lineno
            continue
        for kind, why in REFUSED_NODES:
            if isinstance(node, kind):
                return why, node.lineno
    return None


@lru_cache(maxsize=512)
def compiled(source: str, *, html: bool) -> Template:
    """``source`` parsed, checked for refused constructs and compiled (cached per process)."""
    env = environment(html=html)
    parsed = env.parse(source)
    refused = refused_node(parsed)
    if refused is not None:
        error = SecurityError(refused[0])
        error.lineno = refused[1]
        raise error
    return env.from_string(parsed)


def render(template: Template, context: dict[str, Any], *, limited: bool = True) -> str:
    """``template`` rendered with ``context``, stopped at ``MAX_OUTPUT`` characters or after
    ``RENDER_SECONDS`` (``limited=False``: the caller holds a ``time_limit`` around it)."""
    if limited:
        with time_limit(RENDER_SECONDS):
            return render(template, context, limited=False)
    produced, length = [], 0
    for chunk in template.generate(context):
        length += len(chunk)
        if length > MAX_OUTPUT:
            raise SecurityError(f"the rendered text is longer than {MAX_OUTPUT:,} characters")
        produced.append(chunk)
    return "".join(produced)


class RenderTimeout(SecurityError):
    pass


class DeadlineUnavailable(RuntimeError):
    """A render asked for outside the main thread, where no timer can interrupt it."""


_timers = threading.local()


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after ``seconds`` with ``RenderTimeout``: a loop in a loop in a loop.

    ``SIGALRM`` reaches the main thread only (the render pool's processes render there);
    elsewhere ``DeadlineUnavailable`` is raised and nothing runs. Limits nest: the inner one
    never outlasts the outer. A timer set by someone else is put back afterwards, less the
    time spent (it can fire up to ``seconds`` late). The handler raises only while a limit is
    armed, so a signal landing as the block
    ends cannot escape from it."""
    if threading.current_thread() is not threading.main_thread():
        raise DeadlineUnavailable(
            "a template is rendered only where its time limit can be armed (a main thread)"
        )
    deadline = time.monotonic() + seconds
    outer = getattr(_timers, "deadline", None)
    if outer is not None:
        deadline = min(deadline, outer)

    def expire(signum, frame):
        if getattr(_timers, "deadline", None) is not None:
            # Raised again every 50 ms until the block ends: a signal that lands in code that
            # swallows exceptions (a weakref finalizer during garbage collection) is not lost.
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            raise RenderTimeout(f"the template took longer than {seconds:g} s to render")

    previous = signal.signal(signal.SIGALRM, expire)
    earlier, interval = signal.setitimer(
        signal.ITIMER_REAL, max(deadline - time.monotonic(), 0.001)
    )
    started = time.monotonic()
    _timers.deadline = deadline
    try:
        yield
    finally:
        _timers.deadline = outer  # disarmed first: a late signal is ignored
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer is not None:
            signal.setitimer(signal.ITIMER_REAL, max(outer - time.monotonic(), 0.001))
        elif earlier:
            left = max(earlier - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)
