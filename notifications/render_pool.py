"""The render pool: merchants' templates render in a few processes of their own, behind walls.

The sandbox's checks (``notifications.sandbox``) refuse what they can tell is too big or too
slow; this is the wall for what they miss. Every render — the outbox's, a preview's, a test
send's, a save's checks — runs in a ``ProcessPoolExecutor`` whose processes are *spawned*
(a fresh interpreter: never a fork of a threaded gunicorn or Celery worker, no Django,
connections or secrets inside, and no server process shared across a later fork, as the fork
server would be) and live under ``RLIMIT_AS`` and ``RLIMIT_CPU``
(``notifications.render_worker``). Spawning imports the caller's main module again, as
``__mp_main__``: entry points guard their main code (``if __name__ == "__main__"``). A render
that exhausts its memory fails with ``MemoryError`` like any template error; one whose
process dies (killed at its CPU limit, or by the kernel) or does not answer in time breaks
the executor: the pool kills what is left of it, makes a new one on the next call, and
renders that call's messages again one at a time, so the message that broke it gets a
``RenderError`` saying it was stopped and the others their content.

One pool per process, made on first use (a forked process makes its own). The outbox sends a
whole batch of messages as one job, so a batch costs one round trip, not one per message.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from notifications import render_worker, rendering, sandbox
from notifications.rendering import Problem, RenderError

logger = logging.getLogger(__name__)

# How long past the renders' own deadlines the pool waits for an answer before it kills its
# processes (their deadlines and CPU limit end a render long before; this is for a process
# that hangs outside Python).
ANSWER_SLACK_SECONDS = 10.0

Message = tuple[list[tuple[str, bool, str]], dict[str, Any]]


class RenderWallHit(Exception):
    """A render process died or did not answer: the job's renders were stopped."""


class RenderPool:
    """``workers`` render processes, each limited to ``memory_mb`` of address space and
    ``cpu_seconds`` of CPU time per message."""

    def __init__(self, *, workers: int, memory_mb: int, cpu_seconds: float) -> None:
        if workers < 1 or memory_mb < 64 or cpu_seconds <= 0:
            raise ValueError("a render pool needs 1+ workers, 64+ MB and some CPU time")
        self.workers, self.memory_mb, self.cpu_seconds = workers, memory_mb, cpu_seconds
        self.peak_bytes = 0  # the most memory (RSS) a render process of this pool has reported
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._owner_pid = 0

    def stopped(self, part: str = "template") -> RenderError:
        message = (
            f"the render was stopped: it needed more than {self.memory_mb} MB of memory or "
            f"{self.cpu_seconds:g} s of CPU time"
        )
        return RenderError(part, Problem(f"not allowed in a template: {message}"))

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None or self._owner_pid != os.getpid():
                # a pool made before a fork belongs to the parent: this process makes its own
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=context,
                    initializer=render_worker.start,
                    initargs=(self.memory_mb * 1024 * 1024, self.cpu_seconds),
                )
                self._owner_pid = os.getpid()
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        """Kill a broken or stuck executor's processes; the next call makes a new one."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        # The executor keeps its processes by pid; a stuck one is only stopped by a kill.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            if process.is_alive():
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def call(self, function, *args: Any, timeout: float) -> Any:
        """``function(*args)`` in a render process; ``RenderWallHit`` when it died or hung."""
        executor = self._current()
        try:
            with _children_allowed():  # the executor starts its processes in submit
                future = executor.submit(function, *args)
        except (BrokenProcessPool, RuntimeError):  # broken by another call meanwhile
            self._discard(executor)
            executor = self._current()
            with _children_allowed():
                future = executor.submit(function, *args)
        try:
            result, peak = future.result(timeout=timeout)
        except (BrokenProcessPool, FutureTimeout):
            logger.warning("A render process died or hung; the render pool is replaced")
            self._discard(executor)
            raise RenderWallHit from None
        self.peak_bytes = max(self.peak_bytes, peak)
        return result

    def render(self, messages: list[Message]) -> list[list[str] | RenderError]:
        """Each message's parts rendered (see ``render_worker.render``), in one job; when the
        job hits the wall, each message again alone, so only the one to blame fails."""
        if not messages:
            return []
        seconds = sandbox.RENDER_SECONDS
        timeout = ANSWER_SLACK_SECONDS + seconds * len(messages)
        try:
            return self.call(render_worker.render, messages, seconds, timeout=timeout)
        except RenderWallHit:
            pass
        results: list[list[str] | RenderError] = []
        for message in messages:
            try:
                [result] = self.call(
                    render_worker.render, [message], seconds, timeout=ANSWER_SLACK_SECONDS + seconds
                )
            except RenderWallHit:
                result = self.stopped(message[0][0][2] if message[0] else "template")
            results.append(result)
        return results

    def check(self, sources: list[tuple[str, bool]]) -> list[list[Problem]]:
        """``rendering.check_in_process`` for each source, within ``sandbox.SAVE_SECONDS``
        together; a check that hits the wall (twice: once may be another call's doing) is
        that source's problem."""
        if not sources:
            return []
        samples = rendering.sample_context()  # the registered variables' too
        total = sandbox.SAVE_SECONDS
        timeout = ANSWER_SLACK_SECONDS + total
        for attempt in range(2):
            try:
                return self.call(
                    render_worker.check,
                    sources,
                    samples,
                    sandbox.RENDER_SECONDS,
                    total,
                    timeout=timeout,
                )
            except RenderWallHit:
                if attempt:
                    return [[self.stopped().problem] for _ in sources]
        raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def _children_allowed():
    """Let a daemonic process start render processes.

    Celery's prefork pool runs tasks in daemonic processes, and multiprocessing refuses to
    start a child from one ("daemonic processes are not allowed to have children"): a daemon
    is stopped with its parent, and its children would be left behind. Render processes die
    with the process they serve (``PR_SET_PDEATHSIG``, ``render_worker.start``), so that
    reason does not hold for them; the flag is lifted while the executor starts them and put
    back at once. Every send from a Celery worker renders through here."""
    config = multiprocessing.current_process()._config
    daemon, authkey = config.get("daemon"), config.get("authkey")
    config["daemon"] = False
    if authkey is not None:
        # Celery's pool (billiard) gives its processes a key of its own type, which refuses to
        # be pickled into a process multiprocessing spawns; the children get the same bytes.
        config["authkey"] = multiprocessing.process.AuthenticationString(bytes(authkey))
    try:
        yield
    finally:
        config["authkey"] = authkey
        if authkey is None:
            config.pop("authkey", None)
        if daemon is None:
            config.pop("daemon", None)
        else:
            config["daemon"] = daemon


_pools: dict[str, RenderPool] = {}


def pool() -> RenderPool:
    """This process's render pool, made from the settings on first use."""
    if "default" not in _pools:
        from django.conf import settings

        _pools["default"] = RenderPool(
            workers=settings.RENDER_POOL_WORKERS,
            memory_mb=settings.RENDER_MEMORY_MB,
            cpu_seconds=settings.RENDER_CPU_SECONDS,
        )
    return _pools["default"]


def render(messages: list[Message]) -> list[list[str] | RenderError]:
    return pool().render(messages)


def check(sources: list[tuple[str, bool]]) -> list[list[Problem]]:
    return pool().check(sources)
