"""Two filings for one parcel at once, each in a thread with its own connection, as two
browser tabs or a double-tapped button would send them: one claim, one event."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from postpurchase.errors import DomainError
from postpurchase.events.models import Event
from tests.tracking.claims.test_filing import WINDOW_LAST_MOMENT, file
from tracking.claims.models import Claim, ProtectionSettings

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 10  # seconds; only reached when something is broken


def test_two_filings_at_once_make_one_claim(merchant, parcel):
    # given
    order, shipment = parcel()
    start = threading.Barrier(2, timeout=WAIT)

    def attempt(kind: str):
        try:
            start.wait()
            return file(merchant, order, shipment, kind, now=WINDOW_LAST_MOMENT).number
        except DomainError as error:
            return error.code
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [
            f.result(timeout=3 * WAIT)
            for f in [pool.submit(attempt, kind) for kind in ("damaged", "stolen")]
        ]

    # then
    assert sorted(outcomes, key=str) == [1, "already_claimed"]
    assert Claim.unscoped.count() == 1
    assert Event.unscoped.filter(type="claim.filed").count() == 1
    assert ProtectionSettings.unscoped.get(merchant=merchant).last_claim_number == 1
