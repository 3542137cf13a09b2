"""The smaller ISBT 128 data structures, and the table of every structure this system reads.

Source: ICCBBA ST-001 v6.2.2 section 2.4 (subsections cited below). The DIN, Product Code and
dates are in `isbt128_structures`. Import the public names from `custody.domain.isbt128`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from custody.domain.isbt128_checks import DIGITS, FIN_SEGMENTS, LOWER, UPPER, Segment
from custody.domain.isbt128_structures import (
    ALNUM_UPPER,
    COLLECTION_DATE_SPEC,
    COLLECTION_SPEC,
    DIN_SPEC,
    EXPIRY_DATE_SPEC,
    EXPIRY_SPEC,
    PRODUCT_SPEC,
    PRODUCTION_DATE_SPEC,
    PRODUCTION_SPEC,
    Reading,
    Spec,
    cut,
    rule_broken,
)
from custody.domain.isbt128_tables import BLOOD_GROUP_MESSAGES, BLOOD_GROUPS


def decode_divisions(content: str, reading: Reading) -> dict[str, Any]:
    """=,dddddd (ST-001 2.4.32)."""
    rule = "a product divisions code is 6 capital letters or digits"
    cut(DIVISIONS_SPEC, content, reading, (("d", 6, ALNUM_UPPER, rule),))
    return {"divisions": content}


def decode_staff_id(content: str, reading: Reading) -> dict[str, Any]:
    """='<alpha>ppppuuuuuu: FIN plus a 6-character staff number (ST-001 2.4.20)."""
    rule = "a staff number is 6 capital letters or digits"
    cut(STAFF_SPEC, content, reading, (*FIN_SEGMENTS, ("u", 6, ALNUM_UPPER, rule)))
    return {"staff_id": content, "fin": content[:5], "staff_number": content[5:]}


def decode_patient_id(content: str, reading: Reading) -> dict[str, Any]:
    """&#aallxx...xx: location code, length ll, then ll letters or digits (ST-001 2.4.25)."""
    rule = "a patient number has letters and digits only"
    tail: Segment = ("x", len(content) - 4, UPPER + LOWER + DIGITS, rule)
    cut(PATIENT_SPEC, content, reading, (*_PATIENT_HEAD, tail))
    return {"location_code": content[:2], "length": len(content) - 4, "patient_id": content[4:]}


_PATIENT_HEAD: tuple[Segment, ...] = (
    ("aa", 2, DIGITS, "the location code (2 characters after the identifier) must be digits"),
    ("ll", 2, DIGITS, "the length of the patient number (characters 3 and 4) must be digits"),
)


def patient_id_length(head: str, reading: Reading) -> int:
    """Content length of a Patient ID from its 4-character head `aall` (ST-001 2.4.25)."""
    cut(PATIENT_SPEC, head, reading, _PATIENT_HEAD)
    length = int(head[2:])
    if length == 0:
        rule_broken(
            PATIENT_SPEC,
            reading,
            f"its length field ({reading.place(2, PATIENT_SPEC)} and the next) is 00, so it "
            f"holds no patient number",
            2,
            "patient number length 01-99",
        )
    return 4 + length


def decode_date_of_birth(content: str, reading: Reading) -> dict[str, Any]:
    """=#aayyyymmdd (ST-001 2.4.24)."""
    rule = "a location code and a date of birth are digits"
    parts = cut(DOB_SPEC, content, reading, (("aa", 2, DIGITS, rule), ("d", 8, DIGITS, rule)))
    try:
        born = date(int(parts["d"][:4]), int(parts["d"][4:6]), int(parts["d"][6:]))
    except ValueError:
        rule_broken(
            DOB_SPEC,
            reading,
            f"{parts['d']} (from {reading.place(2, DOB_SPEC)}) is not a real date "
            f"(year, month, day)",
            2,
            "real date yyyymmdd",
        )
    return {"location_code": parts["aa"], "date_of_birth": born.isoformat()}


def decode_blood_group(content: str, reading: Reading) -> dict[str, Any]:
    """=%ggre (ST-001 2.4.2, Tables 4 and 5); groups outside the decoded rows keep their code."""
    segments: tuple[Segment, ...] = (
        ("gg", 2, UPPER + LOWER + DIGITS, "a blood group code is 2 letters or digits"),
        ("r", 1, ALNUM_UPPER, "the phenotype character must be a capital letter or digit"),
        ("e", 1, ALNUM_UPPER, "the last character must be a capital letter or digit"),
    )
    cut(BLOOD_GROUP_SPEC, content, reading, segments)
    group, use = BLOOD_GROUPS.get(content[:2], (None, None))
    return {
        "blood_group_code": content[:2],
        "abo_rh": group,
        "intended_use": use,
        "special_message": BLOOD_GROUP_MESSAGES.get(content[:2]),
        "phenotype_code": content[2],
    }


def decode_chain_of_identity(content: str, reading: Reading) -> dict[str, Any]:
    """&/CH<alpha>ppppyynnnnnn (ST-001 2.4.40, DS040): "CH", FIN, year, 6-character sequence."""
    literal = "a chain of identity identifier starts with the letters CH"
    segments: tuple[Segment, ...] = (
        ("c", 1, "C", literal),
        ("h", 1, "H", literal),
        *FIN_SEGMENTS,
        ("yy", 2, DIGITS, "the 2-digit year must be digits"),
        ("n", 6, ALNUM_UPPER, "the 6-character sequence must be capital letters or digits"),
    )
    cut(COI_SPEC, content, reading, segments)
    return {
        "coi": content,
        "fin": content[2:7],
        "year": int(content[7:9]),
        "sequence": content[9:],
    }


def decode_compound_header(content: str, reading: Reading) -> dict[str, Any]:
    """=+aabbb: aa structures follow; bbb 000 = undefined order, else RT017 (ST-001 2.4.23)."""
    segments: tuple[Segment, ...] = (
        ("aa", 2, DIGITS, "the number of structures (2 characters) must be digits"),
        ("bbb", 3, DIGITS, "the message reference (3 characters) must be digits"),
    )
    cut(COMPOUND_SPEC, content, reading, segments)
    count = int(content[:2])
    if count == 0:
        rule_broken(
            COMPOUND_SPEC, reading, "it announces 0 data structures", 0, "at least 1 structure"
        )
    return {
        "count": count,
        "reference": content[2:],
        # Ordered messages refer to ICCBBA table RT017, which this system does not hold.
        "sequence_defined": content[2:] != "000",
    }


DIVISIONS_SPEC = Spec("product_divisions", "product divisions barcode", 6, decode_divisions)
STAFF_SPEC = Spec("staff_id", "staff ID barcode", 11, decode_staff_id)
PATIENT_SPEC = Spec("patient_id", "patient ID barcode", 4, decode_patient_id, variable=True)
DOB_SPEC = Spec("patient_date_of_birth", "patient date of birth barcode", 10, decode_date_of_birth)
BLOOD_GROUP_SPEC = Spec("blood_group", "blood group barcode", 4, decode_blood_group)
COI_SPEC = Spec("chain_of_identity", "chain of identity barcode", 15, decode_chain_of_identity)
COMPOUND_SPEC = Spec(
    "compound_message",
    "2-D barcode",
    5,
    decode_compound_header,
    advice="Rescan the square 2-D barcode; if it still fails, scan the separate barcodes instead.",
)

# Data identifier -> how to read it (ST-001 Table 2 [RT003]). The DIN's identifier is "=" plus
# its own first character, so the parser recognises it apart; it is listed here under "=".
SPECS: dict[str, Spec] = {
    "=": DIN_SPEC,
    "=<": PRODUCT_SPEC,
    "=>": EXPIRY_DATE_SPEC,
    "&>": EXPIRY_SPEC,
    "=*": COLLECTION_DATE_SPEC,
    "&*": COLLECTION_SPEC,
    "=}": PRODUCTION_DATE_SPEC,
    "&}": PRODUCTION_SPEC,
    "=,": DIVISIONS_SPEC,
    "='": STAFF_SPEC,
    "&#": PATIENT_SPEC,
    "=#": DOB_SPEC,
    "=%": BLOOD_GROUP_SPEC,
    "&/": COI_SPEC,
    "=+": COMPOUND_SPEC,
}
