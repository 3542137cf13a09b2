"""Moments as every page, PDF and label writes them: site local time with its zone's
abbreviation, and UTC only ever with the word "UTC" beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from custody.domain.formatting import local_time, utc_time

CHICAGO = ZoneInfo("America/Chicago")
LONDON = ZoneInfo("Europe/London")
PLUS_TWO = timezone(timedelta(hours=2))  # converted, not relabelled
EXPIRY = datetime(2028, 9, 16, 1, 12, tzinfo=UTC)  # the label in issue 18's example


@pytest.mark.parametrize(
    ("moment", "zone", "words"),
    [
        (EXPIRY, CHICAGO, "2028-09-15 20:12 CDT"),  # the site's date, not UTC's
        (datetime(2026, 3, 8, 7, 59, tzinfo=UTC), CHICAGO, "2026-03-08 01:59 CST"),
        (datetime(2026, 3, 8, 8, 0, tzinfo=UTC), CHICAGO, "2026-03-08 03:00 CDT"),  # DST starts
        (datetime(2026, 3, 14, 14, 30, tzinfo=UTC), LONDON, "2026-03-14 14:30 GMT"),
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), LONDON, "2026-07-01 13:00 BST"),
        (datetime(2026, 1, 5, 12, 0), ZoneInfo("Asia/Tokyo"), "2026-01-05 21:00 JST"),  # naive
        (datetime(2026, 7, 1, 12, 0, tzinfo=PLUS_TWO), CHICAGO, "2026-07-01 05:00 CDT"),
        (None, CHICAGO, "Not recorded"),
    ],
)
def test_a_moment_is_the_sites_local_time_with_its_zone(moment, zone, words):
    assert local_time(moment, zone) == words


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        (EXPIRY, "2028-09-16 01:12 UTC"),
        (datetime(2028, 9, 15, 20, 12, tzinfo=CHICAGO), "2028-09-16 01:12 UTC"),  # converted
        (datetime(2026, 1, 5, 12, 0), "2026-01-05 12:00 UTC"),  # naive is UTC, as stored
        (None, "Not recorded"),
    ],
)
def test_utc_is_always_labelled_utc(moment, words):
    assert utc_time(moment) == words


def test_seconds_are_shown_when_asked_for():
    moment = datetime(2026, 3, 14, 14, 30, 45, tzinfo=UTC)
    assert local_time(moment, CHICAGO, seconds=True) == "2026-03-14 09:30:45 CDT"
    assert utc_time(moment, seconds=True) == "2026-03-14 14:30:45 UTC"


@pytest.fixture
def server_in_new_york(monkeypatch):
    """The server's own zone is not UTC: nothing may depend on it."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_naive_moment_is_utc_whatever_the_servers_own_zone(server_in_new_york):
    naive = datetime(2026, 3, 14, 14, 30)
    assert local_time(naive, ZoneInfo("America/Chicago")) == "2026-03-14 09:30 CDT"
    assert utc_time(naive) == "2026-03-14 14:30 UTC"
    # An aware moment in another zone is still written in UTC, not the server's zone.
    tokyo = datetime(2026, 3, 14, 23, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert utc_time(tokyo) == "2026-03-14 14:30 UTC"
