"""What the blueprints' tests share: the clock (a Tuesday), a day, every blueprint's key (the
features' registered ones too: the claim notices), and a blueprint installed and published in
one call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from journeys.blueprints import blueprints_all, journey_blueprint_install
from journeys.services import journey_publish

T0 = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # a Tuesday
DAY = timedelta(days=1)
KEYS = [blueprint.key for blueprint in blueprints_all()]  # the features' too (claims)


def live(merchant, key):
    journey = journey_blueprint_install(merchant=merchant, key=key, now=T0)
    journey_publish(journey=journey, now=T0)
    return journey
