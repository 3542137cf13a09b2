"""ISBT 128 identifiers for cellular therapy products: check them, read scans, write barcode data.

Everything follows ICCBBA's ISBT 128 Standard Technical Specification (ST-001, v6.2.2); each rule
cites its section. Pure standard-library code: the CLI, services, API and label printer all
call these functions, so a DIN is checked the same way everywhere.

Split for size: check characters and typed DINs in `isbt128_checks`, the structures in
`isbt128_structures` (tables from the standard in `isbt128_tables`), scan splitting in
`isbt128_parse`. This module is the public face; import from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from custody.domain.errors import InvalidBarcode
from custody.domain.isbt128_checks import (
    ALPHABET,
    DIGITS,
    check_character,
    eye_readable_din,
    format_din,
    type3_flags,
    validate_din,
    validate_fin,
    validate_keyed_din,
)
from custody.domain.isbt128_other_structures import COMPOUND_SPEC
from custody.domain.isbt128_parse import parse
from custody.domain.isbt128_structures import Reading, Structure, decode_product_code, flag_kind

__all__ = [
    "ALPHABET",
    "Structure",
    "check_character",
    "encode_collection",
    "encode_compound",
    "encode_din",
    "encode_expiry",
    "encode_product_code",
    "eye_readable_din",
    "format_din",
    "parse",
    "type3_flags",
    "validate_din",
    "validate_fin",
    "validate_keyed_din",
]

_FLAG_CHOICES = (
    "00 (no flag), 01 to 13 or 15 to 19 (ICCBBA flags, e.g. container 1 to 9 of a set), "
    "20 to 59 (flags this facility defines) or the DIN's own check flags from type3_flags()"
)
_PRODUCT_FIX = "Correct the product code in the product settings."


def encode_din(din: str, flags: str = "00") -> str:
    """Barcode data for a DIN: "=" + DIN + flags (ST-001 2.4.1; flag values from Table 3)."""
    checked = validate_din(din)
    kind = flag_kind(flags)[0] if isinstance(flags, str) and len(flags) == 2 else "reserved"
    if kind == "reserved":
        # 14, 97-99 and letters are reserved for future assignment (Table 3 [RT004]).
        raise InvalidBarcode(
            f"The DIN flags {flags!r} cannot be printed: use {_FLAG_CHOICES}.",
            flags=str(flags),
            rule="DIN flag values (ST-001 Table 3)",
        )
    if kind == "check" and flags != type3_flags(checked):
        raise InvalidBarcode(
            f"The DIN flags {flags} are check flags (60 to 96) but not this DIN's own: "
            f"compute them with type3_flags().",
            flags=flags,
            rule="Type 3 flags = 60 + MOD 37-2 check value",
        )
    return f"={checked}{flags}"


def encode_product_code(code: str) -> str:
    """Barcode data for a product code: "=<" + <alpha>ooootds (ST-001 2.4.3), checked first."""
    if not isinstance(code, str) or len(code) != 8:
        length = len(code) if isinstance(code, str) else 0
        raise InvalidBarcode(
            f"A product code has 8 characters (a 5-character product description code, the "
            f"type of collection and a 2-character division), not {length}. {_PRODUCT_FIX}",
            length=length,
            rule="product code length 8",
        )
    # The code goes into a str.format template: double any braces so they print as typed.
    where = "character {n} of the product code " + code.replace("{", "{{").replace("}", "}}")
    decode_product_code(code, Reading(where=where, fix=_PRODUCT_FIX))
    return f"=<{code}"


def _cyyjjjhhmm(when: datetime, what: str) -> str:
    """cyyjjjhhmm from the datetime's own wall-clock fields (ST-001 2.4.5, 2.4.7); c = 0: 20xx."""
    if not isinstance(when, datetime):
        raise InvalidBarcode(f"The {what} must be a date with a time of day.", rule="datetime")
    if not 2000 <= when.year <= 2099:
        raise InvalidBarcode(
            f"The {what} {when:%Y-%m-%d} cannot be encoded: only the years 2000 to 2099 can.",
            rule="years 2000-2099",
        )
    day_of_year = when.timetuple().tm_yday
    return f"0{when.year % 100:02d}{day_of_year:03d}{when.hour:02d}{when.minute:02d}"


def encode_expiry(when: datetime) -> str:
    """Expiration Date and Time [005]: "&>" + cyyjjjhhmm; seconds are dropped (never later)."""
    return "&>" + _cyyjjjhhmm(when, "expiry date")


def encode_collection(when: datetime) -> str:
    """Collection Date and Time [007]: "&*" + cyyjjjhhmm."""
    return "&*" + _cyyjjjhhmm(when, "collection date")


def encode_compound(structures: Sequence[str], reference: str = "000") -> str:
    """A 2-D compound message: "=+" + count aa + reference bbb + the structures, no separators.

    ST-001 2.4.23: bbb "000" is an undefined order (what ICCBBA encourages); other values name
    an order in ICCBBA table RT017, which the caller must follow.
    """
    if not (isinstance(reference, str) and len(reference) == 3 and set(reference) <= set(DIGITS)):
        raise InvalidBarcode(
            f"The compound message reference must be 3 digits (000 for no set order), "
            f"not {reference!r}.",
            rule="compound reference bbb",
        )
    if not isinstance(structures, list | tuple) or not 1 <= len(structures) <= 99:
        raise InvalidBarcode(
            "A compound message holds 1 to 99 data structures, given as a list of barcode data.",
            rule="compound count aa 01-99",
        )
    for number, item in enumerate(structures, start=1):
        read = parse(item) if isinstance(item, str) else []
        if len(read) != 1 or read[0].raw != item or read[0].name == COMPOUND_SPEC.name:
            raise InvalidBarcode(
                f"Item {number} of the compound message must be exactly one ISBT 128 data "
                f"structure (not a compound message), with nothing before or after it.",
                item=number,
                rule="one structure per item",
            )
    return f"=+{len(structures):02d}{reference}" + "".join(structures)
