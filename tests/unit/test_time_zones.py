"""The site's clock: a zone by its IANA name, and a moment as people on the ward read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from custody.domain.errors import ValidationFailed
from custody.domain.time_zones import MOMENT_FORMAT, local_time, zone_named

CHICAGO = ZoneInfo("America/Chicago")


def test_a_zone_is_found_by_its_iana_name():
    assert zone_named("Europe/London") == ZoneInfo("Europe/London")


@pytest.mark.parametrize("name", ["Mars/Base", "", "../etc/passwd", "Europe/"])
def test_a_name_no_zone_has_is_refused_in_words(name):
    with pytest.raises(ValidationFailed) as refused:
        zone_named(name)
    assert refused.value.message == (
        f"{name!r} is not a known time zone: use an IANA name such as 'Europe/London'."
    )
    assert refused.value.details == {"field": "timezone"}


def test_a_moment_reads_as_local_date_and_24_hour_time_with_the_zones_abbreviation():
    moment = datetime(2026, 3, 14, 14, 30, 45, tzinfo=UTC)
    assert local_time(moment, CHICAGO) == "2026-03-14 09:30 CDT"  # summer time since 8 March
    assert local_time(moment, ZoneInfo("Europe/London")) == "2026-03-14 14:30 GMT"
    assert local_time(moment, CHICAGO, seconds=True) == "2026-03-14 09:30:45 CDT"


def test_the_local_date_is_the_zones_own_across_midnight():
    moment = datetime(2026, 1, 1, 3, 5, tzinfo=UTC)
    assert local_time(moment, CHICAGO) == "2025-12-31 21:05 CST"


def test_a_naive_moment_is_read_as_utc():
    assert local_time(datetime(2026, 1, 1, 3, 5), CHICAGO) == "2025-12-31 21:05 CST"


def test_a_moment_in_another_offset_is_converted_not_relabelled():
    moment = datetime(2026, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert local_time(moment, CHICAGO) == "2026-07-01 05:00 CDT"


def test_no_moment_reads_not_recorded():
    assert local_time(None, CHICAGO) == "Not recorded"
    assert local_time(None, CHICAGO, seconds=True) == "Not recorded"


def test_the_typed_moment_format_says_all_three_forms():
    assert MOMENT_FORMAT == "YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS"
