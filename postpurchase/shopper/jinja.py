"""The Jinja2 environment of the shopper shell's templates (``jinja_templates/shopper/``).

The shopper pages are the project's hottest HTML (the tracking page is requested hundreds of
times a second: docs/benchmarks/tracking.md), and Jinja2 compiles a template to Python where
Django's language walks a node tree on every render: the tracking page renders in a third of
the time. These templates are the project's own, escaped by default like Django's (the backend
turns ``autoescape`` on); merchant-written templates are a different thing, rendered in a
sandbox (``notifications/sandbox.py``).

What the templates find beyond their context: ``static()`` for a static file's URL,
``csrf_input`` (the Django backend's own), and the few filters the pages use: Django's ``date``
(in the active time zone, as Django's templates apply it) and ``linebreaksbr``, and the
dashboard's ``money``, so a date or an amount reads the same on every page.
"""

from __future__ import annotations

from functools import lru_cache

from django.template.defaultfilters import date, linebreaksbr
from django.templatetags.static import static
from django.utils.timezone import template_localtime
from jinja2 import Environment

from postpurchase.dashboard.formatting import money


def local_date(value, format_string: str | None = None) -> str:
    """Django's ``date`` filter as Django's templates apply it: a time in the active time zone
    (the page's, when a view activates the shopper's) first."""
    return date(template_localtime(value), format_string)


def environment(**options) -> Environment:
    # Django's backend passes autoescape=True unless told otherwise; said again here, as these
    # pages show what shoppers and merchants typed.
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    # a static file's URL is fixed for a process's life (the manifest is read once)
    env.globals["static"] = lru_cache(maxsize=256)(static)
    env.filters.update(date=local_date, linebreaksbr=linebreaksbr, money=money)
    return env
