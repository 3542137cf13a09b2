"""DIN rules and the keyboard check character K (ISBT 128 ST-001 2.4.1, 7.5, Appendix A).

The alphabets below are written out from the standard, not imported, so these tests check the
implementation against ST-001 rather than against itself.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.domain.errors import InvalidBarcode, WrongCheckCharacter
from custody.domain.isbt128 import (
    ALPHABET,
    check_character,
    format_din,
    type3_flags,
    validate_din,
    validate_fin,
    validate_keyed_din,
)
from custody.domain.isbt128_checks import describe_char

MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"  # ST-001 Table 35
FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"  # A-N, P-Z, 1-9
FIN_MIDDLE = "ABCDEFGHIJKLMNPQRSTUVWXYZ0123456789"  # A-N, P-Z, 0-9
DIGITS = "0123456789"


def _fixed(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=size)


# A valid 13-character DIN: FIN (alpha + 2 alphanumeric + 2 digits), 2-digit year, 6 digits.
dins = st.builds(
    lambda first, middle, rest: first + middle + rest,
    st.sampled_from(FIN_FIRST),
    _fixed(FIN_MIDDLE, 2),
    _fixed(DIGITS, 10),
)


def _spaced(din: str, k: str) -> str:
    return f"{din[:5]} {din[5:7]} {din[7:]} {k}"


# --- The standard's examples ---------------------------------------------------------------------


def test_alphabet_is_the_iso_7064_mod_37_2_table():
    assert ALPHABET == MOD37_ALPHABET


def test_worked_example_of_appendix_a():
    din = "G123417654321"
    weighted = sum(MOD37_ALPHABET.index(c) * 2 ** (13 - i) for i, c in enumerate(din))
    assert weighted == 146178 and weighted % 37 == 28  # the standard's own arithmetic
    assert check_character(din) == "A"  # (38 - 28) mod 37 = 10 = "A"
    assert type3_flags(din) == "70"


@pytest.mark.parametrize(
    ("din", "k"),
    [
        # DINs printed with their boxed K in ST-001 (section 7.5.1.1 and the Appendix C labels).
        ("A999818123456", "N"),
        ("A999921123456", "3"),
        ("A999820123456", "E"),
        ("A999917123456", "9"),
        ("A999917123654", "Y"),
        ("A999917345628", "*"),
        ("A999917345658", "O"),
        ("A999915000001", "M"),
        ("A999918000001", "8"),
    ],
)
def test_check_characters_printed_in_the_standard(din, k):
    assert check_character(din) == k
    assert validate_keyed_din(_spaced(din, k)) == din


@given(din=dins)
def test_type3_flags_are_60_plus_the_check_value(din):
    flags = type3_flags(din)
    assert 60 <= int(flags) <= 96
    assert int(flags) - 60 == MOD37_ALPHABET.index(check_character(din))


# --- MOD 37-2 catches every single error and every neighbour swap --------------------------------


@settings(max_examples=150, deadline=None)
@given(din=dins)
def test_every_single_substitution_is_rejected(din):
    keyed = din + check_character(din)
    assert validate_keyed_din(keyed) == din
    accepted = []
    for position in range(14):
        for char in MOD37_ALPHABET:
            if char == keyed[position]:
                continue
            typo = keyed[:position] + char + keyed[position + 1 :]
            try:
                validate_keyed_din(typo)
            except InvalidBarcode:
                continue
            accepted.append(typo)
    assert accepted == []


@settings(max_examples=150, deadline=None)
@given(din=dins)
def test_every_adjacent_transposition_is_rejected(din):
    keyed = din + check_character(din)
    accepted = []
    for position in range(13):
        first, second = keyed[position], keyed[position + 1]
        if first == second:
            continue
        swapped = keyed[:position] + second + first + keyed[position + 2 :]
        try:
            validate_keyed_din(swapped)
        except InvalidBarcode:
            continue
        accepted.append(swapped)
    assert accepted == []


# --- validate_keyed_din --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["G1234 17 654321 A", "G123417654321A", "g1234-17-654321-a", "  G1234 17 654321 A\n"],
)
def test_keyed_din_accepts_the_printed_grouping(typed):
    assert validate_keyed_din(typed) == "G123417654321"


def test_wrong_check_character_never_reveals_the_right_one():
    with pytest.raises(WrongCheckCharacter) as caught:
        validate_keyed_din("G1234 17 654321 B")
    error = caught.value
    assert "check character B" in error.message
    assert "re-read" in error.message.lower()
    assert set(error.details) <= {"din", "typed_check_character", "rule"}
    assert error.details["din"] == "G123417654321"
    assert error.details["typed_check_character"] == "B"
    without_din = error.message.replace("G1234 17 654321", "")
    assert "A" not in re.findall(r"\b\w\b", without_din)  # the expected K appears nowhere


def test_wrong_check_character_is_an_invalid_barcode_for_callers_that_catch_broadly():
    with pytest.raises(InvalidBarcode):
        validate_keyed_din("G123417654321Z")


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("G1234 17 654321", "check character (or a character of the DIN) is missing"),
        ("G1234 17 654321 70 A", "not the small flag digits"),
        ("G1234 17 65432 A", "has 14"),
        ("G1234 17 654321 AB", "15 characters were typed"),
        ("G1234 17 654321 #", "check character cannot be '#'"),
        ("O1234 17 654321 A", "character 1 of the DIN is the letter O"),
        ("G1234 17 6543Z1 A", "character 12 of the DIN is the letter Z"),
        ("G1234 17 654321 \u0131", "U+0131"),
    ],
)
def test_keyed_din_rejections_say_what_is_wrong(typed, words):
    with pytest.raises(InvalidBarcode) as caught:
        validate_keyed_din(typed)
    assert not isinstance(caught.value, WrongCheckCharacter)
    assert words in caught.value.message


# --- validate_din --------------------------------------------------------------------------------


def test_validate_din_upper_cases_and_accepts_the_printed_groups():
    assert validate_din("g1234 17 654321") == "G123417654321"
    assert validate_din("A9999-21-123456") == "A999921123456"


@pytest.mark.parametrize(
    ("din", "position", "words"),
    [
        ("O123417654321", 1, "never the letter O"),
        ("0123417654321", 1, "never zero"),
        ("GO23417654321", 2, "never the letter O"),
        ("G12A417654321", 4, "characters 4 and 5 of a facility number must be digits"),
        ("G12341X654321", 7, "2-digit year"),
        ("G1234176543B1", 12, "6-digit sequence number"),
    ],
)
def test_validate_din_names_the_character_and_the_rule(din, position, words):
    with pytest.raises(InvalidBarcode) as caught:
        validate_din(din)
    assert caught.value.details["position"] == position
    assert caught.value.details["character"] == din[position - 1]
    assert f"character {position} of the DIN" in caught.value.message
    assert words in caught.value.message


def test_validate_din_allows_future_letters_in_fin_positions_2_and_3():
    # ST-001 2.4.1: "Alpha characters may be introduced into positions 1 and 2 [of pppp]".
    assert validate_din("ABC1217654321") == "ABC1217654321"


@pytest.mark.parametrize("din", ["G12341765432", "G1234176543210", "", "G1234 17 654321 A"])
def test_validate_din_wrong_length(din):
    with pytest.raises(InvalidBarcode, match="A DIN has 13 characters"):
        validate_din(din)


@pytest.mark.parametrize("din", [None, 123, "G1234176543\u00a021"])
def test_validate_din_rejects_non_text_and_non_ascii(din):
    with pytest.raises(InvalidBarcode):
        validate_din(din)


def test_check_character_refuses_an_invalid_din():
    with pytest.raises(InvalidBarcode):
        check_character("O123417654321")


# --- format_din ----------------------------------------------------------------------------------


def test_format_din_pads_year_and_sequence():
    assert format_din("G1234", 17, 654321) == "G123417654321"
    assert format_din("a9999", 5, 1) == "A999905000001"


@pytest.mark.parametrize(
    ("fin", "year", "number", "words"),
    [
        ("G1234", 100, 1, "two-digit nominal year"),
        ("G1234", -1, 1, "two-digit nominal year"),
        ("G1234", 26, 0, "sequence number must be 1 to 999999"),
        ("G1234", 26, 1_000_000, "sequence number must be 1 to 999999"),
        ("G1234", True, 1, "two-digit nominal year"),
        ("G123", 26, 1, "facility number (FIN) has 5 characters"),
        ("O1234", 26, 1, "never the letter O"),
    ],
)
def test_format_din_rejections(fin, year, number, words):
    with pytest.raises(InvalidBarcode) as caught:
        format_din(fin, year, number)
    assert words in caught.value.message


@given(din=dins)
def test_format_din_rebuilds_any_din(din):
    assert format_din(din[:5], int(din[5:7]), int(din[7:]) or 1) == din[:7] + (
        din[7:] if int(din[7:]) else "000001"
    )


def test_a_din_reads_in_its_groups_fin_year_sequence():
    from custody.domain.isbt128 import eye_readable_din

    assert eye_readable_din("W999926000001") == "W9999 26 000001"


# --- more check characters, worked by hand from the MOD 37-2 recursion ---------------------------
# s = 0; for each character of value v: s = ((s + v) × 2) mod 37; then K = alphabet[(38 − s) mod 37]
# and the Type 3 flags are 60 + (38 − s) mod 37.


@pytest.mark.parametrize(
    ("din", "k", "flags"),
    [
        # W=32 → 27; 9 → 35; 9 → 14; 9 → 9; 9 → 36; 2 → 2; 6 → 16; 0 → 32; 0 → 27; 0 → 17;
        # 0 → 34; 0 → 31; 1 → 27. (38 − 27) mod 37 = 11 = "B"; flags 60 + 11 = 71.
        ("W999926000001", "B", "71"),
        # … as above to 0 → 34; 8 → (34 + 8) × 2 mod 37 = 10; 9 → (10 + 9) × 2 mod 37 = 1.
        # (38 − 1) mod 37 = 0 = "0"; flags 60.
        ("W999926000089", "0", "60"),
        # Letters in the FIN's positions 2 and 3: D=13 → 26; A=10 → 35; B=11 → 18; 1 → 1; 2 → 6;
        # 2 → 16; 6 → 7; 0 → 14; 0 → 28; 0 → 19; 7 → 15; 7 → 7; 7 → 28.
        # (38 − 28) mod 37 = 10 = "A"; flags 70.
        ("DAB1226000777", "A", "70"),
        # 1 → 2; then each 0 doubles mod 37: 4, 8, 16, 32, 27, 17, 34, 31, 25, 13, 26, 15.
        # (38 − 15) mod 37 = 23 = "N"; flags 83.
        ("1000000000000", "N", "83"),
        # J=19 → 1; 0 → 2, 4, 8, 16, 32; 9 → 8; 9 → 34; 9 → 12; 9 → 5; 9 → 28; 9 → 0; 9 → 18.
        # (38 − 18) mod 37 = 20 = "K"; flags 80.
        ("J000009999999", "K", "80"),
    ],
)
def test_check_characters_worked_by_hand(din, k, flags):
    assert check_character(din) == k
    assert type3_flags(din) == flags
    assert validate_keyed_din(din + k) == din


# --- exactly what a refusal says and carries ------------------------------------------------------

DIN_FIX = "Check the DIN on the label and type it again."
K_FIX = "Re-read the DIN and the boxed check character on the label and type them again."
FIN_FIRST_RULE = (
    "the first character of a facility number must be a letter A to N or P to Z, or a digit "
    "1 to 9 (never the letter O and never zero)"
)
YEAR_RULE = "the 2-digit year (characters 6 and 7 of the DIN) must be digits"


def _refusal(function, *args) -> tuple[str, str, dict]:
    with pytest.raises(InvalidBarcode) as caught:
        function(*args)
    return type(caught.value).__name__, caught.value.message, caught.value.details


@pytest.mark.parametrize(
    ("char", "words"),
    [
        (" ", "a space"),
        ("7", "the digit 7"),
        ("Q", "the letter Q"),
        ("q", "the lower-case letter q"),
        ("\t", "an invisible character (code U+0009)"),
        ("\x00", "an invisible character (code U+0000)"),
        ("\u00a0", "an invisible character (code U+00A0)"),
        ("\u2003", "an invisible character (code U+2003)"),
        ("é", "'é' (code U+00E9, not a plain letter or digit)"),
        ("-", "'-'"),
    ],
)
def test_a_character_is_named_so_nobody_confuses_it(char, words):
    assert describe_char(char) == words


@pytest.mark.parametrize(
    ("din", "refusal"),
    [
        (
            None,
            ("InvalidBarcode", f"No DIN was given. {DIN_FIX}", {"rule": "text required"}),
        ),
        (
            "G12341765432",
            (
                "InvalidBarcode",
                "A DIN has 13 characters (a 5-character facility number, a 2-digit year and a "
                f"6-digit sequence number) but 12 were given. {DIN_FIX}",
                {"length": 12, "rule": "DIN length 13"},
            ),
        ),
        (
            "G1234 17 65432é",
            (
                "InvalidBarcode",
                "The DIN contains 'é' (code U+00E9, not a plain letter or digit) (character 15 "
                f"of what was typed), which is never part of a DIN. {DIN_FIX}",
                {"position": 15, "character": "é", "rule": "letters and digits only"},
            ),
        ),
        (
            "O123417654321",
            (
                "InvalidBarcode",
                "The DIN is not valid: character 1 of the DIN is the letter O, but "
                f"{FIN_FIRST_RULE}. {DIN_FIX}",
                {"position": 1, "character": "O", "rule": FIN_FIRST_RULE},
            ),
        ),
        (
            # An X where a digit belongs gets no hint: it does not start another barcode.
            "G1234X7654321",
            (
                "InvalidBarcode",
                f"The DIN is not valid: character 6 of the DIN is the letter X, but {YEAR_RULE}. "
                f"{DIN_FIX}",
                {"position": 6, "character": "X", "rule": YEAR_RULE},
            ),
        ),
        (
            "G1234=7654321",
            (
                "InvalidBarcode",
                "The DIN is not valid: character 6 of the DIN is '=' (this starts another "
                f"barcode, so this one is too short), but {YEAR_RULE}. {DIN_FIX}",
                {"position": 6, "character": "=", "rule": YEAR_RULE},
            ),
        ),
    ],
)
def test_validate_din_refusals_exactly(din, refusal):
    assert _refusal(validate_din, din) == refusal


FIN_FIX = "Check the facility number (FIN) in the settings."


@pytest.mark.parametrize(
    ("fin", "refusal"),
    [
        (
            None,
            (
                "InvalidBarcode",
                f"No facility number (FIN) was given. {FIN_FIX}",
                {"rule": "text required"},
            ),
        ),
        (
            "G123",
            (
                "InvalidBarcode",
                f"A facility number (FIN) has 5 characters but 4 were given. {FIN_FIX}",
                {"length": 4, "rule": "FIN length 5"},
            ),
        ),
        (
            "G12A4",
            (
                "InvalidBarcode",
                "The facility number (FIN) is not valid: character 4 of the facility number (FIN) "
                "is the letter A, but characters 4 and 5 of a facility number must be digits. "
                f"{FIN_FIX}",
                {
                    "position": 4,
                    "character": "A",
                    "rule": "characters 4 and 5 of a facility number must be digits",
                },
            ),
        ),
    ],
)
def test_validate_fin_refusals_exactly(fin, refusal):
    assert _refusal(validate_fin, fin) == refusal


def test_validate_fin_upper_cases_and_drops_separators():
    assert validate_fin(" w9999 ") == "W9999"


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        (
            "G1234 17 654321 70 A",
            (
                "InvalidBarcode",
                "16 characters were typed, but a DIN with its check character has 14. Type only "
                "the 13-character DIN and the boxed check character, not the small flag digits "
                "printed between them.",
                {"length": 16, "rule": "DIN plus check character length 14"},
            ),
        ),
        (
            "G1234 17 654321",
            (
                "InvalidBarcode",
                "13 characters were typed, but a DIN with its check character has 14: the check "
                "character (or a character of the DIN) is missing. Type the 13-character DIN "
                "followed by the character printed in the box after it.",
                {"length": 13, "rule": "DIN plus check character length 14"},
            ),
        ),
        (
            "G1234 17 654321 AB",
            (
                "InvalidBarcode",
                "15 characters were typed, but a DIN with its check character has 14 (13 for the "
                f"DIN and 1 for the boxed check character). {K_FIX}",
                {"length": 15, "rule": "DIN plus check character length 14"},
            ),
        ),
        (
            "G1234 17 654321 /",
            (
                "InvalidBarcode",
                "The check character cannot be '/': it is always a letter, a digit or '*'. "
                f"{K_FIX}",
                {"position": 14, "character": "/", "rule": "check character is 0-9, A-Z or *"},
            ),
        ),
        (
            "G1234 X7 654321 A",
            (
                "InvalidBarcode",
                f"The DIN is not valid: character 6 of the DIN is the letter X, but {YEAR_RULE}. "
                f"{K_FIX}",
                {"position": 6, "character": "X", "rule": YEAR_RULE},
            ),
        ),
        (
            "G1234 17 654321 B",
            (
                "WrongCheckCharacter",
                "The check character B does not match DIN G1234 17 654321: one of the 14 "
                f"characters was mistyped or misread. {K_FIX}",
                {
                    "din": "G123417654321",
                    "typed_check_character": "B",
                    "rule": "ISO/IEC 7064 MOD 37-2",
                },
            ),
        ),
        (
            None,
            ("InvalidBarcode", f"No DIN was given. {K_FIX}", {"rule": "text required"}),
        ),
    ],
)
def test_validate_keyed_din_refusals_exactly(typed, refusal):
    assert _refusal(validate_keyed_din, typed) == refusal


@pytest.mark.parametrize(
    ("year", "number", "din"),
    [(0, 1, "G123400000001"), (99, 999_999, "G123499999999"), (26, 42, "G123426000042")],
)
def test_format_din_accepts_the_edges_of_year_and_sequence(year, number, din):
    assert format_din("G1234", year, number) == din


@pytest.mark.parametrize(
    ("year", "number", "refusal"),
    [
        (
            100,
            1,
            (
                "InvalidBarcode",
                "The DIN year must be a two-digit nominal year 0 to 99, not 100.",
                {"rule": "DIN year 00-99"},
            ),
        ),
        (
            "26",
            1,
            (
                "InvalidBarcode",
                "The DIN year must be a two-digit nominal year 0 to 99, not '26'.",
                {"rule": "DIN year 00-99"},
            ),
        ),
        (
            26,
            True,
            (
                "InvalidBarcode",
                "The DIN sequence number must be 1 to 999999, not True: the numbers for this "
                "facility and year are used up or the number is wrong.",
                {"rule": "DIN sequence 000001-999999"},
            ),
        ),
        (
            26,
            1_000_000,
            (
                "InvalidBarcode",
                "The DIN sequence number must be 1 to 999999, not 1000000: the numbers for this "
                "facility and year are used up or the number is wrong.",
                {"rule": "DIN sequence 000001-999999"},
            ),
        ),
        (
            26,
            1.0,
            (
                "InvalidBarcode",
                "The DIN sequence number must be 1 to 999999, not 1.0: the numbers for this "
                "facility and year are used up or the number is wrong.",
                {"rule": "DIN sequence 000001-999999"},
            ),
        ),
    ],
)
def test_format_din_refusals_exactly(year, number, refusal):
    assert _refusal(format_din, "G1234", year, number) == refusal


def test_a_text_that_is_not_13_characters_is_shown_as_it_is():
    from custody.domain.isbt128 import eye_readable_din

    assert eye_readable_din("G1234") == "G1234"
    assert eye_readable_din("G12341765432100") == "G12341765432100"
