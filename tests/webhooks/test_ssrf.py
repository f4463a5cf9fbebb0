"""Destinations: only public http(s) addresses, checked when an endpoint is saved and again at
the connection itself (no DNS rebinding); loopback only with WEBHOOKS_ALLOW_LOOPBACK."""

from __future__ import annotations

import threading
import time

import pytest

from postpurchase.errors import DomainError
from postpurchase.events.services import event_dispatch, event_record
from tests.factories import typed_payload
from tests.webhooks.conftest import PUBLIC_IP, T0
from webhooks.destinations import NOT_PUBLIC, REFUSED_AT_SEND, address_refusal
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.usefixtures("dns")

REFUSED = [
    ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("http://192.168.1.1/hook", "192.168.1.1 is a private address"),
    ("http://172.16.0.1/hook", "172.16.0.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
    ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
    ("http://[::1]/hook", "::1 is a loopback address"),
    ("http://[fe80::1]/hook", "fe80::1 is a link-local address"),
    ("http://[::ffff:10.0.0.1]/hook", "::ffff:10.0.0.1 is a private address"),
    ("http://[64:ff9b::a00:1]/hook", "64:ff9b::a00:1 is a private address"),
    ("http://100.64.0.1/hook", "100.64.0.1 is not a public address"),
    ("http://198.51.100.7/hook", "198.51.100.7 is a private address"),
    ("http://0.0.0.0/hook", "0.0.0.0 is an unspecified address"),
    ("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
    ("http://240.0.0.1/hook", "240.0.0.1 is a reserved address"),
    ("http://[fec0::1]/hook", "fec0::1 is a site-local address"),
    ("https://intranet.example/hook", "intranet.example resolves to 10.1.2.3, a private address"),
    ("https://mixed.example/hook", "mixed.example resolves to 192.168.0.7, a private address"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED, ids=[u for u, _ in REFUSED])
def test_a_private_destination_is_refused_when_saved(merchant_a, dns, caplog, url, why):
    # given: names that resolve to private addresses (one of two is enough to refuse)
    dns["intranet.example"] = ["10.1.2.3"]
    dns["mixed.example"] = [PUBLIC_IP, "192.168.0.7"]

    # when
    with pytest.raises(DomainError) as excinfo:
        webhook_endpoint_create(merchant=merchant_a, url=url, event_types=["*"])

    # then: the merchant reads one generic reason; why is in the server log only
    assert excinfo.value.field == "url"
    assert excinfo.value.code == "destination_not_allowed"
    assert excinfo.value.message == NOT_PUBLIC
    assert [r.getMessage() for r in caplog.records if r.name == "webhooks.destinations"] == [
        f"Refused webhook URL {url}: {why}"
    ]
    assert WebhookEndpoint.unscoped.count() == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example/hook", "The URL must start with https:// or http://."),
        ("file:///etc/passwd", "The URL must start with https:// or http://."),
        ("https://user:pw@hooks.example/", "Leave credentials out of the URL"),
        ("https:///nohost", "Enter a valid URL"),
        ("", "Enter the URL that should receive the webhooks."),
        ("https://hooks.example:99999/", "Enter a valid URL"),
    ],
)
def test_a_url_that_is_not_plain_http_or_https_is_refused(merchant_a, url, message):
    with pytest.raises(DomainError) as excinfo:
        webhook_endpoint_create(merchant=merchant_a, url=url, event_types=["*"])

    assert excinfo.value.field == "url"
    assert excinfo.value.message.startswith(message)


def test_localhost_is_refused_unless_loopback_is_allowed(merchant_a, dns, settings):
    # given
    dns["localhost"] = ["127.0.0.1", "::1"]

    # when / then
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    with pytest.raises(DomainError):
        webhook_endpoint_create(merchant=merchant_a, url="http://localhost:9/h", event_types=["*"])
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    endpoint = webhook_endpoint_create(
        merchant=merchant_a, url="http://localhost:9/h", event_types=["*"]
    )
    assert endpoint.url == "http://localhost:9/h"


def test_allowing_loopback_lets_no_other_private_address_through():
    assert address_refusal("127.0.0.2", allow_loopback=True) is None
    assert address_refusal("::ffff:127.0.0.1", allow_loopback=True) is None
    assert address_refusal("10.0.0.1", allow_loopback=True) == "a private address"
    assert address_refusal("fe80::1%eth0", allow_loopback=True) == "a link-local address"
    assert address_refusal(PUBLIC_IP, allow_loopback=False) is None
    assert address_refusal("2606:4700:4700::1111", allow_loopback=False) is None
    assert address_refusal("fec0::1", allow_loopback=True) == "a site-local address"
    assert address_refusal("feff::1", allow_loopback=False) == "a site-local address"


def test_a_name_that_turns_private_after_saving_is_refused_at_the_connection(
    merchant_a, dns, receiver, enqueued, run_queue, settings
):
    # given: a public answer when saved, a private one when sending (DNS rebinding)
    dns["rebind.example"] = [PUBLIC_IP]
    webhook_endpoint_create(
        merchant=merchant_a, url=f"http://rebind.example:{receiver.port}/hooks", event_types=["*"]
    )
    dns["rebind.example"] = ["169.254.169.254"]
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=typed_payload("order.placed"), now=T0
    )
    event_dispatch(event=event, now=T0)
    from webhooks.models import WebhookDelivery
    from webhooks.services import webhook_deliveries_sweep

    # when
    webhook_deliveries_sweep(now=WebhookDelivery.unscoped.get().next_attempt_at)
    [attempt] = run_queue(T0)

    # then: no request left, and the log says why
    assert receiver.requests == []
    assert (attempt.succeeded, attempt.status_code) == (False, None)
    assert attempt.error == REFUSED_AT_SEND


def test_the_connection_goes_to_the_vetted_address_with_the_host_name_kept(
    merchant_a, dns, receiver, enqueued, run_queue
):
    # given: a name whose (vetted) address is the receiver's
    dns["hooks.merchant.test"] = ["127.0.0.1"]
    webhook_endpoint_create(
        merchant=merchant_a,
        url=f"http://hooks.merchant.test:{receiver.port}/hooks",
        event_types=["*"],
    )
    event, _ = event_record(
        merchant=merchant_a, type="order.placed", payload=typed_payload("order.placed"), now=T0
    )
    event_dispatch(event=event, now=T0)
    from webhooks.models import WebhookDelivery
    from webhooks.services import webhook_deliveries_sweep

    # when
    webhook_deliveries_sweep(now=WebhookDelivery.unscoped.get().next_attempt_at)
    [attempt] = run_queue(T0)

    # then
    assert attempt.succeeded is True
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.merchant.test:{receiver.port}"


def test_the_api_answer_is_the_same_for_a_private_and_an_unknown_host(merchant_a, dns, caplog):
    # given: one name on our private network, one that does not resolve at all
    from tests.conftest import client_for

    dns["vm.internal"] = ["10.20.30.40"]
    dns["nothing.internal"] = []
    api = client_for(merchant_a)

    # when
    answers = [
        api.post(
            "/api/v1/webhook-endpoints",
            {"url": f"https://{host}/hook", "event_types": ["*"]},
            format="json",
        )
        for host in ("vm.internal", "nothing.internal")
    ]

    # then: nothing tells them apart, and no address is echoed; the log has the details
    assert [a.status_code for a in answers] == [400, 400]
    assert [a.json()["code"] for a in answers] == ["destination_not_allowed"] * 2
    errors = [a.json()["errors"] for a in answers]
    assert (
        errors[0]
        == errors[1]
        == {"url": [{"message": NOT_PUBLIC, "code": "destination_not_allowed"}]}
    )
    assert all(b"10.20.30.40" not in a.content for a in answers)
    assert [r.getMessage() for r in caplog.records if r.name == "webhooks.destinations"] == [
        "Refused webhook URL https://vm.internal/hook: "
        "vm.internal resolves to 10.20.30.40, a private address",
        "Refused webhook URL https://nothing.internal/hook: nothing.internal does not resolve",
    ]
    assert WebhookEndpoint.unscoped.count() == 0


def test_a_resolver_that_does_not_answer_is_given_up_on(merchant_a, monkeypatch, caplog):
    # given: a DNS server that never answers, and a lookup bound of a fifth of a second
    from webhooks import destinations

    never = threading.Event()
    monkeypatch.setattr(destinations, "resolve", lambda host, port: never.wait(10) and [])
    monkeypatch.setattr(destinations, "RESOLVE_TIMEOUT", 0.2)

    # when
    started = time.monotonic()
    with pytest.raises(DomainError) as excinfo:
        webhook_endpoint_create(merchant=merchant_a, url="https://slow.example/", event_types=["*"])
    elapsed = time.monotonic() - started
    never.set()

    # then
    assert (excinfo.value.field, excinfo.value.message) == ("url", NOT_PUBLIC)
    assert elapsed < 2
    assert [r.getMessage() for r in caplog.records if r.name == "webhooks.destinations"] == [
        "Refused webhook URL https://slow.example/: slow.example does not resolve "
        "(no answer within 0.2 s)"
    ]
