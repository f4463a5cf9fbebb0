"""What runs inside a render process (see ``notifications.render_pool``).

A render process is spawned (a fresh interpreter), so it holds Python, Jinja2 and the sandbox
but none of the web or worker process it serves (no Django, no database connection, no
credentials). ``start`` puts it under its walls for good: ``RLIMIT_AS`` (an
allocation past it fails with ``MemoryError``, and a process that dies of it is replaced) and,
before each message, ``RLIMIT_CPU`` a few seconds past what it has used (the kernel's
``SIGXCPU`` then ends a render that never returns to Python, where the ``SIGALRM`` deadline
cannot reach). It dies with the process it serves (``PR_SET_PDEATHSIG``), even one that
ends without shutting its pool down.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import resource
import signal
from typing import Any

from notifications import rendering, sandbox

_limits: dict[str, float] = {"cpu_seconds": 5.0}
PR_SET_PDEATHSIG = 1


def start(memory_bytes: int, cpu_seconds: float) -> None:
    """The process's initializer: its walls, and death with its parent."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the pipes still end it
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    _limits["cpu_seconds"] = cpu_seconds


def _arm_cpu() -> None:
    """Allow ``cpu_seconds`` more of CPU time from now (the limit counts the process's life)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + _limits["cpu_seconds"])
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _peak_bytes() -> int:
    """The most memory this process's image has held (its resident high-water mark). Not
    ``ru_maxrss``: Linux carries that over from before ``exec``, when the process was still a
    copy of the one that spawned it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def render(
    messages: list[tuple[list[tuple[str, bool, str]], dict[str, Any]]], seconds: float
) -> tuple[list[Any], int]:
    """Each message's parts rendered (``rendering.render_in_process``), each message within
    ``seconds``; a failure is returned as its ``RenderError``. With the process's peak memory."""
    sandbox.RENDER_SECONDS = seconds
    results: list[Any] = []
    for parts, context in messages:
        _arm_cpu()
        try:
            results.append(rendering.render_in_process(parts, context))
        except rendering.RenderError as error:
            results.append(error)
    return results, _peak_bytes()


def check(
    sources: list[tuple[str, bool]],
    samples: dict[str, Any],
    seconds: float,
    total_seconds: float,
) -> tuple[list[list[rendering.Problem]], int]:
    """``rendering.check_in_process`` for each source against ``samples`` (every variable's,
    from the caller: features register theirs in Django, which this process has not), each
    render within ``seconds`` and all within ``total_seconds`` (``sandbox.RenderTimeout`` past
    it). With the peak memory."""
    sandbox.RENDER_SECONDS = seconds
    found = []
    with sandbox.time_limit(total_seconds):
        for source, html in sources:
            _arm_cpu()
            found.append(
                rendering.check_in_process(source, html=html, samples=samples) if source else []
            )
    return found, _peak_bytes()
