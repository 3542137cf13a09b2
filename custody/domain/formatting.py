"""How the tracker writes numbers and moments for people: one function per thing, used alike by
pages, PDFs and labels, so a cell count or an expiry reads the same on every sheet and screen.

- Powers of ten are written with real superscript characters (1.86 × 10⁹), never as e-notation
  (6.4e+08) nor with a caret (10^9): a caret is a typist's stand-in, and a raised "9" drawn as
  a smaller ordinary digit is read back from the PDF as "109". The one exception is a printer
  whose resident font has no superscripts (ZPL font 0): `caret_powers` rewrites for it.
- A moment is shown in the site's local time with its zone's abbreviation; UTC is written with
  the word "UTC", never as a bare time, wherever a record crosses zones or a reader asks.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "caret_powers",
    "cell_count",
    "exact_number",
    "local_time",
    "power_of_ten",
    "utc_time",
]

TIMES = "×"  # U+00D7 MULTIPLICATION SIGN
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_PLAIN = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_RAISED_POWER = re.compile("10([⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
# Below this a count is written out in full ("999"); from it on, as a power of ten.
SCIENTIFIC_FROM = 1000
CELL_DIGITS = 3  # significant figures of a counted number of cells


# --- numbers -------------------------------------------------------------------------------------


def power_of_ten(exponent: int) -> str:
    """Ten to a whole power, with the exponent raised: 10⁹, 10⁻⁴."""
    return "10" + str(exponent).translate(_SUPERSCRIPT)


def cell_count(value: float, beside: float | None = None) -> str:
    """A count of cells to three significant figures: 1.86 × 10⁹, 6.40 × 10⁸, 999, 0.

    `beside` is a limit or target printed next to the count: when three figures would make the
    count read as that number while it is not (2.0000001 × 10⁵ beside a limit of 2 × 10⁵), more
    figures are given, so a count just over a limit never prints as the limit.
    """
    _require_finite(value)
    for digits in range(CELL_DIGITS, 18):
        shown = float(f"{value:.{digits - 1}e}")
        if beside is None or shown != beside or shown == value:
            return _significant(value, digits)
    return exact_number(value)


def exact_number(value: float | None) -> str:
    """A number as a specification or a result states it, never rounded: 70, 0.5, 2 × 10⁵.

    Large and small numbers take a power of ten; the mantissa keeps exactly the digits the value
    needs to read back as itself, so a result just under a limit never prints as the limit.
    """
    if value is None:
        return ""
    _require_finite(value)
    if value and (abs(value) >= 1e5 or abs(value) < 1e-3):
        text = next(t for digits in range(1, 17) if float(t := f"{value:.{digits}e}") == value)
        mantissa, exponent = text.split("e")
        return _scientific(mantissa.rstrip("0").rstrip("."), int(exponent))
    return repr(float(value)).removesuffix(".0")


def caret_powers(text: str) -> str:
    """The same words for a printer whose font has no superscript digits: 10⁹ becomes 10^9.

    Zebra's resident font 0 prints Latin-1 (so "×" stays) but not U+2070–U+207B; a "^" is the
    form such labels have always used, and nothing else in the text changes.
    """
    return _RAISED_POWER.sub(lambda m: "10^" + m.group(1).translate(_PLAIN), text)


def _significant(value: float, digits: int) -> str:
    """`value` to `digits` significant figures, trailing zeros kept (they are significant)."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    rounded = float(f"{mantissa}e{exponent}")
    if rounded == 0 or 1e-3 <= abs(rounded) < SCIENTIFIC_FROM:
        return f"{rounded:.{digits}g}"
    return _scientific(mantissa, int(exponent))


def _scientific(mantissa: str, exponent: int) -> str:
    return f"{mantissa} {TIMES} {power_of_ten(exponent)}"


def _require_finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a number that can be shown: check where it came from.")


# --- moments -------------------------------------------------------------------------------------


def local_time(moment: datetime | None, zone: ZoneInfo, seconds: bool = False) -> str:
    """Local date and 24-hour time with the zone's abbreviation: '2026-03-14 09:30 CDT'.

    A naive moment is UTC, as the database stores it."""
    if moment is None:
        return "Not recorded"
    local = _aware(moment).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {local.tzname()}"


def utc_time(moment: datetime | None, seconds: bool = False) -> str:
    """The same moment in UTC, labelled so: '2026-03-14 14:30 UTC'."""
    if moment is None:
        return "Not recorded"
    return f"{_aware(moment).astimezone(UTC):%Y-%m-%d %H:%M{':%S' if seconds else ''}} UTC"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
