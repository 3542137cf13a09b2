"""The temperature logger's CSV, excursions above the storage limit, and gaps in the log."""

from datetime import UTC, datetime, timedelta

import pytest

from custody.domain.errors import ValidationFailed
from custody.domain.excursions import Reading, find_excursions, find_gaps, parse_logger_csv

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _csv(*lines: str) -> str:
    return "\n".join(["timestamp,temperature_c", *lines]) + "\n"


def _log(*celsius: float, every: int = 10) -> list[Reading]:
    """Readings `every` minutes apart from T0."""
    return [Reading(T0 + timedelta(minutes=every * i), c) for i, c in enumerate(celsius)]


def test_reads_z_and_offsets_as_utc_and_sorts_unsorted_lines():
    readings = parse_logger_csv(
        _csv("2025-03-01T09:30:00+01:00,-180.5", "2025-03-01T08:00:00Z,-182", "")
    )
    assert readings == [Reading(T0, -182.0), Reading(T0 + timedelta(minutes=30), -180.5)]
    assert all(r.recorded_at.utcoffset() == timedelta(0) for r in readings)


def test_accepts_a_byte_order_mark_windows_line_ends_and_a_spaced_header():
    text = "\ufeffTimestamp, temperature_C\r\n2025-03-01T08:00:00Z, -181\r\n"
    assert parse_logger_csv(text) == [Reading(T0, -181.0)]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("2025-03-01T08:10:00,-180", "no time zone"),
        ("2025-03-01T08:10:00Z,cold", "not a number"),
        ("2025-03-01T08:10:00Z,nan", "not a possible reading"),
        ("yesterday,-180", "not an ISO 8601 timestamp"),
        ("2025-03-01T08:10:00Z,-180,extra", "3 fields"),
        ("2025-03-01T09:00:00+01:00,-170", "second reading"),
    ],
)
def test_a_bad_line_is_refused_naming_its_line_number(line, words):
    with pytest.raises(ValidationFailed) as refused:
        parse_logger_csv(_csv("2025-03-01T08:00:00Z,-180", line))
    assert refused.value.message.startswith("Line 3 ")
    assert words in refused.value.message
    assert refused.value.details["line"] == 3


def test_every_bad_line_is_listed_in_the_details():
    with pytest.raises(ValidationFailed) as refused:
        parse_logger_csv(_csv("x,1", "2025-03-01T08:00:00Z,-180", "y,2"))
    assert [p["line"] for p in refused.value.details["lines"]] == [2, 4]
    assert "1 more bad line" in refused.value.message


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("   \n\n", "empty"), ("timestamp,temperature_c\n", "no readings")],
)
def test_an_empty_file_is_refused(text, words):
    with pytest.raises(ValidationFailed, match=words):
        parse_logger_csv(text)


def test_a_wrong_header_is_refused():
    with pytest.raises(ValidationFailed, match="header 'timestamp,temperature_c'"):
        parse_logger_csv("time,celsius\n2025-03-01T08:00:00Z,-180\n")


def test_readings_above_the_limit_form_one_excursion_until_back_within_the_limit():
    log = _log(-180, -149, -140, -145, -170, -185)
    (excursion,) = find_excursions(log, limit_c=-150)
    assert excursion.start == T0 + timedelta(minutes=10)
    assert excursion.end == T0 + timedelta(minutes=40)  # first reading back at -170
    assert excursion.duration == timedelta(minutes=30)
    assert excursion.peak_c == -140
    assert excursion.readings == 3
    assert not excursion.ongoing


def test_separate_excursions_and_one_that_lasts_to_the_end_of_the_log():
    log = _log(-140, -160, -160, -120, -100)
    first, last = find_excursions(log, limit_c=-150)
    assert (first.start, first.end, first.peak_c) == (T0, T0 + timedelta(minutes=10), -140)
    assert last.ongoing and last.peak_c == -100
    assert last.end == T0 + timedelta(minutes=40)


def test_a_reading_exactly_at_the_limit_is_not_an_excursion():
    assert find_excursions(_log(-150, -150.0, -190), limit_c=-150) == []


def test_gaps_longer_than_the_setting_are_reported():
    log = [*_log(-180, -180), Reading(T0 + timedelta(minutes=55), -180)]
    (gap,) = find_gaps(log, timedelta(minutes=30))
    assert (gap.start, gap.end, gap.duration) == (
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=55),
        timedelta(minutes=45),
    )
    assert find_gaps(log, timedelta(minutes=45)) == []
    assert find_gaps(_log(-180, -180, every=30)) == []  # exactly the default is not a gap
