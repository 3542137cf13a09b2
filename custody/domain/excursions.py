"""A shipper's temperature logger: reading its CSV, and finding excursions and gaps in it.

A dry shipper must keep the product at or below its storage limit (e.g. −150 °C) for the whole
trip. The logger's record is the evidence: every reading above the limit belongs to an
excursion, and a stretch with no readings at all is a gap, where nobody can say what happened.
QA needs both, so both are reported; neither is hidden by the other.

Pure Python: no Flask, no database. The service stores what `parse_logger_csv` returns.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from custody.domain.errors import ValidationFailed

HEADER = ("timestamp", "temperature_c")
DEFAULT_GAP = timedelta(minutes=30)
# A logger at one reading a minute over a ten-day trip writes about 14,400 lines.
MAX_READINGS = 100_000
# Physically possible for a shipper: above absolute zero, below boiling water.
MIN_C, MAX_C = -273.15, 100.0
# How many bad lines an error lists in its details (the message names the first).
MAX_REPORTED = 20


@dataclass(frozen=True, order=True)
class Reading:
    recorded_at: datetime
    temperature_c: float


@dataclass(frozen=True)
class Excursion:
    """Readings above the limit, from the first one until the log shows the limit kept again.

    `end` is the first reading back at or below the limit: until then the product was not
    known to be cold enough. If the log ends above the limit, `end` is the last reading and
    `ongoing` is true.
    """

    start: datetime
    end: datetime
    peak_c: float
    readings: int
    ongoing: bool

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Gap:
    """Two consecutive readings further apart than the logger's expected interval allows."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def parse_logger_csv(text: str) -> list[Reading]:
    """Readings from a logger CSV (`timestamp,temperature_c`), sorted by time.

    Every line must be good or nothing is accepted: a partial record would look complete.
    Timestamps are ISO 8601 with an offset or `Z` (a naive time could be any time zone);
    temperatures are numbers in °C. Lines may come in any order; two readings at the same
    instant are refused, since the logger cannot have measured twice at once.
    """
    rows = _rows(text)
    readings: list[Reading] = []
    problems: list[tuple[int, str]] = []
    seen: dict[datetime, int] = {}
    for line, row in rows:
        try:
            reading = _reading(row)
        except ValueError as bad:
            problems.append((line, str(bad)))
            continue
        if reading.recorded_at in seen:
            first = seen[reading.recorded_at]
            problems.append((line, f"a second reading at {row[0].strip()} (see line {first})"))
            continue
        seen[reading.recorded_at] = line
        readings.append(reading)
    if problems:
        raise _bad_lines(problems)
    return sorted(readings)


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank data line, after checking the header."""
    lines = text.lstrip("\ufeff").splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise ValidationFailed(
            "The logger file is empty. Export the logger's readings as CSV with the header "
            "'timestamp,temperature_c' and import that file.",
            rule="empty file",
        )
    (header_line, header), *data = numbered
    if tuple(f.strip().lower() for f in header.split(",")) != HEADER:
        raise ValidationFailed(
            f"Line {header_line} must be the header 'timestamp,temperature_c', "
            f"not '{header[:80]}'. Export the logger's readings in that format.",
            line=header_line,
        )
    if not data:
        raise ValidationFailed(
            "The logger file has a header but no readings: nothing to import.",
            rule="no readings",
        )
    if len(data) > MAX_READINGS:
        raise ValidationFailed(
            f"The logger file has {len(data)} readings; at most {MAX_READINGS} are accepted. "
            "Check that this is one shipment's log.",
            readings=len(data),
        )
    return [(n, next(csv.reader(io.StringIO(line)))) for n, line in data]


def _reading(row: list[str]) -> Reading:
    if len(row) != 2:
        raise ValueError(f"{len(row)} fields instead of 2 (timestamp,temperature_c)")
    return Reading(_timestamp(row[0].strip()), _temperature(row[1].strip()))


def _timestamp(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"'{raw[:40]}' is not an ISO 8601 timestamp (e.g. 2025-03-01T08:00:00Z)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"'{raw[:40]}' has no time zone: add 'Z' or an offset such as +01:00, "
            "so the reading can be placed in time"
        )
    return value.astimezone(UTC)


def _temperature(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"temperature '{raw[:40]}' is not a number") from None
    if not math.isfinite(value) or not MIN_C <= value <= MAX_C:
        raise ValueError(f"temperature {raw[:40]} °C is not a possible reading")
    return value


def _bad_lines(problems: list[tuple[int, str]]) -> ValidationFailed:
    line, words = problems[0]
    more = len(problems) - 1
    also = f" ({more} more bad line{'s' if more > 1 else ''}: see details)" if more else ""
    return ValidationFailed(
        f"Line {line} of the logger file is not valid: {words}{also}. Nothing was imported; "
        "correct the file and import it again.",
        line=line,
        lines=[{"line": n, "problem": p} for n, p in problems[:MAX_REPORTED]],
        bad_lines=len(problems),
    )


def find_excursions(readings: Iterable[Reading], limit_c: float) -> list[Excursion]:
    """Every interval in which the log shows the product warmer than `limit_c`."""
    found: list[Excursion] = []
    run: list[Reading] = []
    for reading in sorted(readings):
        if reading.temperature_c > limit_c:
            run.append(reading)
            continue
        if run:
            found.append(_excursion(run, end=reading.recorded_at, ongoing=False))
            run = []
    if run:
        found.append(_excursion(run, end=run[-1].recorded_at, ongoing=True))
    return found


def _excursion(run: Sequence[Reading], end: datetime, ongoing: bool) -> Excursion:
    return Excursion(
        start=run[0].recorded_at,
        end=end,
        peak_c=max(r.temperature_c for r in run),
        readings=len(run),
        ongoing=ongoing,
    )


def find_gaps(readings: Iterable[Reading], longest: timedelta = DEFAULT_GAP) -> list[Gap]:
    """Every stretch between consecutive readings longer than `longest`."""
    times = sorted(r.recorded_at for r in readings)
    return [Gap(a, b) for a, b in pairwise(times) if b - a > longest]
