"""At most ``WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT`` of one merchant's requests in flight at once.

The ``integrations`` workers are shared by every merchant; without a cap one merchant's slow
receivers (each request may take up to ``transport.DEADLINE``) could hold every process. A send
first takes one of the merchant's numbered *slots*: a key in the shared cache (Redis in
production) added only if absent, which is one atomic ``SET NX`` there, so two workers never
hold the same slot. A send that finds every slot taken is deferred, not failed (see
``services.webhook_delivery_send``).

A slot expires on its own after ``SLOT_TTL``, longer than any request is allowed to take, so a
worker killed mid-send frees its slot within that time without anyone releasing it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from webhooks.transport import DEADLINE

SLOT_TTL = DEADLINE * 2 + 10  # seconds: a request is cut off after DEADLINE
KEY_PREFIX = "webhooks:in-flight"  # tests give each test its own


@dataclass(frozen=True)
class SendSlot:
    key: str
    token: str


def _slot_key(merchant_id: int, index: int) -> str:
    return f"{KEY_PREFIX}:{merchant_id}:{index}"


def send_slot_take(*, merchant_id: int) -> SendSlot | None:
    """One of the merchant's free slots, now held, or ``None`` when all are taken."""
    token = uuid.uuid4().hex
    for index in range(settings.WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT):
        key = _slot_key(merchant_id, index)
        if cache.add(key, token, timeout=SLOT_TTL):
            return SendSlot(key=key, token=token)
    return None


def send_slot_release(slot: SendSlot) -> None:
    """Free ``slot`` if it is still ours. It is unless it expired (a send never lasts that
    long), so the read and the delete need not be one atomic step."""
    if cache.get(slot.key) == slot.token:
        cache.delete(slot.key)


def send_slots_held(*, merchant_id: int) -> int:
    """How many of the merchant's slots are held now (for the dashboard and tests)."""
    keys = [_slot_key(merchant_id, i) for i in range(settings.WEBHOOKS_MAX_IN_FLIGHT_PER_MERCHANT)]
    return len(cache.get_many(keys))
