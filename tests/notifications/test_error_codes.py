"""A test send from the dashboard is refused with notifications' own codes (issue 12, part 9):
a channel that is none is ``unknown_channel``, no address ``required``, a malformed one
``invalid``; each names its field and sends nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications.models import Message
from notifications.services import channel_send_test
from postpurchase.errors import DomainError

NOW = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("channel", "to", "code", "field", "message"),
    [
        ("fax", "owner@example.com", "unknown_channel", "channel", "No such channel."),
        ("email", "", "required", "to", "Give an address to send the test to."),
        (
            "email",
            "not an address",
            "invalid",
            "to",
            "'not an address' is not a valid email address",
        ),
    ],
    ids=["unknown-channel", "no-address", "malformed-address"],
)
def test_a_test_send_that_cannot_go_is_refused_with_its_code(
    merchant_a, owner_a, channel, to, code, field, message
):
    # when
    with pytest.raises(DomainError) as refused:
        channel_send_test(merchant=merchant_a, channel=channel, to=to, now=NOW)

    # then
    assert (refused.value.code, list(refused.value.fields)) == (code, [field])
    assert refused.value.message == message
    assert Message.unscoped.count() == 0
