"""Sending hours in the shopper's zone, across daylight-saving changes."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from notifications.quiet_hours import is_open, next_opening

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
DAY = (time(8), time(21))


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("local", "window", "expected"),
    [
        (time(8), DAY, True),
        (time(20, 59), DAY, True),
        (time(21), DAY, False),
        (time(7, 59), DAY, False),
        (time(23), (time(20), time(2)), True),
        (time(1, 59), (time(20), time(2)), True),
        (time(2), (time(20), time(2)), False),
        (time(3), (time(0), time(0)), True),
    ],
)
def test_the_window(local, window, expected):
    assert is_open(local, *window) is expected


def test_inside_the_window_nothing_waits():
    assert next_opening(utc(2026, 6, 1, 14), NEW_YORK, *DAY) is None  # 10:00 in New York


def test_late_evening_waits_for_the_next_morning_in_the_shoppers_zone():
    # 22:30 in New York on 1 June (EDT, UTC-4) waits for 08:00 on 2 June = 12:00 UTC
    assert next_opening(utc(2026, 6, 2, 2, 30), NEW_YORK, *DAY) == utc(2026, 6, 2, 12)
    # 06:00 in Paris (CEST, UTC+2) waits for 08:00 the same day = 06:00 UTC
    assert next_opening(utc(2026, 6, 2, 4), PARIS, *DAY) == utc(2026, 6, 2, 6)


def test_the_night_the_clocks_go_forward():
    # New York, 8 March 2026: 02:00 EST becomes 03:00 EDT. 22:00 EST on the 7th (03:00 UTC on
    # the 8th) waits for 08:00 EDT on the 8th, which is 12:00 UTC, not 13:00.
    assert next_opening(utc(2026, 3, 8, 3), NEW_YORK, *DAY) == utc(2026, 3, 8, 12)


def test_the_night_the_clocks_go_back():
    # Paris, 25 October 2026: 03:00 CEST becomes 02:00 CET. 23:00 CEST on the 24th (21:00 UTC)
    # waits for 08:00 CET on the 25th, which is 07:00 UTC, not 06:00.
    assert next_opening(utc(2026, 10, 24, 21), PARIS, *DAY) == utc(2026, 10, 25, 7)


def test_a_start_in_the_skipped_hour_opens_when_the_clocks_land():
    # Window 02:30-21:00 in New York on 8 March 2026: 02:30 never happens; the window opens at
    # 03:00 EDT = 07:00 UTC.
    at = utc(2026, 3, 8, 6)  # 01:00 EST
    assert next_opening(at, NEW_YORK, time(2, 30), time(21)) == utc(2026, 3, 8, 7)


def test_a_start_in_the_repeated_hour_opens_the_first_time_round():
    # Window 01:30-21:00 in New York on 1 November 2026: 01:30 happens twice; the first is
    # 01:30 EDT = 05:30 UTC.
    at = utc(2026, 11, 1, 4)  # 00:00 EDT
    assert next_opening(at, NEW_YORK, time(1, 30), time(21)) == utc(2026, 11, 1, 5, 30)


def test_an_overnight_window():
    window = (time(20), time(2))
    # 03:00 in Paris (CEST) waits for 20:00 the same day = 18:00 UTC
    assert next_opening(utc(2026, 6, 2, 1), PARIS, *window) == utc(2026, 6, 2, 18)
    assert next_opening(utc(2026, 6, 2, 22), PARIS, *window) is None  # midnight in Paris


def test_between_the_two_passes_of_a_repeated_start_the_second_one_opens():
    # Window 01:30-21:00 in New York on 1 November 2026: at 01:05 EST (06:05 UTC), after the
    # first 01:30 has passed, the window opens at the second 01:30 (EST, 06:30 UTC), not the
    # next day.
    at = utc(2026, 11, 1, 6, 5)
    assert next_opening(at, NEW_YORK, time(1, 30), time(21)) == utc(2026, 11, 1, 6, 30)
