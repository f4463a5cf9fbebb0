"""Two lanes for each engine queue that a merchant's volume can fill: ``events`` and
``messages`` take work in small pieces (an order posted, its confirmation), ``events_bulk`` and
``messages_bulk`` take big batches (an import's hundred orders a call, their hundred
confirmations, the sweep's catch-up). Every worker that consumes one lane consumes the other,
and a worker takes from its queues in turn (kombu's fair cycle on Redis and the filesystem
broker; RabbitMQ's round robin over a channel's consumers), so an order posted while another
merchant imports ten thousand waits behind at most one bulk task per worker process, never
behind the import's backlog. Within the bulk lane tasks keep their order of arrival, so two
imports interleave call by call.

Why lanes and not broker priorities: priorities differ on every broker (Redis emulates them with
one list per level, RabbitMQ needs a queue argument fixed at declaration, the filesystem broker of
the embedded mode has none), and a priority lets a steady stream of small tasks starve the bulk
lane, where a fair cycle between two queues gives each at least half of every worker.
"""

from __future__ import annotations

# A batch of this many events or messages or more goes to the bulk lane. An order posted alone
# records a few events and sends one message; an import's call records and sends hundreds.
BULK_MIN = 20
BULK_SUFFIX = "_bulk"
LANED_QUEUES = ("events", "messages")
BULK_QUEUES = tuple(f"{queue}{BULK_SUFFIX}" for queue in LANED_QUEUES)


def lane(queue: str, size: int) -> str:
    """The queue for a task of ``queue`` carrying ``size`` events or messages."""
    if queue not in LANED_QUEUES:
        raise ValueError(f"{queue!r} has no bulk lane")
    return f"{queue}{BULK_SUFFIX}" if size >= BULK_MIN else queue
