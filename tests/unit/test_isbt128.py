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
    validate_keyed_din,
)

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
