"""Template filters of the dashboard: ``{% load dashboard %}``."""

from django import template

from postpurchase.dashboard import formatting

register = template.Library()

register.filter("money", formatting.money)
register.filter("status_tone", formatting.status_tone)
register.filter("event_label", formatting.event_label)
register.filter("initials", formatting.initials)
