"""ISBT 128 character rules and the DIN keyboard check character (ISO/IEC 7064 MOD 37-2).

Source: ICCBBA, ISBT 128 Standard Technical Specification (ST-001) v6.2.2: section 2.4.1 (DIN
structure), Table 3 [RT004] (flag characters), section 7.5 and Appendix A (check character K).
Import the public names from `custody.domain.isbt128`, not from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from custody.domain.errors import InvalidBarcode, WrongCheckCharacter

# ISO/IEC 7064 MOD 37-2 alphabet: a character's value is its index (ST-001 Table 35 [RT035]).
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"

DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
# ST-001 2.4.1: the FIN's first character is A-N, P-Z or 1-9 (never O, never 0) ...
FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
# ... the next two A-N, P-Z or 0-9 (letters "may be introduced in the future"), the last two digits.
FIN_MIDDLE = "ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789"
# ST-001 2.4.1: flag characters are 0-9 and A-H, J-N, P, R-Y.
FLAG_CHARS = DIGITS + "ABCDEFGHJKLMNPRSTUVWXY"
# Characters a person may type between the printed groups "G1234 17 654321 A".
_TYPED_SEPARATORS = " -\t\r\n"

DIN_FIX_TYPED = "Check the DIN on the label and type it again."
K_FIX = "Re-read the DIN and the boxed check character on the label and type them again."

# (key, length, allowed characters, the rule in plain words): the 13-character DIN, ST-001 2.4.1.
Segment = tuple[str, int, str, str]
FIN_SEGMENTS: tuple[Segment, ...] = (
    (
        "fin_first",
        1,
        FIN_FIRST,
        "the first character of a facility number must be a letter A to N or P to Z, "
        "or a digit 1 to 9 (never the letter O and never zero)",
    ),
    (
        "fin_middle",
        2,
        FIN_MIDDLE,
        "characters 2 and 3 of a facility number must be digits or letters (never the letter O)",
    ),
    ("fin_last", 2, DIGITS, "characters 4 and 5 of a facility number must be digits"),
)
DIN_SEGMENTS: tuple[Segment, ...] = (
    *FIN_SEGMENTS,
    ("year", 2, DIGITS, "the 2-digit year (characters 6 and 7 of the DIN) must be digits"),
    ("sequence", 6, DIGITS, "the 6-digit sequence number (characters 8 to 13) must be digits"),
)
FLAG_SEGMENT: Segment = (
    "flags",
    2,
    FLAG_CHARS,
    "flag characters must be digits or the letters A to H, J to N, P or R to Y",
)


def describe_char(char: str) -> str:
    """Name a character so nobody confuses O with 0 or misses a space or an invisible byte."""
    if char == " ":
        return "a space"
    if char in DIGITS:
        return f"the digit {char}"
    if char in UPPER:
        return f"the letter {char}"
    if char in LOWER:
        return f"the lower-case letter {char}"
    if not char.isprintable() or char.isspace():
        return f"an invisible character (code U+{ord(char):04X})"
    if not char.isascii():
        return f"'{char}' (code U+{ord(char):04X}, not a plain letter or digit)"
    return f"'{char}'"


def check_segments(
    text: str,
    segments: Sequence[Segment],
    *,
    label: str,
    fix: str,
    where: str = "character {n} of the {label}",
    offset: int = 0,
) -> dict[str, str]:
    """Cut `text` into named parts, raising on the first character that breaks its part's rule.

    `offset` shifts reported positions (a scan reports positions in the whole scanned string).
    Callers check the total length first; here a short text simply ends the check early.
    """
    parts: dict[str, str] = {}
    start = 0
    for key, length, allowed, rule in segments:
        piece = text[start : start + length]
        for index, char in enumerate(piece):
            if char not in allowed:
                position = offset + start + index + 1
                raise bad_character(
                    char, position, rule, label=label, fix=fix, allowed=allowed, where=where
                )
        parts[key] = piece
        start += length
    return parts


def bad_character(
    char: str, position: int, rule: str, *, label: str, fix: str, allowed: str, where: str
) -> InvalidBarcode:
    """The error for one illegal character: which, where, which rule, and what to do."""
    place = where.format(n=position, label=label)
    hint = ""
    if char in LOWER and char.upper() in allowed:
        hint = " (a lower-case letter: check that Caps Lock is off)"
    elif char in "=&":
        hint = " (this starts another barcode, so this one is too short)"
    message = f"The {label} is not valid: {place} is {describe_char(char)}{hint}, but {rule}. {fix}"
    return InvalidBarcode(message, position=position, character=char, rule=rule)


def _mod37_2_sum(text: str) -> int:
    """ISO/IEC 7064 pure-system recursion (ST-001 A.3): s = ((s + value) * 2) mod 37."""
    total = 0
    for char in text:
        total = ((total + ALPHABET.index(char)) * 2) % 37
    return total


def check_value(din: str) -> int:
    """The MOD 37-2 check value 0..36 of a DIN (ST-001 A.1 steps 1-7)."""
    return (38 - _mod37_2_sum(validate_din(din))) % 37


def check_character(din: str) -> str:
    """Keyboard check character K, printed boxed after the eye-readable DIN (ST-001 7.5)."""
    return ALPHABET[check_value(din)]


def type3_flags(din: str) -> str:
    """Type 3 flag characters: 60 + the MOD 37-2 check value (ST-001 A.2, Table 3 [RT004])."""
    return str(60 + check_value(din))


def _normalise_typed(text: object, what: str, fix: str) -> str:
    """Typed text: drop the spaces and dashes people copy from the label, then upper-case.

    Non-ASCII is refused before upper-casing, so a Turkish dotless i cannot turn into an I.
    """
    if not isinstance(text, str):
        raise InvalidBarcode(f"No {what} was given. {fix}", rule="text required")
    for index, char in enumerate(text):
        if not (char.isascii() and char.isprintable()) and char not in _TYPED_SEPARATORS:
            raise InvalidBarcode(
                f"The {what} contains {describe_char(char)} (character {index + 1} of what was "
                f"typed), which is never part of a DIN. {fix}",
                position=index + 1,
                character=char,
                rule="letters and digits only",
            )
    return "".join(char for char in text if char not in _TYPED_SEPARATORS).upper()


def validate_din(din: str) -> str:
    """Return the 13-character DIN upper-cased, or raise InvalidBarcode naming the broken rule.

    Accepts the printed grouping ("G1234 17 654321"). Rules: ST-001 2.4.1.
    """
    text = _normalise_typed(din, "DIN", DIN_FIX_TYPED)
    if len(text) != 13:
        raise InvalidBarcode(
            f"A DIN has 13 characters (a 5-character facility number, a 2-digit year and a "
            f"6-digit sequence number) but {len(text)} were given. {DIN_FIX_TYPED}",
            length=len(text),
            rule="DIN length 13",
        )
    check_segments(text, DIN_SEGMENTS, label="DIN", fix=DIN_FIX_TYPED)
    return text


def validate_fin(fin: str) -> str:
    """Return a 5-character facility identification number (FIN), upper-cased (ST-001 2.4.1)."""
    fix = "Check the facility number (FIN) in the settings."
    text = _normalise_typed(fin, "facility number (FIN)", fix)
    if len(text) != 5:
        raise InvalidBarcode(
            f"A facility number (FIN) has 5 characters but {len(text)} were given. {fix}",
            length=len(text),
            rule="FIN length 5",
        )
    check_segments(text, FIN_SEGMENTS, label="facility number (FIN)", fix=fix)
    return text


def validate_keyed_din(text: str) -> str:
    """Check a DIN typed by hand with its boxed check character K; return the 13-character DIN.

    A wrong K raises WrongCheckCharacter. Neither its message nor its details ever reveal the
    expected K: the person must re-read the label, not copy the answer from the screen.
    MOD 37-2 catches every single wrong character and every swap of two neighbours.
    """
    keyed = _normalise_typed(text, "DIN", K_FIX)
    if len(keyed) == 16:
        raise InvalidBarcode(
            "16 characters were typed, but a DIN with its check character has 14. Type only "
            "the 13-character DIN and the boxed check character, not the small flag digits "
            "printed between them.",
            length=16,
            rule="DIN plus check character length 14",
        )
    if len(keyed) == 13:
        raise InvalidBarcode(
            "13 characters were typed, but a DIN with its check character has 14: the check "
            "character (or a character of the DIN) is missing. Type the 13-character DIN "
            "followed by the character printed in the box after it.",
            length=13,
            rule="DIN plus check character length 14",
        )
    if len(keyed) != 14:
        raise InvalidBarcode(
            f"{len(keyed)} characters were typed, but a DIN with its check character has 14 "
            f"(13 for the DIN and 1 for the boxed check character). {K_FIX}",
            length=len(keyed),
            rule="DIN plus check character length 14",
        )
    din, typed_k = keyed[:13], keyed[13]
    check_segments(din, DIN_SEGMENTS, label="DIN", fix=K_FIX)
    if typed_k not in ALPHABET:
        raise InvalidBarcode(
            f"The check character cannot be {describe_char(typed_k)}: it is always a letter, "
            f"a digit or '*'. {K_FIX}",
            position=14,
            character=typed_k,
            rule="check character is 0-9, A-Z or *",
        )
    if check_character(din) != typed_k:
        raise WrongCheckCharacter(
            f"The check character {typed_k} does not match DIN {din[:5]} {din[5:7]} {din[7:]}: "
            f"one of the 14 characters was mistyped or misread. {K_FIX}",
            din=din,
            typed_check_character=typed_k,
            rule="ISO/IEC 7064 MOD 37-2",
        )
    return din


def eye_readable_din(din: str) -> str:
    """The DIN as people read it, in its groups FIN, year, sequence: 'W9999 26 000001'."""
    return f"{din[:5]} {din[5:7]} {din[7:]}" if len(din) == 13 else din


def format_din(fin: str, year: int, number: int) -> str:
    """Build a 13-character DIN from a FIN, a 2-digit nominal year and a sequence number."""
    checked_fin = validate_fin(fin)
    if isinstance(year, bool) or not isinstance(year, int) or not 0 <= year <= 99:
        raise InvalidBarcode(
            f"The DIN year must be a two-digit nominal year 0 to 99, not {year!r}.",
            rule="DIN year 00-99",
        )
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 999_999:
        raise InvalidBarcode(
            f"The DIN sequence number must be 1 to 999999, not {number!r}: the numbers for "
            f"this facility and year are used up or the number is wrong.",
            rule="DIN sequence 000001-999999",
        )
    return f"{checked_fin}{year:02d}{number:06d}"
