"""One merchant's slow webhook receivers do not stall anyone else, with real Celery workers on
the real Redis broker, started as docker-compose.yml starts them: an ``integrations`` worker
(three processes) for webhooks, and the engine's worker for ``default``, ``events``,
``journeys`` and ``messages``.

Merchant A has three endpoints on a local receiver that holds every request until the test lets
it go (as a receiver taking 25 s would). At most two of A's requests are in flight at once
(``WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT``); the third is deferred, not failed. While A's two are
held, merchant B's email reaches a real SMTP server (aiosmtpd) and B's webhook reaches its
receiver through the integrations worker's free process. Nothing sleeps: the test waits on
events and on rows, each with a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from django.db import transaction
from django.utils import timezone

from notifications.models import Message
from notifications.services import message_send, message_template_save
from tests import worker_process
from tests.factories import CustomerFactory, MerchantFactory
from tests.notifications.test_smtp_e2e import Mailbox
from tests.worker_process import celery_worker, worker_env
from webhooks.models import WebhookDelivery
from webhooks.services import (
    OVER_CAP_DEFER,
    webhook_deliveries_sweep,
    webhook_endpoint_create,
    webhook_endpoint_send_test,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 30  # seconds; reached only when something is broken
IN_FLIGHT_CAP = 2


class HoldingReceiver:
    """Answers ``/fast`` at once; holds each ``/slow`` request until ``release`` is set, counting
    how many are held at once."""

    def __init__(self):
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.paths: list[str] = []
        self.held = 0
        self.most_held = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.paths.append(self.path)
                    slow = self.path == "/slow"
                    if slow:
                        receiver.held += 1
                        receiver.most_held = max(receiver.most_held, receiver.held)
                if slow:
                    receiver.release.wait(DEADLINE)
                    with receiver.lock:
                        receiver.held -= 1
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def count(self, path: str) -> int:
        with self.lock:
            return self.paths.count(path)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(check, what: str) -> None:
    worker_process.wait_for(check, what, DEADLINE)


def start_worker(name: str, queues: str, pool: list[str], env, log: Path):
    return celery_worker(queues, env, log, *pool, "--prefetch-multiplier=1", name="isolation")


def stop(worker: subprocess.Popen) -> None:
    """Kill the worker with its pool's processes (its own process group), so nothing is left
    holding the test database."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=DEADLINE)


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def beta_with_an_email_to_send():
    beta = MerchantFactory(slug="beta", timezone="UTC")
    template = message_template_save(
        merchant=beta,
        payload={
            "key": "hello",
            "name": "Hello",
            "channel": "email",
            "category": "transactional",
            "variants": [{"locale": "en", "subject": "Hi", "html_body": "<p>Hi</p>"}],
        },
    )
    return beta, template, CustomerFactory(merchant=beta, email="bo@example.com", timezone="UTC")


def test_a_merchants_slow_receivers_stall_no_other_merchant(tmp_path, settings, smtp):
    # given: A with three endpoints on a receiver that holds requests, B with an email to send
    # and an endpoint that answers at once
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    mailbox, smtp_port = smtp
    receiver = HoldingReceiver()
    alpha = MerchantFactory(slug="alpha", timezone="UTC")
    slow = [
        webhook_endpoint_create(merchant=alpha, url=f"{receiver.url}/slow", event_types=["*"])
        for _ in range(3)
    ]
    beta, hello, bo = beta_with_an_email_to_send()
    fast = webhook_endpoint_create(merchant=beta, url=f"{receiver.url}/fast", event_types=["*"])
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()  # the queues, and any slot a killed earlier run left
    env = worker_env(
        tmp_path,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        WEBHOOKS_ALLOW_LOOPBACK="true",
        WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT=str(IN_FLIGHT_CAP),
    )
    log = tmp_path / "workers.log"
    engine = start_worker(
        "engine",
        "default,events,events_bulk,journeys,messages,messages_bulk",
        ["-P", "solo"],
        env,
        log,
    )
    integrations = start_worker("integrations", "integrations", ["-c", "3"], env, log)
    try:
        # when: A's three deliveries go out; two reach the receiver and are held there
        with transaction.atomic():
            held = [webhook_endpoint_send_test(endpoint=endpoint).pk for endpoint in slow]
        of_alpha = WebhookDelivery.unscoped.filter(pk__in=held)
        wait_for(lambda: receiver.count("/slow") == 2, "two of A's requests held")
        wait_for(lambda: of_alpha.filter(attempts=0, claim="").count() == 1, "A's third deferred")

        # and B sends an email and a webhook meanwhile
        with transaction.atomic():
            email = message_send(
                merchant=beta, template=hello, customer=bo, context={}, idempotency_key="o:1"
            )
            ping = webhook_endpoint_send_test(endpoint=fast)

        # then: both of B's went out while A's two requests were still held
        wait_for(lambda: Message.unscoped.get(pk=email.pk).status == "sent", "B's email")
        wait_for(
            lambda: WebhookDelivery.unscoped.get(pk=ping.pk).status == "succeeded", "B's webhook"
        )
        assert not receiver.release.is_set()
        assert (receiver.held, receiver.count("/slow"), receiver.count("/fast")) == (2, 2, 1)
        [(_, recipients, _)] = mailbox.received
        assert recipients == ["bo@example.com"]

        # and when A's receiver answers, A's two succeed and the deferred one goes next
        receiver.release.set()
        wait_for(lambda: of_alpha.filter(status="succeeded").count() == 2, "A's two answered")
        webhook_deliveries_sweep(now=timezone.now() + OVER_CAP_DEFER)
        wait_for(lambda: of_alpha.filter(status="succeeded").count() == 3, "A's deferred one")
    finally:
        receiver.release.set()
        for worker in (engine, integrations):
            stop(worker)
        receiver.stop()
        broker.flushdb()

    # then: never more than the cap of A's requests at the receiver; each delivery sent once
    assert receiver.most_held == IN_FLIGHT_CAP, log.read_text()[-3000:]
    assert receiver.count("/slow") == 3
    assert list(of_alpha.values_list("attempts", flat=True)) == [1, 1, 1]
