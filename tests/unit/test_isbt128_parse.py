"""Reading scans and writing barcode data (ISBT 128 ST-001 2.4, chapter 10 concatenation).

Product codes here are made up (S9999V00, YA001V00, D...): the ICCBBA database is licensed.
"""

import json
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.domain.errors import InvalidBarcode
from custody.domain.isbt128 import (
    check_character,
    encode_collection,
    encode_compound,
    encode_din,
    encode_expiry,
    encode_product_code,
    parse,
    type3_flags,
)

DIGITS = "0123456789"
FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
DIN = "G123417654321"


def _fixed(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=size)


dins = st.builds(str.__add__, st.sampled_from(FIN_FIRST), _fixed(DIGITS, 12))
plain_flags = st.sampled_from(["00", "01", "04", "05", "13", "15", "19", "20", "59"])
# Made-up codes in the categories this system labels: cellular therapy, clinical trial, local.
product_codes = st.one_of(
    st.builds(lambda o, d: f"S{o}V{d}", _fixed(UPPER_DIGITS, 4), _fixed(DIGITS, 2)),
    st.builds(lambda a, n: f"Y{a}{n}V00", st.sampled_from("ABCXYZ"), _fixed(DIGITS, 3)),
    st.builds(lambda o: f"D{o}V00", _fixed(UPPER_DIGITS, 4)),
)
minutes = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59))


def _only(data: str):
    structures = parse(data)
    assert len(structures) == 1
    return structures[0]


def _error(data: str) -> InvalidBarcode:
    with pytest.raises(InvalidBarcode) as caught:
        parse(data)
    return caught.value


# --- Round trips ---------------------------------------------------------------------------------


@given(din=dins, flags=plain_flags)
def test_din_round_trip(din, flags):
    read = _only(encode_din(din, flags))
    assert read.name == "donation_identification_number"
    assert (read.fields["din"], read.fields["flags"]) == (din, flags)
    assert read.fields["check_character"] == check_character(din)


@given(din=dins)
def test_din_round_trip_with_type3_flags(din):
    read = _only(encode_din(din, type3_flags(din)))
    assert read.fields["flag_kind"] == "check"
    assert read.fields["din"] == din


def test_din_fields():
    assert _only("=G12341765432101").to_dict() == {
        "structure": "donation_identification_number",
        "data_identifier": "=",
        "data": "=G12341765432101",
        "position": 1,
        "din": DIN,
        "fin": "G1234",
        "year": 17,
        "sequence": "654321",
        "flags": "01",
        "flag_kind": "container",
        "flag_meaning": "container 1 of a set",
        "container": 1,
        "check_character": "A",
        "eye_readable": "G1234 17 654321",
    }


@given(code=product_codes)
def test_product_code_round_trip(code):
    read = _only(encode_product_code(code))
    assert read.name == "product_code"
    assert read.data_identifier == "=<"
    assert read.fields["product_code"] == code


@pytest.mark.parametrize(
    ("code", "category", "divisions_required"),
    [
        ("S9999V00", "cellular therapy", False),
        ("S9999V99", "cellular therapy", True),
        ("YA001V00", "clinical trial", False),
        ("DAB12V00", "local", False),
        ("D1234V00", "national or local", False),
    ],
)
def test_product_code_fields(code, category, divisions_required):
    fields = _only("=<" + code).fields
    assert fields["product_description_code"] == code[:5]
    assert fields["collection_type"] == "V"
    assert fields["division"] == code[6:]
    assert fields["category"] == category
    assert fields["divisions_required"] is divisions_required


@given(when=minutes)
def test_expiry_round_trip(when):
    read = _only(encode_expiry(when))
    assert read.name == "expiration_date_time"
    assert read.fields["iso"] == when.strftime("%Y-%m-%dT%H:%M")


@given(when=minutes)
def test_collection_round_trip(when):
    read = _only(encode_collection(when))
    assert read.name == "collection_date_time"
    assert (read.fields["date"], read.fields["time"]) == (
        when.strftime("%Y-%m-%d"),
        when.strftime("%H:%M"),
    )


def test_expiry_uses_the_wall_clock_of_an_aware_datetime():
    from datetime import timedelta, timezone

    when = datetime(2026, 11, 23, 14, 30, 59, tzinfo=timezone(timedelta(hours=-5)))
    assert encode_expiry(when) == "&>0263271430"


def test_the_standards_label_example_date():
    # ST-001 Appendix C, Figure 21: 0180292359 is printed as "Expiry Date: 29 JAN 2018".
    assert _only("&>0180292359").fields["iso"] == "2018-01-29T23:59"


@pytest.mark.parametrize(
    ("data", "name", "iso"),
    [
        ("=>026327", "expiration_date", "2026-11-23T23:59"),
        ("=*028366", "collection_date", "2028-12-31T23:59"),
    ],
)
def test_date_only_structures_mean_23_59(data, name, iso):
    read = _only(data)
    assert (read.name, read.fields["iso"], read.fields["time_given"]) == (name, iso, False)


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.builds(encode_din, dins),
            st.builds(encode_product_code, product_codes),
            st.builds(encode_expiry, minutes),
            st.builds(encode_collection, minutes),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_compound_round_trip(parts):
    header, *inner = parse(encode_compound(parts))
    assert header.name == "compound_message"
    assert header.fields["count"] == len(parts)
    assert header.fields["reference"] == "000"
    assert [s.raw for s in inner] == parts


# --- What scanners send --------------------------------------------------------------------------


def test_concatenated_din_and_product_code():
    din, product = parse("=G12341765432100=<S9999V00")
    assert (din.fields["din"], product.fields["product_code"]) == (DIN, "S9999V00")
    assert (din.position, product.position) == (1, 17)


def test_concatenated_product_code_and_expiry():
    names = [s.name for s in parse("=<S9999V00&>0263271430")]
    assert names == ["product_code", "expiration_date_time"]


@pytest.mark.parametrize(
    "data",
    [
        "=G12341765432100\r\n",
        "=G12341765432100\n",
        "  =G12341765432100  ",
        "]C0=G12341765432100",
        "]C0=G12341765432100\r\n",
        "]d1=G12341765432100",
    ],
)
def test_enter_blanks_and_symbology_identifiers_are_ignored(data):
    assert _only(data).fields["din"] == DIN


def test_compound_message_with_data_matrix_prefix():
    structures = parse("]d2=+02000=G12341765432100=<YA001V00\r")
    assert [s.name for s in structures] == [
        "compound_message",
        "donation_identification_number",
        "product_code",
    ]


def test_blanks_between_two_reads_are_ignored():
    names = [s.name for s in parse("=G12341765432100 =<S9999V00")]
    assert names == ["donation_identification_number", "product_code"]


def test_two_reads_in_one_input_each_with_its_prefix():
    names = [s.name for s in parse("]C0=G12341765432100\r\n]C0=<S9999V00\r\n")]
    assert names == ["donation_identification_number", "product_code"]


@pytest.mark.parametrize(
    ("data", "name", "fields"),
    [
        ("=,0000A1", "product_divisions", {"divisions": "0000A1"}),
        ("='G1234ABC123", "staff_id", {"fin": "G1234", "staff_number": "ABC123"}),
        ("&#0105AB123", "patient_id", {"patient_id": "AB123", "location_code": "01"}),
        ("=#0119800101", "patient_date_of_birth", {"date_of_birth": "1980-01-01"}),
        ("=%6200", "blood_group", {"abo_rh": "A RhD positive"}),
        (
            "=%Mq00",
            "blood_group",
            {"special_message": "quarantine/hold for further testing or processing"},
        ),
        (
            "&/CHG123426AB12C3",
            "chain_of_identity",
            {"fin": "G1234", "year": 26, "sequence": "AB12C3"},
        ),
        ("&*0263271200", "collection_date_time", {"iso": "2026-11-23T12:00"}),
    ],
)
def test_other_structures(data, name, fields):
    read = _only(data)
    assert read.name == name
    assert fields.items() <= read.fields.items()


def test_patient_id_length_field_lets_it_concatenate():
    patient, born = parse("&#0105AB123=#0119800101")
    assert (patient.fields["patient_id"], born.fields["date_of_birth"]) == ("AB123", "1980-01-01")


def test_to_dict_is_json_serialisable():
    for structure in parse("=+03000=G12341765432170=<S9999V00&>0263271430"):
        assert json.loads(json.dumps(structure.to_dict()))["structure"] == structure.name


# --- Rejections: each names the problem ----------------------------------------------------------


@pytest.mark.parametrize("data", ["", "   ", "\r\n", "]C0", "]C0\r\n"])
def test_empty_scan(data):
    assert _error(data).message.startswith("Nothing was scanned")


@pytest.mark.parametrize(
    ("data", "position", "character", "words"),
    [
        ("=O12341765432100", 2, "O", "never the letter O"),
        ("=012341765432100", 2, "0", "never zero"),
        ("=g12341765432100", 2, "g", "Caps Lock"),
        ("=G1234176543A100", 13, "A", "sequence number"),
        ("=G123417654321I0", 15, "I", "flag characters"),
        ("=G1234176543210=<S9999V00", 16, "=", "too short"),
        ("=<S9999v00", 8, "v", "Caps Lock"),
        ("=<S9999W00", 8, "W", "types of collection in ISBT 128 Table 7"),
        ("=<S9999V0A", 10, "A", "lower-case letter or digit"),
        ("=<Y1234V00", 4, "1", "YA000 to YZ999"),
        ("=<X1234V00", 8, "V", "must be 000"),
        ("=,0000a1", 7, "a", "capital letters or digits"),
        ("='GO234ABC123", 4, "O", "characters 2 and 3"),
        ("&/CXG123426AB12C3", 4, "X", "starts with the letters CH"),
        ("&>02632714A0", 11, "A", "minute"),
        ("=G123417654 32100", 12, " ", "a space"),
    ],
)
def test_illegal_character_names_position_character_and_rule(data, position, character, words):
    error = _error(data)
    assert error.details["position"] == position
    assert error.details["character"] == character
    assert error.details["rule"]
    assert f"position {position} of the scan" in error.message
    assert words in error.message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("&>0263661430", "numbered 001 to 365"),
        ("&>0263652430", "hours run 00 to 23"),
        ("&>0263651460", "minutes run 00 to 59"),
        ("&>0260001430", "numbered 001 to 365"),
        ("&>1263271430", "century digit"),
        ("=#0119800230", "not a real date"),
        ("=<Z9999V00", "not an ISBT 128 product category"),
        ("&#0100", "holds no patient number"),
        ("=+00000", "announces 0 data structures"),
    ],
)
def test_field_rules(data, words):
    assert words in _error(data).message


def test_day_366_is_fine_in_a_leap_year():
    assert _only("&>0283661430").fields["date"] == "2028-12-31"


def test_type3_flags_that_do_not_match_the_din():
    error = _error("=G12341765432171")
    assert "do not match DIN G123417654321" in error.message
    assert error.details["flags"] == "71"
    assert error.details["position"] == 15


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("=<S9999V0", "needs 8"),
        ("=G123417654321", "needs 15"),
        ("&#0105AB12", "needs 9"),
        ("&>026327", "needs 10"),
        ("=", "not read completely"),
    ],
)
def test_too_short(data, words):
    assert words in _error(data).message


def test_too_long():
    error = _error("=<S9999V00X")
    assert "product code barcode is too long" in error.message
    assert error.details == {"position": 11, "character": "X", "rule": "data identifier"}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("&(12345", "ISBT 128 special testing barcode"),
        ("=)1234567890", "container manufacturer"),
        ("&a12345", "nationally or locally defined"),
        ("=@12345", "'=@' at position 1 of the scan is not an ISBT 128 data identifier"),
        ("hello", "ISBT 128 barcodes start with '=' or '&'"),
        ("01234567890128", "not an ISBT 128 barcode"),
    ],
)
def test_unknown_or_unread_identifiers(data, words):
    assert words in _error(data).message


# --- Compound messages (ST-001 2.4.23) -----------------------------------------------------------


def test_compound_with_fewer_structures_than_announced():
    error = _error("=+03000=G12341765432100=<S9999V00\r\n")
    assert "announces 3 data structures but only 2 were found" in error.message
    assert (error.details["announced"], error.details["found"]) == (3, 2)


def test_compound_with_more_structures_than_announced():
    error = _error("=+01000=G12341765432100=<S9999V00")
    assert "announces 1 data structure but 2 were found" in error.message
    assert (error.details["announced"], error.details["found"]) == (1, 2)


def test_compound_cannot_be_nested():
    assert "cannot be nested" in _error("=+01000=+01000=<S9999V00").message


def test_compound_must_come_first():
    assert "scanned on its own" in _error("=<S9999V00=+01000=<S9999V00").message


def test_nothing_may_come_between_structures_of_a_compound():
    error = _error("=+02000=G12341765432100\r\n=<S9999V00")
    assert error.details["position"] == 24
    assert "2-D barcode" in error.message


def test_compound_with_a_defined_sequence_is_flagged():
    header = parse("=+01001=<S9999V00")[0]
    assert (header.fields["reference"], header.fields["sequence_defined"]) == ("001", True)


# --- Encoders refuse what must not be printed ----------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        ("14", "cannot be printed"),
        ("97", "cannot be printed"),
        ("AB", "cannot be printed"),
        ("0", "cannot be printed"),
        ("71", "not this DIN's own"),
    ],
)
def test_encode_din_refuses_reserved_or_wrong_flags(flags, words):
    with pytest.raises(InvalidBarcode) as caught:
        encode_din(DIN, flags)
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("S9999V0", "8 characters"),
        ("Z9999V00", "not an ISBT 128 product category"),
        ("S99-9V00", "character 4 of the product code S99-9V00"),
        ("S9999V0A", "character 8 of the product code"),
        ("S{0}9V00", "character 2 of the product code S{0}9V00"),
    ],
)
def test_encode_product_code_refuses_bad_codes(code, words):
    with pytest.raises(InvalidBarcode) as caught:
        encode_product_code(code)
    assert words in caught.value.message
    assert "product settings" in caught.value.message


@pytest.mark.parametrize(
    "when", [datetime(1999, 12, 31, 23, 59), datetime(2100, 1, 1), "2026-11-23"]
)
def test_encode_expiry_refuses_what_it_cannot_encode(when):
    with pytest.raises(InvalidBarcode):
        encode_expiry(when)


@pytest.mark.parametrize(
    ("structures", "reference"),
    [
        ([], "000"),
        (["=<S9999V00"] * 100, "000"),
        (["=<S9999V00 "], "000"),
        (["=<S9999V00=G12341765432100"], "000"),
        (["=+01000=<S9999V00"], "000"),
        (["=<S9999V00"], "00"),
        ("=<S9999V00", "000"),
    ],
)
def test_encode_compound_refuses_bad_input(structures, reference):
    with pytest.raises(InvalidBarcode):
        encode_compound(structures, reference)


# --- Fuzz: never any other exception -------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(code=st.text(max_size=10))
def test_encode_product_code_raises_only_invalid_barcode(code):
    try:
        assert parse(encode_product_code(code))[0].fields["product_code"] == code
    except InvalidBarcode as error:
        assert error.message


def _parse_or_invalid(data: str) -> None:
    try:
        structures = parse(data)
    except InvalidBarcode as error:
        assert error.message
        json.dumps(error.details)
    else:
        assert structures
        json.dumps([s.to_dict() for s in structures])


@settings(max_examples=200, deadline=None)
@given(data=st.text())
def test_any_text_parses_or_raises_invalid_barcode(data):
    _parse_or_invalid(data)


@settings(max_examples=200, deadline=None)
@given(data=st.text(alphabet="=&<>*,'#%/+}CHGSVYA0123456789 ]\r\n\u0661", max_size=60))
def test_isbt_like_text_parses_or_raises_invalid_barcode(data):
    _parse_or_invalid(data)


@settings(max_examples=150, deadline=None)
@given(
    valid=st.sampled_from(
        [
            "=+03000=G12341765432170=<S9999V99=,0000A1",
            "&#0105AB123=#0119800101",
            "]C0=<S9999V00&>0263271430\r\n",
        ]
    ),
    data=st.data(),
)
def test_damaged_valid_scans_parse_or_raise_invalid_barcode(valid, data):
    position = data.draw(st.integers(0, len(valid) - 1))
    replacement = data.draw(st.text(max_size=3))
    _parse_or_invalid(valid[:position] + replacement + valid[position + 1 :])


# --- Encoders: exactly what they write and what they refuse ---------------------------------------

FLAG_CHOICES = (
    "00 (no flag), 01 to 13 or 15 to 19 (ICCBBA flags, e.g. container 1 to 9 of a set), 20 to 59 "
    "(flags this facility defines) or the DIN's own check flags from type3_flags()"
)
PRODUCT_FIX = "Correct the product code in the product settings."


def _refusal(function, *args) -> tuple[str, dict]:
    with pytest.raises(InvalidBarcode) as refused:
        function(*args)
    return refused.value.message, refused.value.details


@pytest.mark.parametrize(
    ("flags", "data"),
    [
        ("00", "=G12341765432100"),
        ("03", "=G12341765432103"),
        ("13", "=G12341765432113"),
        ("15", "=G12341765432115"),
        ("20", "=G12341765432120"),
        ("59", "=G12341765432159"),
        ("70", "=G12341765432170"),  # G123417654321's own check flags
    ],
)
def test_encode_din_writes_equals_din_flags(flags, data):
    assert encode_din(DIN, flags) == data
    assert encode_din("g1234 17 654321", flags) == data


@pytest.mark.parametrize(
    ("flags", "refusal"),
    [
        (
            "14",
            (
                f"The DIN flags '14' cannot be printed: use {FLAG_CHOICES}.",
                {"flags": "14", "rule": "DIN flag values (ST-001 Table 3)"},
            ),
        ),
        (
            7,
            (
                f"The DIN flags 7 cannot be printed: use {FLAG_CHOICES}.",
                {"flags": "7", "rule": "DIN flag values (ST-001 Table 3)"},
            ),
        ),
        (
            "71",
            (
                "The DIN flags 71 are check flags (60 to 96) but not this DIN's own: compute them "
                "with type3_flags().",
                {"flags": "71", "rule": "Type 3 flags = 60 + MOD 37-2 check value"},
            ),
        ),
    ],
)
def test_encode_din_refusals_exactly(flags, refusal):
    assert _refusal(encode_din, DIN, flags) == refusal


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        (
            "S9999V0",
            (
                "A product code has 8 characters (a 5-character product description code, the "
                f"type of collection and a 2-character division), not 7. {PRODUCT_FIX}",
                {"length": 7, "rule": "product code length 8"},
            ),
        ),
        (
            None,
            (
                "A product code has 8 characters (a 5-character product description code, the "
                f"type of collection and a 2-character division), not 0. {PRODUCT_FIX}",
                {"length": 0, "rule": "product code length 8"},
            ),
        ),
        (
            "S99-9V00",
            (
                "The product code barcode is not valid: character 4 of the product code S99-9V00 "
                "is '-', but characters 2 to 5 of a product code must be capital letters or "
                f"digits. {PRODUCT_FIX}",
                {
                    "position": 4,
                    "character": "-",
                    "rule": "characters 2 to 5 of a product code must be capital letters or digits",
                },
            ),
        ),
        (
            "Z9999V00",
            (
                "The product code barcode is not valid: it starts with the letter Z (character 1 "
                "of the product code Z9999V00), which is not an ISBT 128 product category. "
                f"{PRODUCT_FIX}",
                {"position": 1, "rule": "product category letter", "character": "Z"},
            ),
        ),
    ],
)
def test_encode_product_code_refusals_exactly(code, refusal):
    assert _refusal(encode_product_code, code) == refusal


@pytest.mark.parametrize(
    ("when", "expiry"),
    [
        (datetime(2000, 1, 1, 0, 0), "&>0000010000"),  # the first minute that can be encoded
        (datetime(2099, 12, 31, 23, 59, 59), "&>0993652359"),  # the last; seconds are dropped
        (datetime(2028, 12, 31, 7, 5), "&>0283660705"),  # day 366 of a leap year
    ],
)
def test_encode_dates_at_the_edges_of_the_century(when, expiry):
    assert encode_expiry(when) == expiry
    assert encode_collection(when) == "&*" + expiry[2:]


@pytest.mark.parametrize(
    ("function", "when", "refusal"),
    [
        (
            encode_expiry,
            datetime(1999, 12, 31, 23, 59),
            (
                "The expiry date 1999-12-31 cannot be encoded: only the years 2000 to 2099 can.",
                {"rule": "years 2000-2099"},
            ),
        ),
        (
            encode_collection,
            datetime(2100, 1, 1),
            (
                "The collection date 2100-01-01 cannot be encoded: only the years 2000 to 2099 "
                "can.",
                {"rule": "years 2000-2099"},
            ),
        ),
        (
            encode_expiry,
            date(2026, 1, 1),
            ("The expiry date must be a date with a time of day.", {"rule": "datetime"}),
        ),
        (
            encode_collection,
            "2026-01-01",
            ("The collection date must be a date with a time of day.", {"rule": "datetime"}),
        ),
    ],
)
def test_encode_dates_refusals_exactly(function, when, refusal):
    assert _refusal(function, when) == refusal


COUNT_REFUSAL = (
    "A compound message holds 1 to 99 data structures, given as a list of barcode data.",
    {"rule": "compound count aa 01-99"},
)


def test_encode_compound_holds_one_to_99_structures():
    assert encode_compound(["=<S9999V00"]) == "=+01000=<S9999V00"
    assert encode_compound(("=<S9999V00",), "001") == "=+01001=<S9999V00"
    assert encode_compound(["=<S9999V00"] * 99) == "=+99000" + "=<S9999V00" * 99
    assert _refusal(encode_compound, ["=<S9999V00"] * 100) == COUNT_REFUSAL
    assert _refusal(encode_compound, []) == COUNT_REFUSAL
    assert _refusal(encode_compound, "=<S9999V00") == COUNT_REFUSAL


@pytest.mark.parametrize(
    ("structures", "item"),
    [
        (["=<S9999V00", None], 2),
        (["=<S9999V00", "=+01000=<S9999V00"], 2),
        (["=<S9999V00 "], 1),
        (["=<S9999V00", "=<S9999V00", "=<S9999V00=G12341765432100"], 3),
    ],
)
def test_encode_compound_names_the_item_that_is_not_one_structure(structures, item):
    assert _refusal(encode_compound, structures) == (
        f"Item {item} of the compound message must be exactly one ISBT 128 data structure (not "
        "a compound message), with nothing before or after it.",
        {"item": item, "rule": "one structure per item"},
    )


@pytest.mark.parametrize("reference", ["00", "0000", "0a0", 0, None])
def test_encode_compound_reference_must_be_three_digits(reference):
    assert _refusal(encode_compound, ["=<S9999V00"], reference) == (
        "The compound message reference must be 3 digits (000 for no set order), not "
        f"{reference!r}.",
        {"rule": "compound reference bbb"},
    )
