"""A deactivated merchant's journeys: every live one is paused.

Registered with ``postpurchase.tenancy.lifecycle`` (``JourneysConfig.ready``) and run by
``merchant_deactivate`` inside its transaction. Paused, not archived: enrollments hold where
they are, and reactivating the merchant resumes nothing by itself; the merchant resumes each
journey (dashboard or API), and what fell due meanwhile then runs at the next tick.
"""

from __future__ import annotations

from datetime import datetime

from journeys.models import Journey, JourneyStatus
from postpurchase.tenancy.models import Merchant


def merchant_journeys_pause(*, merchant: Merchant, now: datetime) -> int:
    """Pause the merchant's live journeys. Returns how many."""
    return Journey.unscoped.filter(merchant=merchant, status=JourneyStatus.LIVE).update(
        status=JourneyStatus.PAUSED, updated_at=now
    )
