"""docs/webhooks.md's verification example works: on its own test vector, and on a delivery of
ours."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from tests.webhooks.conftest import T0
from webhooks.services import webhook_endpoint_create, webhook_endpoint_send_test

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def doc_verifier(now: float):
    """``verify_webhook`` from the docs, with its clock at ``now``."""
    text = DOC.read_text()
    [code] = [
        block
        for block in re.findall(r"```python\n(.*?)```", text, re.S)
        if "def verify_webhook" in block
    ]
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    namespace["time"] = types.SimpleNamespace(time=lambda: now)
    return namespace["verify_webhook"]


def doc_example():
    """The example request of the docs: its headers, body and the secret it names."""
    text = DOC.read_text()
    request = re.search(r"```http\n(.*?)```", text, re.S).group(1)
    head, body = request.split("\n\n", 1)
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    secret = re.search(r"`(whsec_[A-Za-z0-9+/=]+)`", text).group(1)
    return headers, body.strip().encode(), secret


def test_the_documented_example_verifies_with_the_documented_code():
    # given
    headers, body, secret = doc_example()
    verify = doc_verifier(now=int(headers["webhook-timestamp"]) + 60)

    # when
    event = verify(secret, headers, body)

    # then
    assert event["type"] == "order.placed"
    with pytest.raises(ValueError, match="no valid signature"):
        verify(secret, headers, body.replace(b"84.99", b"0.01"))
    late = doc_verifier(now=int(headers["webhook-timestamp"]) + 301)
    with pytest.raises(ValueError, match="timestamp outside the tolerance"):
        late(secret, headers, body)


def test_the_documented_code_accepts_our_deliveries(
    merchant_a, in_a, receiver, run_queue, django_capture_on_commit_callbacks
):
    # given
    endpoint = webhook_endpoint_create(merchant=merchant_a, url=receiver.url, event_types=["*"])
    with django_capture_on_commit_callbacks(execute=True):
        webhook_endpoint_send_test(endpoint=endpoint, now=T0)
    run_queue(T0)
    [request] = receiver.requests

    # when
    event = doc_verifier(now=T0.timestamp())(endpoint.secret, request.headers, request.body)

    # then
    assert event["type"] == "webhook.test"
