"""At most one task waiting per merchant for its pending work, so single orders cost one task
between them under load, not one each.

An event recorded alone and a message written alone each want a task that takes whatever their
merchant has waiting (``events_pending``, ``messages_deliver_pending``). While such a task is
queued and has not started, another would find nothing the first will not take, so
``enqueue_once`` sends one only when none is waiting: a flag per merchant and kind in the cache
(Redis in production, the filesystem in the embedded mode: one every process shares), set with
an atomic add. The task clears its flag (``started``) **before** it claims, so whatever was
committed before a request found the flag set is claimed by the task that set it, and what comes
after the clear enqueues a new task. The flag's key travels in the task's arguments, so the
worker clears exactly the flag the request set.

The flag lives ``TTL`` seconds at most. A task lost with its flag set (a broker that lost it,
or a worker that could not reach the cache to clear it) leaves the work recorded meanwhile
without a task: the first event or message its merchant records after the flag expires
enqueues one that takes everything waiting, and without one the sweep finds them once their
lease has run out (10 minutes: the same wait as a lost task had before there were flags). A
task that waits longer than ``TTL`` behind a backlog gets one duplicate per ``TTL``, which takes
nothing. A cache that cannot be reached counts as no flag: the task is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.cache import cache

logger = logging.getLogger(__name__)

KEY_PREFIX = "pending"
TTL = 30  # seconds


def enqueue_once(kind: str, merchant_id: int, send: Callable[[str], None]) -> bool:
    """Call ``send(flag)`` unless a task of ``kind`` for the merchant is already waiting; the
    task passes ``flag`` to ``started``. Returns whether it was sent. If ``send`` raises (the
    broker refused), the flag is cleared and the error goes on."""
    flag = f"{KEY_PREFIX}:{kind}:{merchant_id}"
    try:
        if not cache.add(flag, 1, TTL):
            return False
    except Exception:
        logger.warning("The cache is unreachable: a %s task is sent regardless", kind)
    try:
        send(flag)
    except Exception:
        started(flag)
        raise
    return True


def started(flag: str) -> None:
    """A task with ``flag`` starts: from now on its merchant's new work needs a new task. Call
    before claiming anything."""
    if not flag:
        return
    try:
        cache.delete(flag)
    except Exception:
        logger.warning("The cache is unreachable: flag %s stays until it expires", flag)
