"""A twilio ``HttpClient`` that records each request and answers from a queue: the seam the
twilio library offers for tests (``Client(http_client=…)``), reached through the
``TWILIO_HTTP_CLIENT`` setting, so the real client builds every request."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

from twilio.http import HttpClient
from twilio.http.response import Response

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "merchant-auth-token-9f8e7d6c"
MESSAGE_SID = "SM" + "fedcba9876543210" * 2


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    uri: str
    data: dict
    auth: tuple[str, str] | None


def message_resource(*, sid: str = MESSAGE_SID, account_sid: str = ACCOUNT_SID) -> str:
    """The JSON Twilio answers a created Message with (201), abridged to the usual fields."""
    return json.dumps(
        {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": "",
            "date_created": "Tue, 02 Jun 2026 15:00:01 +0000",
            "date_sent": None,
            "date_updated": "Tue, 02 Jun 2026 15:00:01 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": "+14155550100",
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"
            },
            "to": "+14155550123",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        }
    )


def error_resource(status: int, code: int, message: str) -> Response:
    """Twilio's answer to a refused request (the 2010 API's error shape)."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(status, json.dumps(body))


class RecordingHttpClient(HttpClient):
    """Records ``method``, ``uri``, ``data`` and ``auth`` of each request and answers with the
    next queued ``Response`` (or raises the next queued exception); with nothing queued, a
    created Message (201). ``clients`` holds every instance made: one per twilio ``Client``
    our code builds."""

    answers: ClassVar[list[Response | BaseException]] = []
    requests: ClassVar[list[RecordedRequest]] = []
    clients: ClassVar[list[RecordingHttpClient]] = []

    def __init__(self):
        super().__init__(logging.getLogger("twilio.http_client"), is_async=False)
        type(self).clients.append(self)

    @classmethod
    def reset(cls) -> None:
        cls.answers.clear()
        cls.requests.clear()
        cls.clients.clear()

    def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ) -> Response:
        recorded = RecordedRequest(method, uri, dict(data or {}), auth)
        type(self).requests.append(recorded)
        answer = type(self).answers.pop(0) if type(self).answers else None
        if isinstance(answer, BaseException):
            raise answer
        response = answer or Response(201, message_resource())
        self._test_only_last_response = response
        return response


@contextmanager
def recording(settings) -> Iterator[type[RecordingHttpClient]]:
    """Send every text of the block through ``RecordingHttpClient``, from an empty queue and
    record (``settings``: pytest-django's fixture, which restores the setting afterwards)."""
    settings.TWILIO_HTTP_CLIENT = f"{__name__}.RecordingHttpClient"
    RecordingHttpClient.reset()
    try:
        yield RecordingHttpClient
    finally:
        RecordingHttpClient.reset()
