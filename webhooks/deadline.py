"""One time limit for a whole webhook request: resolving, connecting, the answer's headers and
the excerpt of its body together.

Socket timeouts bound each wait, never the total: a receiver that sends a byte every few seconds
— of its TLS handshake, its headers or its body — never trips them and could hold a worker for
as long as it likes. While a ``RequestDeadline`` is active, the connection layer shrinks its
resolver and connect timeouts to the time left and hands over each socket it opens; when the
deadline passes, a timer shuts those sockets down, which ends any read blocked on them at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import time
from collections.abc import Callable

_active: contextvars.ContextVar[RequestDeadline | None] = contextvars.ContextVar(
    "webhook_request_deadline", default=None
)


def active_deadline() -> RequestDeadline | None:
    """The deadline of the request being made in this context, if any."""
    return _active.get()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer or by us
        sock.shutdown(socket.SHUT_RDWR)


class RequestDeadline:
    """``with RequestDeadline(25):`` — everything the connection layer opens inside is cut off
    25 s after entering. ``expired`` tells afterwards whether that happened."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.expired = False
        self._clock = clock
        self._ends_at = clock() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._token: contextvars.Token | None = None

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(self._ends_at - self._clock(), 0.0)

    @property
    def passed(self) -> bool:
        return self.expired or self.remaining() <= 0

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes. A duplicate is kept: wrapping the socket
        in TLS detaches the original, and shutting down either descriptor ends the connection."""
        duplicate = sock.dup()
        with self._lock:
            self._sockets.append(duplicate)
            if self.expired:
                _shutdown(duplicate)

    def _expire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def __enter__(self) -> RequestDeadline:
        self._token = _active.set(self)
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        if self._token is not None:
            _active.reset(self._token)
        with self._lock:
            self._closed = True
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()
