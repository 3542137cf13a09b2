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


# --- exactly what a refusal says ------------------------------------------------------------------

NOTHING_IMPORTED = "Nothing was imported; correct the file and import it again."


def _refused(text: str) -> tuple[str, dict]:
    with pytest.raises(ValidationFailed) as refused:
        parse_logger_csv(text)
    return refused.value.message, refused.value.details


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "2025-03-01T08:10:00,-180",
            "'2025-03-01T08:10:00' has no time zone: add 'Z' or an offset such as +01:00, so the "
            "reading can be placed in time",
        ),
        ("2025-03-01T08:10:00Z,cold", "temperature 'cold' is not a number"),
        ("2025-03-01T08:10:00Z,inf", "temperature inf °C is not a possible reading"),
        ("2025-03-01T08:10:00Z,100.01", "temperature 100.01 °C is not a possible reading"),
        ("2025-03-01T08:10:00Z,-273.16", "temperature -273.16 °C is not a possible reading"),
        (
            "yesterday,-180",
            "'yesterday' is not an ISO 8601 timestamp (e.g. 2025-03-01T08:00:00Z)",
        ),
        (
            # Long values are quoted to their first 40 characters.
            "2025-03-01T08:10:00Z/" + "x" * 50 + ",-180",
            "'2025-03-01T08:10:00Z/xxxxxxxxxxxxxxxxxxx' is not an ISO 8601 timestamp (e.g. "
            "2025-03-01T08:00:00Z)",
        ),
        (
            "2025-03-01T08:10:00Z," + "9" * 50,
            "temperature 9999999999999999999999999999999999999999 °C is not a possible reading",
        ),
        (
            "2025-03-01T08:10:00Z,cold" + "d" * 50,
            "temperature 'colddddddddddddddddddddddddddddddddddddd' is not a number",
        ),
        ("2025-03-01T08:10:00Z,-180,extra", "3 fields instead of 2 (timestamp,temperature_c)"),
        (
            "2025-03-01T09:00:00+01:00,-170",
            "a second reading at 2025-03-01T09:00:00+01:00 (see line 2)",
        ),
    ],
)
def test_a_bad_line_is_refused_in_these_words(line, problem):
    message, details = _refused(_csv("2025-03-01T08:00:00Z,-180", line))
    assert message == f"Line 3 of the logger file is not valid: {problem}. {NOTHING_IMPORTED}"
    assert details == {"line": 3, "lines": [{"line": 3, "problem": problem}], "bad_lines": 1}


@pytest.mark.parametrize("celsius", ["-273.15", "100", "100.0", "-150"])
def test_the_edges_of_a_possible_reading_are_accepted(celsius):
    assert parse_logger_csv(_csv(f"2025-03-01T08:00:00Z,{celsius}")) == [
        Reading(T0, float(celsius))
    ]


def test_after_a_duplicate_every_later_line_is_still_checked():
    message, details = _refused(
        _csv(
            "2025-03-01T08:00:00Z,-180",
            "2025-03-01T08:00:00Z,-181",
            "2025-03-01T08:10:00Z,warm",
            "2025-03-01T08:20:00Z,-182",
            "2025-03-01T08:20:00Z,-183",
        )
    )
    assert message == (
        "Line 3 of the logger file is not valid: a second reading at 2025-03-01T08:00:00Z (see "
        f"line 2) (2 more bad lines: see details). {NOTHING_IMPORTED}"
    )
    assert details["lines"] == [
        {"line": 3, "problem": "a second reading at 2025-03-01T08:00:00Z (see line 2)"},
        {"line": 4, "problem": "temperature 'warm' is not a number"},
        {"line": 6, "problem": "a second reading at 2025-03-01T08:20:00Z (see line 5)"},
    ]
    assert details["bad_lines"] == 3


def test_one_more_bad_line_is_singular():
    message, details = _refused(_csv("x,1", "y,2"))
    assert "(1 more bad line: see details)." in message
    assert details["bad_lines"] == 2


def test_at_most_twenty_bad_lines_are_listed_but_all_are_counted():
    message, details = _refused(_csv(*[f"bad{n},1" for n in range(25)]))
    assert "(24 more bad lines: see details)" in message
    assert [entry["line"] for entry in details["lines"]] == list(range(2, 22))
    assert details["bad_lines"] == 25


@pytest.mark.parametrize(
    ("text", "message", "details"),
    [
        (
            "",
            "The logger file is empty. Export the logger's readings as CSV with the header "
            "'timestamp,temperature_c' and import that file.",
            {"rule": "empty file"},
        ),
        (
            "\n\ntimestamp,temperature_c\n  \n",
            "The logger file has a header but no readings: nothing to import.",
            {"rule": "no readings"},
        ),
        (
            "Xtimestamp,temperature_c\n2025-03-01T08:00:00Z,-180\n",
            "Line 1 must be the header 'timestamp,temperature_c', not 'Xtimestamp,temperature_c'. "
            "Export the logger's readings in that format.",
            {"line": 1},
        ),
        (
            "\n" + "h" * 100 + "\n2025-03-01T08:00:00Z,-180\n",
            "Line 2 must be the header 'timestamp,temperature_c', not '" + "h" * 80 + "'. "
            "Export the logger's readings in that format.",
            {"line": 2},
        ),
    ],
)
def test_a_file_that_is_not_a_log_is_refused_in_these_words(text, message, details):
    assert _refused(text) == (message, details)


def test_the_number_of_readings_is_limited(monkeypatch):
    from custody.domain import excursions

    assert excursions.MAX_READINGS == 100_000  # ten days at one a minute is about 14,400
    monkeypatch.setattr(excursions, "MAX_READINGS", 3)
    lines = [f"2025-03-01T08:0{n}:00Z,-180" for n in range(4)]
    assert len(parse_logger_csv(_csv(*lines[:3]))) == 3  # exactly the limit
    assert _refused(_csv(*lines)) == (
        "The logger file has 4 readings; at most 3 are accepted. Check that this is one "
        "shipment's log.",
        {"readings": 4},
    )


def test_readings_are_kept_in_utc_whatever_the_servers_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "EST5EDT")  # POSIX rule: no zone database needed
    time.tzset()
    try:
        (reading,) = parse_logger_csv(_csv("2025-03-01T09:00:00+01:00,-180"))
        assert reading.recorded_at.tzinfo is UTC
        assert reading.recorded_at.isoformat() == "2025-03-01T08:00:00+00:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_excursion_that_ends_is_not_ongoing_and_one_that_lasts_ends_at_the_last_reading():
    log = _log(-140, -160, -120, -110, -100)
    first, last = find_excursions(log, limit_c=-150)
    assert first.ongoing is False and first.readings == 1
    assert last.ongoing is True and last.readings == 3
    assert (last.start, last.end, last.peak_c) == (
        T0 + timedelta(minutes=20),
        T0 + timedelta(minutes=40),
        -100,
    )
    assert last.duration == timedelta(minutes=20)


def test_excursions_and_gaps_are_found_in_unsorted_readings():
    log = list(reversed(_log(-180, -140, -180, every=40)))
    (excursion,) = find_excursions(log, limit_c=-150)
    assert (excursion.start, excursion.end) == (
        T0 + timedelta(minutes=40),
        T0 + timedelta(minutes=80),
    )
    assert [(g.start, g.end) for g in find_gaps(log)] == [
        (T0, T0 + timedelta(minutes=40)),
        (T0 + timedelta(minutes=40), T0 + timedelta(minutes=80)),
    ]
