"""Outbound-webhook fixtures: a real HTTP receiver on 127.0.0.1 that verifies signatures the
way the Standard Webhooks spec says a consumer should, a DNS seam, and a send queue the test
drives by hand with its own clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from postpurchase.tenancy.scoping import merchant_scope
from webhooks import destinations, services

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
TOLERANCE_SECONDS = 5 * 60
PUBLIC_IP = "93.184.216.34"  # any global address: nothing connects to it in these tests


def verify(*, secret: str, headers, body: bytes, now: datetime) -> dict:
    """A receiver's check, written from the spec: the timestamp within five minutes of the
    receiver's clock, and one ``v1`` signature equal (in constant time) to the HMAC-SHA256 of
    ``{id}.{timestamp}.{body}`` keyed with the base64-decoded part of ``whsec_…``. Returns the
    parsed body; raises ``AssertionError`` on any failure."""
    message_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    assert timestamp.isdigit(), timestamp
    assert abs(now.timestamp() - int(timestamp)) <= TOLERANCE_SECONDS, "stale timestamp"
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = message_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [
        entry.split(",", 1)[1]
        for entry in headers["webhook-signature"].split(" ")
        if entry.startswith("v1,")
    ]
    assert any(hmac.compare_digest(expected, candidate) for candidate in offered), "bad signature"
    return json.loads(body)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the server answers (a queue of ``(status, body[, headers])``, then 200) and what
    it got."""

    url: str = ""
    port: int = 0
    answers: deque = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None  # when set up, each request waits for it
    arrived: threading.Event = field(default_factory=threading.Event)

    def answer(self, *answers: tuple) -> None:
        self.answers.extend(answers)


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Received(self.path, headers, body))
            state.arrived.set()
            if state.hold is not None:
                state.hold.wait(10)
            status, text, *extra = state.answers.popleft() if state.answers else (200, "ok")
            payload = text.encode()
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(payload)))
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            if 300 <= status < 400:
                self.send_header("location", "http://127.0.0.1:9/elsewhere")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}/hooks"
    try:
        yield state
    finally:
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def dns(monkeypatch):
    """``dns[host] = [addresses]`` answers lookups of ``host``; IP literals answer themselves,
    and any other name resolves to a public address."""
    table: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return list(table[host])
        try:
            import ipaddress

            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return [PUBLIC_IP]
        return [host]

    monkeypatch.setattr(destinations, "resolve", resolve)
    return table


@pytest.fixture
def enqueued(monkeypatch):
    """The sends enqueued (after commit), as ``(delivery_id, claim, merchant_id)``."""
    sent: list[tuple[int, str, int]] = []
    monkeypatch.setattr(
        services,
        "_enqueue_send",
        lambda pk, claim, merchant_id: sent.append((pk, claim, merchant_id)),
    )
    return sent


@pytest.fixture
def run_queue(enqueued, django_capture_on_commit_callbacks):
    """``run_queue(now)`` → runs every enqueued send at ``now`` (in its merchant's scope), as a
    worker would, and returns the attempts made."""
    from postpurchase.tenancy.models import Merchant

    def run(now: datetime, **kwargs):
        attempts = []
        while enqueued:
            delivery_id, claim, merchant_id = enqueued.pop(0)
            with merchant_scope(Merchant.objects.get(pk=merchant_id)):
                attempts.append(
                    services.webhook_delivery_send(
                        delivery_id=delivery_id, claim=claim, now=now, **kwargs
                    )
                )
        return attempts

    return run


@dataclass
class RawServer:
    """A TCP server that reads each HTTP request and answers with ``respond(conn, stop)``:
    raw bytes, written at whatever pace the test likes. ``stop`` is set at teardown."""

    listener: socket.socket
    respond: Callable[[socket.socket, threading.Event], None]
    requests: list[bytes] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.listener.getsockname()[0]}:{self.port}/hooks"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests.append(body)
                self.arrived.set()
                self.respond(conn, self.stop)
            except OSError:
                pass  # the client hung up: what the slow-answer tests expect


@pytest.fixture
def raw_server(settings):
    """``raw_server(respond, host="127.0.0.1")`` starts a ``RawServer`` (loopback allowed)."""
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    started: list[tuple[RawServer, threading.Thread]] = []

    def start(respond, host: str = "127.0.0.1", port: int = 0) -> RawServer:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(8)
        server = RawServer(listener, respond)
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.stop.set()
        server.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        server.listener.close()
        thread.join(5)
