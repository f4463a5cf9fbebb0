"""Journeys' refusals carry journeys' own codes (issue 12, part 9): a status that is no status
is ``invalid``, going live before anything was published is ``not_published`` (a 409, as the
``conflict`` it replaced), and each leaves the journey as it was."""

from __future__ import annotations

import pytest

from journeys.models import Journey
from journeys.services import journey_save, journey_set_status
from postpurchase.errors import DomainError
from postpurchase.tenancy.scoping import merchant_scope

pytestmark = pytest.mark.django_db

DEFINITION = {
    "trigger": {"event": "order.placed"},
    "start": "bye",
    "steps": [{"id": "bye", "type": "exit"}],
}


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        ("draft", "invalid", "Live, paused or archived."),
        ("live", "not_published", "Publish the journey first."),
    ],
)
def test_a_status_change_the_journey_cannot_take_is_refused_with_its_code(
    merchant_a, status, code, message
):
    # given: a journey never published
    with merchant_scope(merchant_a):
        journey = journey_save(merchant=merchant_a, key="d", name="D", definition=DEFINITION)

        # when
        with pytest.raises(DomainError) as refused:
            journey_set_status(journey=journey, status=status)

    # then
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        code,
        "status",
        message,
    )
    assert Journey.unscoped.get(pk=journey.pk).status == "draft"


def test_a_key_outside_the_pattern_is_invalid_and_a_taken_one_is_key_taken(merchant_a):
    # given
    with merchant_scope(merchant_a):
        journey_save(merchant=merchant_a, key="d", name="D", definition=DEFINITION)

        # when
        with pytest.raises(DomainError) as malformed:
            journey_save(merchant=merchant_a, key="Not A Key", name="D", definition=DEFINITION)
        with pytest.raises(DomainError) as taken:
            journey_save(merchant=merchant_a, key="d", name="Again", definition=DEFINITION)

    # then
    assert (malformed.value.code, malformed.value.field) == ("invalid", "key")
    assert (taken.value.code, taken.value.field) == ("key_taken", "key")
    assert taken.value.message == "Another journey has key 'd'."
    assert list(Journey.unscoped.values_list("key", "name")) == [("d", "D")]
