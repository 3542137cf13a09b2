"""ISBT 128 data structures: the shared machinery, then the DIN, the Product Code and the dates.

Source: ICCBBA ST-001 v6.2.2 section 2.4 (one subsection per data structure, cited below); the
smaller structures and the table of all of them are in `isbt128_other_structures`.
Every decoder gets the structure's data content (after its data identifier) and the number of
characters before it in the scan, so errors name positions in what was actually scanned.
Import the public names from `custody.domain.isbt128`, not from here.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn

from custody.domain.errors import InvalidBarcode
from custody.domain.isbt128_checks import (
    ALPHABET,
    DIGITS,
    DIN_SEGMENTS,
    FLAG_SEGMENT,
    LOWER,
    UPPER,
    Segment,
    check_segments,
    check_value,
)
from custody.domain.isbt128_tables import (
    COLLECTION_TYPES,
    CONTAINER_FLAGS,
    FLAG_MEANINGS,
    PRODUCT_CATEGORIES,
)

SCAN_WHERE = "position {n} of the scan"
DIN_FIX_SCAN = (
    "Rescan the bag's DIN barcode. If it still fails, type the DIN and the boxed check "
    "character printed beside it."
)
ALNUM_UPPER = UPPER + DIGITS


@dataclass(frozen=True)
class Structure:
    """One ISBT 128 data structure read from a scan; `fields` holds JSON-friendly values."""

    name: str
    data_identifier: str
    raw: str
    fields: dict[str, Any] = field(default_factory=dict, hash=False)
    position: int = 1  # 1-based position of its first character in the scanned text

    def to_dict(self) -> dict[str, Any]:
        """Flat, JSON-serialisable view for the API and the audit trail."""
        return {
            "structure": self.name,
            "data_identifier": self.data_identifier,
            "data": self.raw,
            "position": self.position,
            **self.fields,
        }


@dataclass(frozen=True)
class Reading:
    """Where a structure's content sits in the scanned text, and how to word errors about it."""

    offset: int = 0  # characters before the content in the scanned text
    where: str = SCAN_WHERE  # "{n}" is a 1-based position, "{label}" the structure's label
    fix: str | None = None  # what the person should do; default: the structure's own advice

    def place(self, index: int, spec: Spec) -> str:
        """Words for the content's character `index` (0-based), e.g. "position 17 of the scan"."""
        return self.where.format(n=self.offset + index + 1, label=spec.label)


Decoder = Callable[[str, Reading], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """How to read one structure: its content length after the 2-character data identifier."""

    name: str
    label: str  # plain words, as in "the product code barcode"
    length: int  # fixed content length, or the length of the fixed head of a variable structure
    decode: Decoder
    variable: bool = False  # the content says its own length (Patient ID, ST-001 2.4.25)
    advice: str | None = None

    @property
    def fix(self) -> str:
        """What the person should do when this structure does not read."""
        return self.advice or f"Rescan the {self.label}."


def cut(
    spec: Spec, content: str, reading: Reading, segments: tuple[Segment, ...]
) -> dict[str, str]:
    """Check `content` character by character against `segments`, worded for this reading."""
    return check_segments(
        content,
        segments,
        label=spec.label,
        fix=reading.fix or spec.fix,
        where=reading.where,
        offset=reading.offset,
    )


def rule_broken(
    spec: Spec, reading: Reading, message: str, index: int, rule: str, **details: Any
) -> NoReturn:
    """Raise for a rule about a whole field (not one bad character); `index` is 0-based."""
    raise InvalidBarcode(
        f"The {spec.label} is not valid: {message}. {reading.fix or spec.fix}",
        position=reading.offset + index + 1,
        rule=rule,
        **details,
    )


# --- Donation Identification Number [001], ST-001 2.4.1 and Table 3 ------------------------------


def flag_kind(flags: str) -> tuple[str, str]:
    """Which of the Table 3 [RT004] flag types the two flag characters are, and what they mean."""
    if flags == "00":
        return "unused", FLAG_MEANINGS[flags]
    if flags in CONTAINER_FLAGS:
        return "container", FLAG_MEANINGS[flags]
    if flags in FLAG_MEANINGS:  # 05-13: Type 1 process control, defined by ICCBBA
        return "process_control", FLAG_MEANINGS[flags]
    if all(char in DIGITS for char in flags):
        value = int(flags)
        if 20 <= value <= 59:
            return "local", "Type 2 flag, defined by the facility that assigned the DIN"
        if 60 <= value <= 96:
            return "check", "Type 3 flag: MOD 37-2 check of the DIN"
    return "reserved", "reserved by ICCBBA for future assignment"


def decode_din(content: str, reading: Reading) -> dict[str, Any]:
    """=<alpha>ppppyynnnnnnff: 13-character DIN plus 2 flag characters (ST-001 2.4.1)."""
    cut(DIN_SPEC, content, reading, (*DIN_SEGMENTS, FLAG_SEGMENT))
    din, flags = content[:13], content[13:]
    kind, meaning = flag_kind(flags)
    value = check_value(din)
    if kind == "check" and int(flags) != 60 + value:
        # Table 3: Type 3 flags are 60 + the check value; a mismatch means a damaged or bad label.
        rule_broken(
            DIN_SPEC,
            reading,
            f"its flag characters {flags} ({reading.place(13, DIN_SPEC)} and the next) are a "
            f"check of the DIN but do not match DIN {din}, so the barcode is damaged, misread or "
            f"misprinted",
            13,
            "Type 3 flags = 60 + MOD 37-2 check value",
            din=din,
            flags=flags,
        )
    return {
        "din": din,
        "fin": din[:5],
        "year": int(din[5:7]),
        "sequence": din[7:],
        "flags": flags,
        "flag_kind": kind,
        "flag_meaning": meaning,
        "container": CONTAINER_FLAGS.get(flags),
        "check_character": ALPHABET[value],
        "eye_readable": f"{din[:5]} {din[5:7]} {din[7:]}",
    }


# --- Product Code [003], ST-001 2.4.3 ------------------------------------------------------------

# Where t is a type of collection it must be one of ST-001 Table 7 [RT008].
_T: Segment = (
    "t",
    1,
    "".join(COLLECTION_TYPES),
    "the 6th character (type of collection) must be one of the types of collection in "
    "ISBT 128 Table 7",
)
# For national and local codes (A to D) the facility or nation defines tds (ST-001 2.4.3).
_T_LOCAL: Segment = (
    "t",
    1,
    UPPER + LOWER + DIGITS,
    "the 6th character must be a letter or digit",
)
_D: Segment = (
    "d",
    1,
    ALNUM_UPPER,
    "the 7th character (division) must be a capital letter or digit",
)
_S: Segment = (
    "s",
    1,
    LOWER + DIGITS,
    "the 8th character (division) must be a lower-case letter or digit",
)
_TDS_DIGITS: Segment = (
    "tds",
    3,
    DIGITS,
    "characters 6 to 8 (division code) must be digits for this kind of product",
)
_TDS_ZERO: Segment = ("tds", 3, "0", "characters 6 to 8 must be 000 for this kind of product")
_PDC_HEAD: tuple[Segment, ...] = (
    ("alpha", 1, UPPER, "a product code starts with a capital letter"),
    (
        "oooo",
        4,
        ALNUM_UPPER,
        "characters 2 to 5 of a product code must be capital letters or digits",
    ),
)
_TRIAL_HEAD: tuple[Segment, ...] = (
    ("alpha", 1, "Y", "a clinical-trial product code starts with Y"),
    (
        "trial_letter",
        1,
        UPPER,
        "a clinical-trial product code is YA000 to YZ999 (Y, a letter, 3 digits)",
    ),
    (
        "trial_number",
        3,
        DIGITS,
        "a clinical-trial product code is YA000 to YZ999 (Y, a letter, 3 digits)",
    ),
)
# Categories whose divisions may continue in a Product Divisions barcode (ST-001 2.4.32 note).
_DIVISIONS_CATEGORIES = ("cellular therapy", "regenerated tissue", "clinical trial")


def _product_category(code: str) -> str:
    alpha, pdc_tail = code[0], code[1:5]
    category = PRODUCT_CATEGORIES[alpha]
    if alpha == "X":
        category = {"0": "plasma derivative", "5": "in vivo diagnostic MPHO"}.get(code[1], category)
    if alpha in "ABCD" and all(char in DIGITS for char in pdc_tail):
        category = "national or local"  # A0000 to D9999: either (ST-001 2.4.3)
    return category


def decode_product_code(content: str, reading: Reading) -> dict[str, Any]:
    """Content <alpha>ooootds after "=<"; what tds means depends on <alpha> (ST-001 2.4.3)."""
    cut(PRODUCT_SPEC, content, reading, _PDC_HEAD)
    alpha = content[0]
    if alpha not in PRODUCT_CATEGORIES:
        rule_broken(
            PRODUCT_SPEC,
            reading,
            f"it starts with the letter {alpha} ({reading.place(0, PRODUCT_SPEC)}), which is not "
            f"an ISBT 128 product category",
            0,
            "product category letter",
            character=alpha,
        )
    head = _TRIAL_HEAD if alpha == "Y" else _PDC_HEAD
    collection_type: str | None = None
    if alpha in "MNRTVW":
        tail: tuple[Segment, ...] = (_TDS_DIGITS,)
    elif alpha == "X" and content[1] != "0":
        tail = (_TDS_ZERO,)
    else:  # E, F, H, S, P, X0, YA-YZ, and national or local codes A-D
        tail = (_T_LOCAL if alpha in "ABCD" else _T, _D, _S)
        collection_type = content[5]
    cut(PRODUCT_SPEC, content, reading, (*head, *tail))
    category = _product_category(content)
    division = content[6:] if collection_type is not None else content[5:]
    return {
        "product_code": content,
        "product_description_code": content[:5],
        "category": category,
        "collection_type": collection_type,
        "collection_type_meaning": (
            COLLECTION_TYPES.get(collection_type or "") if alpha not in "ABCD" else None
        ),
        "division": division,
        # ST-001 2.4.32: "99" in positions 7-8 means the Product Divisions barcode must be scanned.
        "divisions_required": division == "99" and category in _DIVISIONS_CATEGORIES,
    }


# --- Dates and times [004]-[009], ST-001 2.4.4 to 2.4.9 ------------------------------------------


def date_spec(name: str, label: str, with_time: bool) -> Spec:
    """cyyjjj or cyyjjjhhmm; a date without a time means 23:59 (ST-001 2.4.5)."""
    segments: tuple[Segment, ...] = (
        ("c", 1, DIGITS, "the century must be a digit"),
        ("yy", 2, DIGITS, "the year must be 2 digits"),
        ("jjj", 3, DIGITS, "the day of the year must be 3 digits"),
    )
    if with_time:
        segments += (
            ("hh", 2, DIGITS, "the hour must be 2 digits"),
            ("mm", 2, DIGITS, "the minute must be 2 digits"),
        )

    def decode(content: str, reading: Reading) -> dict[str, Any]:
        parts = cut(spec, content, reading, segments)
        if parts["c"] != "0":
            # c = 0 for 2000-2099 (ST-001 Appendix C label: 0180292359 is 29 JAN 2018 23:59).
            rule_broken(
                spec,
                reading,
                f"the century digit ({reading.place(0, spec)}) is {parts['c']}, but this system "
                f"reads dates in the years 2000 to 2099 only (century digit 0)",
                0,
                "century digit 0",
            )
        year = 2000 + int(parts["yy"])
        days = 366 if calendar.isleap(year) else 365
        day_of_year = int(parts["jjj"])
        if not 1 <= day_of_year <= days:
            rule_broken(
                spec,
                reading,
                f"the day of the year ({reading.place(3, spec)} and the next 2) is "
                f"{parts['jjj']}, but days in {year} are numbered 001 to {days}",
                3,
                f"day of year 001-{days}",
            )
        hour, minute = (int(parts["hh"]), int(parts["mm"])) if with_time else (23, 59)
        if hour > 23:
            rule_broken(
                spec,
                reading,
                f"the hour ({reading.place(6, spec)} and the next) is {hour:02d}, but hours run "
                f"00 to 23",
                6,
                "hour 00-23",
            )
        if minute > 59:
            rule_broken(
                spec,
                reading,
                f"the minute ({reading.place(8, spec)} and the next) is {minute:02d}, but "
                f"minutes run 00 to 59",
                8,
                "minute 00-59",
            )
        day = date.fromordinal(date(year, 1, 1).toordinal() + day_of_year - 1)
        return {
            "date": day.isoformat(),
            "time": f"{hour:02d}:{minute:02d}",
            "iso": f"{day.isoformat()}T{hour:02d}:{minute:02d}",
            "time_given": with_time,
        }

    spec = Spec(name, label, 10 if with_time else 6, decode)
    return spec


DIN_SPEC = Spec(
    "donation_identification_number", "DIN barcode", 15, decode_din, advice=DIN_FIX_SCAN
)
PRODUCT_SPEC = Spec("product_code", "product code barcode", 8, decode_product_code)
EXPIRY_DATE_SPEC = date_spec("expiration_date", "expiry date barcode", False)
EXPIRY_SPEC = date_spec("expiration_date_time", "expiry date and time barcode", True)
COLLECTION_DATE_SPEC = date_spec("collection_date", "collection date barcode", False)
COLLECTION_SPEC = date_spec("collection_date_time", "collection date and time barcode", True)
PRODUCTION_DATE_SPEC = date_spec("production_date", "production date barcode", False)
PRODUCTION_SPEC = date_spec("production_date_time", "production date and time barcode", True)
