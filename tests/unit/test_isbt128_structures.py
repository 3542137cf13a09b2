"""Every ISBT 128 structure this system reads, field by field, and every refusal word for word.

Product codes are made up (the ICCBBA database is licensed). The refusals are pinned exactly,
message and details, because the scan station shows the one and the API returns the other: a
nurse or technician acts on which position, which character and which rule they name.
"""

from __future__ import annotations

import pytest

from custody.domain.errors import InvalidBarcode
from custody.domain.isbt128 import parse
from custody.domain.isbt128_structures import Reading, date_spec, flag_kind

DIN_RESCAN = (
    "Rescan the bag's DIN barcode. If it still fails, type the DIN and the boxed check "
    "character printed beside it."
)
COMPOUND_RESCAN = (
    "Rescan the square 2-D barcode; if it still fails, scan the separate barcodes instead."
)
RESCAN = "Rescan the barcode, and check it is the barcode this step asks for."


def _only(data: str) -> dict:
    (structure,) = parse(data)
    return structure.to_dict()


def test_a_din_reads_into_all_its_fields():
    assert _only("=G12341765432100") == {
        "structure": "donation_identification_number",
        "data_identifier": "=",
        "data": "=G12341765432100",
        "position": 1,
        "din": "G123417654321",
        "fin": "G1234",
        "year": 17,
        "sequence": "654321",
        "flags": "00",
        "flag_kind": "unused",
        "flag_meaning": "flag not used",
        "container": None,
        "check_character": "A",
        "eye_readable": "G1234 17 654321",
    }


@pytest.mark.parametrize(
    ("flags", "kind", "meaning", "container"),
    [
        # ST-001 Table 3 [RT004]: G123417654321's own check flags are 70 (K = "A", value 10).
        ("70", "check", "Type 3 flag: MOD 37-2 check of the DIN", None),
        ("01", "container", "container 1 of a set", 1),
        ("04", "container", "container 4 of a set", 4),
        ("15", "container", "container 5 of a set", 5),
        ("19", "container", "container 9 of a set", 9),
        ("05", "process_control", "second (or repeated) demand-printed label", None),
        ("13", "process_control", "attached label (used with an affixed partial label)", None),
        ("20", "local", "Type 2 flag, defined by the facility that assigned the DIN", None),
        ("59", "local", "Type 2 flag, defined by the facility that assigned the DIN", None),
        ("14", "reserved", "reserved by ICCBBA for future assignment", None),
        ("97", "reserved", "reserved by ICCBBA for future assignment", None),
        ("AB", "reserved", "reserved by ICCBBA for future assignment", None),
        ("1A", "reserved", "reserved by ICCBBA for future assignment", None),
    ],
)
def test_din_flags_read_as_table_3_says(flags, kind, meaning, container):
    fields = _only(f"=G123417654321{flags}")
    assert (fields["flags"], fields["flag_kind"], fields["flag_meaning"]) == (flags, kind, meaning)
    assert fields["container"] == container


@pytest.mark.parametrize("flags", ["60", "96"])
def test_check_flags_at_the_ends_of_their_range_are_checked_against_the_din(flags):
    # 60 and 96 are check flags (60 + 0, 60 + 36), and not G123417654321's own (70).
    with pytest.raises(InvalidBarcode, match=f"its flag characters {flags} "):
        parse(f"=G123417654321{flags}")


def test_a_product_code_reads_into_all_its_fields():
    assert _only("=<S9999V00") == {
        "structure": "product_code",
        "data_identifier": "=<",
        "data": "=<S9999V00",
        "position": 1,
        "product_code": "S9999V00",
        "product_description_code": "S9999",
        "category": "cellular therapy",
        "collection_type": "V",
        "collection_type_meaning": "volunteer homologous (allogeneic)",
        "division": "00",
        "divisions_required": False,
    }


VOLUNTEER = "volunteer homologous (allogeneic)"


@pytest.mark.parametrize(
    ("code", "category", "collection_type", "meaning", "division", "divisions_required"),
    [
        # Ending 99 in the categories whose divisions continue in a "=," barcode (2.4.32).
        ("S9999V99", "cellular therapy", "V", VOLUNTEER, "99", True),
        ("YA001V99", "clinical trial", "V", VOLUNTEER, "99", True),
        ("P1234V99", "regenerated tissue", "V", VOLUNTEER, "99", True),
        ("E0001V99", "blood", "V", VOLUNTEER, "99", False),
        ("F0001A00", "blood", "A", "autologous, eligible for crossover", "00", False),
        ("H1234V00", "MPHO with INN or USAN name", "V", VOLUNTEER, "00", False),
        # M, N, R, T, V, W: tds are three digits, no type of collection.
        ("M1234012", "other therapies", None, None, "012", False),
        ("N1234099", "organ", None, None, "099", False),
        ("R1234000", "reproductive tissue", None, None, "000", False),
        ("T1234000", "tissue", None, None, "000", False),
        ("V1234000", "ocular tissue", None, None, "000", False),
        ("W1234000", "fecal microbiota", None, None, "000", False),
        # X: 000 except X0 (plasma derivatives, with a type of collection); X5: MPHO.
        ("X1234000", "other blood product", None, None, "000", False),
        ("X0234V00", "plasma derivative", "V", VOLUNTEER, "00", False),
        ("X5234000", "in vivo diagnostic MPHO", None, None, "000", False),
        # A-D: national or local codes; the facility defines tds, so no meaning is given.
        ("D1234v00", "national or local", "v", None, "00", False),
        ("DAB12V00", "local", "V", None, "00", False),
        ("A1234V0a", "national or local", "V", None, "0a", False),
        ("AB123V00", "national", "V", None, "00", False),
        ("C12A4V00", "national", "V", None, "00", False),
    ],
)
def test_product_codes_read_by_category(
    code, category, collection_type, meaning, division, divisions_required
):
    fields = _only(f"=<{code}")
    assert (
        fields["product_code"],
        fields["product_description_code"],
        fields["category"],
        fields["collection_type"],
        fields["collection_type_meaning"],
        fields["division"],
        fields["divisions_required"],
    ) == (code, code[:5], category, collection_type, meaning, division, divisions_required)


@pytest.mark.parametrize(
    ("data", "name", "date", "time", "time_given"),
    [
        # cyyjjjhhmm: 2026, day 327 = 23 November.
        ("&>0263271430", "expiration_date_time", "2026-11-23", "14:30", True),
        # A date without a time means 23:59 (ST-001 2.4.5).
        ("=>026327", "expiration_date", "2026-11-23", "23:59", False),
        ("&*0260010000", "collection_date_time", "2026-01-01", "00:00", True),
        # 2028 is a leap year: day 366 is 31 December.
        ("=*028366", "collection_date", "2028-12-31", "23:59", False),
        ("&}0263652359", "production_date_time", "2026-12-31", "23:59", True),
        ("=}026001", "production_date", "2026-01-01", "23:59", False),
    ],
)
def test_dates_read_as_wall_clock_date_and_time(data, name, date, time, time_given):
    assert _only(data) == {
        "structure": name,
        "data_identifier": data[:2],
        "data": data,
        "position": 1,
        "date": date,
        "time": time,
        "iso": f"{date}T{time}",
        "time_given": time_given,
    }


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ("=,0000A1", {"divisions": "0000A1"}),
        ("='G1234ABC123", {"staff_id": "G1234ABC123", "fin": "G1234", "staff_number": "ABC123"}),
        ("&#0105AB123", {"location_code": "01", "length": 5, "patient_id": "AB123"}),
        ("&#0001Z", {"location_code": "00", "length": 1, "patient_id": "Z"}),
        ("&#0099" + "9" * 99, {"location_code": "00", "length": 99, "patient_id": "9" * 99}),
        ("=#0019611225", {"location_code": "00", "date_of_birth": "1961-12-25"}),
        (
            "=%62A1",
            {
                "blood_group_code": "62",
                "abo_rh": "A RhD positive",
                "intended_use": "intended use not specified",
                "special_message": None,
                "phenotype_code": "A",
            },
        ),
        (
            "=%9700",
            {
                "blood_group_code": "97",
                "abo_rh": "O RhD negative",
                "intended_use": "for autologous use only",
                "special_message": None,
                "phenotype_code": "0",
            },
        ),
        (
            "=%Mq00",
            {
                "blood_group_code": "Mq",
                "abo_rh": None,
                "intended_use": None,
                "special_message": "quarantine/hold for further testing or processing",
                "phenotype_code": "0",
            },
        ),
        (
            "=%ZZA0",
            {
                "blood_group_code": "ZZ",
                "abo_rh": None,
                "intended_use": None,
                "special_message": None,
                "phenotype_code": "A",
            },
        ),
        (
            "&/CHG123426AB12C3",
            {"coi": "CHG123426AB12C3", "fin": "G1234", "year": 26, "sequence": "AB12C3"},
        ),
    ],
)
def test_the_other_structures_read_into_their_fields(data, fields):
    read = _only(data)
    assert read == {
        "structure": read["structure"],
        "data_identifier": data[:2],
        "data": data,
        "position": 1,
        **fields,
    }


@pytest.mark.parametrize(
    ("data", "header"),
    [
        ("=+01001=<S9999V00", {"count": 1, "reference": "001", "sequence_defined": True}),
        ("=+01000=<S9999V00", {"count": 1, "reference": "000", "sequence_defined": False}),
        ("=+01100=<S9999V00", {"count": 1, "reference": "100", "sequence_defined": True}),
    ],
)
def test_a_compound_header_says_how_many_and_in_which_order(data, header):
    compound, product = parse(data)
    assert compound.to_dict() == {
        "structure": "compound_message",
        "data_identifier": "=+",
        "data": data[:7],
        "position": 1,
        **header,
    }
    assert (product.name, product.position, product.raw) == ("product_code", 8, "=<S9999V00")


@pytest.mark.parametrize(
    ("data", "names"),
    [
        # Scanners may prefix a read with a symbology identifier: "]" + letter + letter or digit.
        ("]C0=<S9999V00", ["product_code"]),
        ("]d1=+01000=<S9999V00", ["compound_message", "product_code"]),
        ("=<S9999V00]C0&>0263271430", ["product_code", "expiration_date_time"]),
        ("=<S9999V00\t\v\f&>0263271430\r\n", ["product_code", "expiration_date_time"]),
    ],
)
def test_between_reads_blanks_and_symbology_identifiers_are_skipped(data, names):
    assert [s.name for s in parse(data)] == names


@pytest.mark.parametrize("data", ["=<S9999V00]C", "=<S9999V00]1A", "=<S9999V00]C!", "=<S9999V00]"])
def test_a_bracket_that_is_not_a_whole_symbology_identifier_is_not_skipped(data):
    with pytest.raises(InvalidBarcode) as refused:
        parse(data)
    assert refused.value.details == {"position": 11, "character": "]", "rule": "data identifier"}


def test_a_structure_cut_short_by_the_end_of_the_scan_says_how_much_it_has():
    with pytest.raises(InvalidBarcode) as refused:
        parse("=<")
    assert refused.value.message == (
        "The product code barcode is incomplete: it has 0 characters after its identifier at "
        "position 1, but needs 8. Rescan the product code barcode."
    )
    with pytest.raises(InvalidBarcode) as refused:
        parse("=<S9999V00&>02632")
    assert refused.value.details == {
        "position": 11,
        "found": 5,
        "needed": 10,
        "rule": "expiration_date_time length",
    }


def test_a_scan_that_is_not_text_is_nothing_scanned():
    with pytest.raises(InvalidBarcode) as refused:
        parse(None)
    assert refused.value.message == (
        "Nothing was scanned: the scan was empty. Scan the barcode again, holding the scanner "
        "steady until it beeps."
    )
    assert refused.value.details == {"rule": "scan required"}


REFUSALS = [
    (
        "=O12341765432100",
        "The DIN barcode is not valid: position 2 of the scan is the letter O, but the first "
        "character of a facility number must be a letter A to N or P to Z, or a digit 1 to 9 "
        f"(never the letter O and never zero). {DIN_RESCAN}",
        {
            "position": 2,
            "character": "O",
            "rule": "the first character of a facility number must be a letter A to N or P to Z, "
            "or a digit 1 to 9 (never the letter O and never zero)",
        },
    ),
    (
        "=GO2341765432100",
        "The DIN barcode is not valid: position 3 of the scan is the letter O, but "
        "characters 2 and 3 of a facility number must be digits or letters (never the letter "
        f"O). {DIN_RESCAN}",
        {
            "position": 3,
            "character": "O",
            "rule": "characters 2 and 3 of a facility number must be digits or letters (never the "
            "letter O)",
        },
    ),
    (
        "=G12A41765432100",
        "The DIN barcode is not valid: position 5 of the scan is the letter A, but "
        f"characters 4 and 5 of a facility number must be digits. {DIN_RESCAN}",
        {
            "position": 5,
            "character": "A",
            "rule": "characters 4 and 5 of a facility number must be digits",
        },
    ),
    (
        "=G1234X765432100",
        "The DIN barcode is not valid: position 7 of the scan is the letter X, but the "
        f"2-digit year (characters 6 and 7 of the DIN) must be digits. {DIN_RESCAN}",
        {
            "position": 7,
            "character": "X",
            "rule": "the 2-digit year (characters 6 and 7 of the DIN) must be digits",
        },
    ),
    (
        "=G12341765432X00",
        "The DIN barcode is not valid: position 14 of the scan is the letter X, but the "
        f"6-digit sequence number (characters 8 to 13) must be digits. {DIN_RESCAN}",
        {
            "position": 14,
            "character": "X",
            "rule": "the 6-digit sequence number (characters 8 to 13) must be digits",
        },
    ),
    (
        "=G123417654321I0",
        "The DIN barcode is not valid: position 15 of the scan is the letter I, but flag "
        f"characters must be digits or the letters A to H, J to N, P or R to Y. {DIN_RESCAN}",
        {
            "position": 15,
            "character": "I",
            "rule": "flag characters must be digits or the letters A to H, J to N, P or R to Y",
        },
    ),
    (
        "=G12341765432171",
        "The DIN barcode is not valid: its flag characters 71 (position 15 of the scan and "
        "the next) are a check of the DIN but do not match DIN G123417654321, so the barcode "
        f"is damaged, misread or misprinted. {DIN_RESCAN}",
        {
            "position": 15,
            "rule": "Type 3 flags = 60 + MOD 37-2 check value",
            "din": "G123417654321",
            "flags": "71",
        },
    ),
    (
        "=g12341765432100",
        "The DIN barcode is not valid: position 2 of the scan is the lower-case letter g (a "
        "lower-case letter: check that Caps Lock is off), but the first character of a "
        "facility number must be a letter A to N or P to Z, or a digit 1 to 9 (never the "
        f"letter O and never zero). {DIN_RESCAN}",
        {
            "position": 2,
            "character": "g",
            "rule": "the first character of a facility number must be a letter A to N or P to Z, "
            "or a digit 1 to 9 (never the letter O and never zero)",
        },
    ),
    (
        "=G1234176543210=<S9999V00",
        "The DIN barcode is not valid: position 16 of the scan is '=' (this starts another "
        "barcode, so this one is too short), but flag characters must be digits or the "
        f"letters A to H, J to N, P or R to Y. {DIN_RESCAN}",
        {
            "position": 16,
            "character": "=",
            "rule": "flag characters must be digits or the letters A to H, J to N, P or R to Y",
        },
    ),
    (
        "=<Z9999V00",
        "The product code barcode is not valid: it starts with the letter Z (position 3 of "
        "the scan), which is not an ISBT 128 product category. Rescan the product code "
        "barcode.",
        {"position": 3, "rule": "product category letter", "character": "Z"},
    ),
    (
        "=<s9999V00",
        "The product code barcode is not valid: position 3 of the scan is the lower-case "
        "letter s (a lower-case letter: check that Caps Lock is off), but a product code "
        "starts with a capital letter. Rescan the product code barcode.",
        {"position": 3, "character": "s", "rule": "a product code starts with a capital letter"},
    ),
    (
        "=<ı9999V00",
        "The product code barcode is not valid: position 3 of the scan is 'ı' (code U+0131, "
        "not a plain letter or digit), but a product code starts with a capital letter. "
        "Rescan the product code barcode.",
        {"position": 3, "character": "ı", "rule": "a product code starts with a capital letter"},
    ),
    (
        "=<S99-9V00",
        "The product code barcode is not valid: position 6 of the scan is '-', but "
        "characters 2 to 5 of a product code must be capital letters or digits. Rescan the "
        "product code barcode.",
        {
            "position": 6,
            "character": "-",
            "rule": "characters 2 to 5 of a product code must be capital letters or digits",
        },
    ),
    (
        "=<S9999W00",
        "The product code barcode is not valid: position 8 of the scan is the letter W, but "
        "the 6th character (type of collection) must be one of the types of collection in "
        "ISBT 128 Table 7. Rescan the product code barcode.",
        {
            "position": 8,
            "character": "W",
            "rule": "the 6th character (type of collection) must be one of the types of "
            "collection in ISBT 128 Table 7",
        },
    ),
    (
        "=<S9999Va0",
        "The product code barcode is not valid: position 9 of the scan is the lower-case "
        "letter a (a lower-case letter: check that Caps Lock is off), but the 7th character "
        "(division) must be a capital letter or digit. Rescan the product code barcode.",
        {
            "position": 9,
            "character": "a",
            "rule": "the 7th character (division) must be a capital letter or digit",
        },
    ),
    (
        "=<S9999V0A",
        "The product code barcode is not valid: position 10 of the scan is the letter A, but "
        "the 8th character (division) must be a lower-case letter or digit. Rescan the "
        "product code barcode.",
        {
            "position": 10,
            "character": "A",
            "rule": "the 8th character (division) must be a lower-case letter or digit",
        },
    ),
    (
        "=<YA12AV00",
        "The product code barcode is not valid: position 7 of the scan is the letter A, but "
        "a clinical-trial product code is YA000 to YZ999 (Y, a letter, 3 digits). Rescan the "
        "product code barcode.",
        {
            "position": 7,
            "character": "A",
            "rule": "a clinical-trial product code is YA000 to YZ999 (Y, a letter, 3 digits)",
        },
    ),
    (
        "=<Y1234V00",
        "The product code barcode is not valid: position 4 of the scan is the digit 1, but a "
        "clinical-trial product code is YA000 to YZ999 (Y, a letter, 3 digits). Rescan the "
        "product code barcode.",
        {
            "position": 4,
            "character": "1",
            "rule": "a clinical-trial product code is YA000 to YZ999 (Y, a letter, 3 digits)",
        },
    ),
    (
        "=<M1234A00",
        "The product code barcode is not valid: position 8 of the scan is the letter A, but "
        "characters 6 to 8 (division code) must be digits for this kind of product. Rescan "
        "the product code barcode.",
        {
            "position": 8,
            "character": "A",
            "rule": "characters 6 to 8 (division code) must be digits for this kind of product",
        },
    ),
    (
        "=<X1234100",
        "The product code barcode is not valid: position 8 of the scan is the digit 1, but "
        "characters 6 to 8 must be 000 for this kind of product. Rescan the product code "
        "barcode.",
        {
            "position": 8,
            "character": "1",
            "rule": "characters 6 to 8 must be 000 for this kind of product",
        },
    ),
    (
        "&>1263271430",
        "The expiry date and time barcode is not valid: the century digit (position 3 of the "
        "scan) is 1, but this system reads dates in the years 2000 to 2099 only (century "
        "digit 0). Rescan the expiry date and time barcode.",
        {"position": 3, "rule": "century digit 0"},
    ),
    (
        "&>0260001430",
        "The expiry date and time barcode is not valid: the day of the year (position 6 of "
        "the scan and the next 2) is 000, but days in 2026 are numbered 001 to 365. Rescan "
        "the expiry date and time barcode.",
        {"position": 6, "rule": "day of year 001-365"},
    ),
    (
        "&>0263661430",
        "The expiry date and time barcode is not valid: the day of the year (position 6 of "
        "the scan and the next 2) is 366, but days in 2026 are numbered 001 to 365. Rescan "
        "the expiry date and time barcode.",
        {"position": 6, "rule": "day of year 001-365"},
    ),
    (
        "&>0263652430",
        "The expiry date and time barcode is not valid: the hour (position 9 of the scan and "
        "the next) is 24, but hours run 00 to 23. Rescan the expiry date and time barcode.",
        {"position": 9, "rule": "hour 00-23"},
    ),
    (
        "&>0263651460",
        "The expiry date and time barcode is not valid: the minute (position 11 of the scan "
        "and the next) is 60, but minutes run 00 to 59. Rescan the expiry date and time "
        "barcode.",
        {"position": 11, "rule": "minute 00-59"},
    ),
    (
        "&>02632714A0",
        "The expiry date and time barcode is not valid: position 11 of the scan is the "
        "letter A, but the minute must be 2 digits. Rescan the expiry date and time barcode.",
        {"position": 11, "character": "A", "rule": "the minute must be 2 digits"},
    ),
    (
        "=>0A6327",
        "The expiry date barcode is not valid: position 4 of the scan is the letter A, but "
        "the year must be 2 digits. Rescan the expiry date barcode.",
        {"position": 4, "character": "A", "rule": "the year must be 2 digits"},
    ),
    (
        "=,0000a1",
        "The product divisions barcode is not valid: position 7 of the scan is the "
        "lower-case letter a (a lower-case letter: check that Caps Lock is off), but a "
        "product divisions code is 6 capital letters or digits. Rescan the product divisions "
        "barcode.",
        {
            "position": 7,
            "character": "a",
            "rule": "a product divisions code is 6 capital letters or digits",
        },
    ),
    (
        "='GO234ABC123",
        "The staff ID barcode is not valid: position 4 of the scan is the letter O, but "
        "characters 2 and 3 of a facility number must be digits or letters (never the letter "
        "O). Rescan the staff ID barcode.",
        {
            "position": 4,
            "character": "O",
            "rule": "characters 2 and 3 of a facility number must be digits or letters (never the "
            "letter O)",
        },
    ),
    (
        "='G1234abc123",
        "The staff ID barcode is not valid: position 8 of the scan is the lower-case letter "
        "a (a lower-case letter: check that Caps Lock is off), but a staff number is 6 "
        "capital letters or digits. Rescan the staff ID barcode.",
        {"position": 8, "character": "a", "rule": "a staff number is 6 capital letters or digits"},
    ),
    (
        "&#0A05AB123",
        "The patient ID barcode is not valid: position 4 of the scan is the letter A, but "
        "the location code (2 characters after the identifier) must be digits. Rescan the "
        "patient ID barcode.",
        {
            "position": 4,
            "character": "A",
            "rule": "the location code (2 characters after the identifier) must be digits",
        },
    ),
    (
        "&#01A5AB123",
        "The patient ID barcode is not valid: position 5 of the scan is the letter A, but "
        "the length of the patient number (characters 3 and 4) must be digits. Rescan the "
        "patient ID barcode.",
        {
            "position": 5,
            "character": "A",
            "rule": "the length of the patient number (characters 3 and 4) must be digits",
        },
    ),
    (
        "&#0100",
        "The patient ID barcode is not valid: its length field (position 5 of the scan and "
        "the next) is 00, so it holds no patient number. Rescan the patient ID barcode.",
        {"position": 5, "rule": "patient number length 01-99"},
    ),
    (
        "&#0105AB-23",
        "The patient ID barcode is not valid: position 9 of the scan is '-', but a patient "
        "number has letters and digits only. Rescan the patient ID barcode.",
        {"position": 9, "character": "-", "rule": "a patient number has letters and digits only"},
    ),
    (
        "=#0119800230",
        "The patient date of birth barcode is not valid: 19800230 (from position 5 of the "
        "scan) is not a real date (year, month, day). Rescan the patient date of birth "
        "barcode.",
        {"position": 5, "rule": "real date yyyymmdd"},
    ),
    (
        "=#01198001A1",
        "The patient date of birth barcode is not valid: position 11 of the scan is the "
        "letter A, but a location code and a date of birth are digits. Rescan the patient "
        "date of birth barcode.",
        {
            "position": 11,
            "character": "A",
            "rule": "a location code and a date of birth are digits",
        },
    ),
    (
        "=#0A19800101",
        "The patient date of birth barcode is not valid: position 4 of the scan is the "
        "letter A, but a location code and a date of birth are digits. Rescan the patient "
        "date of birth barcode.",
        {"position": 4, "character": "A", "rule": "a location code and a date of birth are digits"},
    ),
    (
        "=%62a0",
        "The blood group barcode is not valid: position 5 of the scan is the lower-case "
        "letter a (a lower-case letter: check that Caps Lock is off), but the phenotype "
        "character must be a capital letter or digit. Rescan the blood group barcode.",
        {
            "position": 5,
            "character": "a",
            "rule": "the phenotype character must be a capital letter or digit",
        },
    ),
    (
        "=%620a",
        "The blood group barcode is not valid: position 6 of the scan is the lower-case "
        "letter a (a lower-case letter: check that Caps Lock is off), but the last character "
        "must be a capital letter or digit. Rescan the blood group barcode.",
        {
            "position": 6,
            "character": "a",
            "rule": "the last character must be a capital letter or digit",
        },
    ),
    (
        "=%6-00",
        "The blood group barcode is not valid: position 4 of the scan is '-', but a blood "
        "group code is 2 letters or digits. Rescan the blood group barcode.",
        {"position": 4, "character": "-", "rule": "a blood group code is 2 letters or digits"},
    ),
    (
        "&/CXG123426AB12C3",
        "The chain of identity barcode is not valid: position 4 of the scan is the letter X, "
        "but a chain of identity identifier starts with the letters CH. Rescan the chain of "
        "identity barcode.",
        {
            "position": 4,
            "character": "X",
            "rule": "a chain of identity identifier starts with the letters CH",
        },
    ),
    (
        "&/XHG123426AB12C3",
        "The chain of identity barcode is not valid: position 3 of the scan is the letter X, "
        "but a chain of identity identifier starts with the letters CH. Rescan the chain of "
        "identity barcode.",
        {
            "position": 3,
            "character": "X",
            "rule": "a chain of identity identifier starts with the letters CH",
        },
    ),
    (
        "&/CHG1234X6AB12C3",
        "The chain of identity barcode is not valid: position 10 of the scan is the letter "
        "X, but the 2-digit year must be digits. Rescan the chain of identity barcode.",
        {"position": 10, "character": "X", "rule": "the 2-digit year must be digits"},
    ),
    (
        "&/CHG123426ab12c3",
        "The chain of identity barcode is not valid: position 12 of the scan is the "
        "lower-case letter a (a lower-case letter: check that Caps Lock is off), but the "
        "6-character sequence must be capital letters or digits. Rescan the chain of "
        "identity barcode.",
        {
            "position": 12,
            "character": "a",
            "rule": "the 6-character sequence must be capital letters or digits",
        },
    ),
    (
        "=+0A000=<S9999V00",
        "The 2-D barcode is not valid: position 4 of the scan is the letter A, but the "
        f"number of structures (2 characters) must be digits. {COMPOUND_RESCAN}",
        {
            "position": 4,
            "character": "A",
            "rule": "the number of structures (2 characters) must be digits",
        },
    ),
    (
        "=+01A00=<S9999V00",
        "The 2-D barcode is not valid: position 5 of the scan is the letter A, but the "
        f"message reference (3 characters) must be digits. {COMPOUND_RESCAN}",
        {
            "position": 5,
            "character": "A",
            "rule": "the message reference (3 characters) must be digits",
        },
    ),
    (
        "=+00000",
        f"The 2-D barcode is not valid: it announces 0 data structures. {COMPOUND_RESCAN}",
        {"position": 3, "rule": "at least 1 structure"},
    ),
    (
        "",
        "Nothing was scanned: the scan was empty. Scan the barcode again, holding the "
        "scanner steady until it beeps.",
        {"rule": "scan required"},
    ),
    (
        "  \r\n",
        "Nothing was scanned: the scan was empty. Scan the barcode again, holding the "
        "scanner steady until it beeps.",
        {"rule": "scan required"},
    ),
    (
        "hello",
        "This is not an ISBT 128 barcode: position 1 of the scan is the lower-case letter h, "
        f"but ISBT 128 barcodes start with '=' or '&'. {RESCAN}",
        {"position": 1, "character": "h", "rule": "data identifier"},
    ),
    (
        "=<S9999V00X",
        "The product code barcode is too long or followed by something that is not ISBT 128: "
        "after it ends at position 10, position 11 is the letter X. Rescan the product code "
        "barcode.",
        {"position": 11, "character": "X", "rule": "data identifier"},
    ),
    (
        "=<S9999V00 X",
        "The product code barcode is too long or followed by something that is not ISBT 128: "
        "after it ends at position 11, position 12 is the letter X. Rescan the product code "
        "barcode.",
        {"position": 12, "character": "X", "rule": "data identifier"},
    ),
    (
        "=",
        "The scan ends right after '=' at position 1: the barcode was not read "
        f"completely. {RESCAN}",
        {"position": 1, "rule": "data identifier"},
    ),
    (
        "&",
        "The scan ends right after '&' at position 1: the barcode was not read "
        f"completely. {RESCAN}",
        {"position": 1, "rule": "data identifier"},
    ),
    (
        "=<S9999V0",
        "The product code barcode is incomplete: it has 7 characters after its identifier at "
        "position 1, but needs 8. Rescan the product code barcode.",
        {"position": 1, "found": 7, "needed": 8, "rule": "product_code length"},
    ),
    (
        "&#0105AB12",
        "The patient ID barcode is incomplete: it has 8 characters after its identifier at "
        "position 1, but needs 9. Rescan the patient ID barcode.",
        {"position": 1, "found": 8, "needed": 9, "rule": "patient_id length"},
    ),
    (
        "&#01",
        "The patient ID barcode is incomplete: it has 2 characters after its identifier at "
        "position 1, but needs 4. Rescan the patient ID barcode.",
        {"position": 1, "found": 2, "needed": 4, "rule": "patient_id length"},
    ),
    (
        "&>026327",
        "The expiry date and time barcode is incomplete: it has 6 characters after its "
        "identifier at position 1, but needs 10. Rescan the expiry date and time barcode.",
        {"position": 1, "found": 6, "needed": 10, "rule": "expiration_date_time length"},
    ),
    (
        "&(12345",
        "This is an ISBT 128 special testing barcode (it starts with '&(' at position 1), "
        "which this system does not read here. Scan the barcode this step asks for.",
        {"position": 1, "identifier": "&(", "rule": "supported data identifier"},
    ),
    (
        "&a12345",
        "This is an ISBT 128 nationally or locally defined barcode (it starts with '&a' at "
        "position 1), which this system does not read here. Scan the barcode this step asks "
        "for.",
        {"position": 1, "identifier": "&a", "rule": "supported data identifier"},
    ),
    (
        "&!12345",
        "This is an ISBT 128 confidential unit exclusion status barcode (it starts with '&!' "
        "at position 1), which this system does not read here. Scan the barcode this step "
        "asks for.",
        {"position": 1, "identifier": "&!", "rule": "supported data identifier"},
    ),
    (
        "=@12345",
        "'=@' at position 1 of the scan is not an ISBT 128 data identifier, so this is not "
        f"an ISBT 128 barcode or it was misread. {RESCAN}",
        {"position": 1, "identifier": "=@", "rule": "ISBT 128 data identifier"},
    ),
    (
        "&@12345",
        "'&@' at position 1 of the scan is not an ISBT 128 data identifier, so this is not "
        f"an ISBT 128 barcode or it was misread. {RESCAN}",
        {"position": 1, "identifier": "&@", "rule": "ISBT 128 data identifier"},
    ),
    (
        "=+03000=G12341765432100=<S9999V00\r\n",
        "The 2-D barcode announces 3 data structures but only 2 were found, so it is damaged "
        f"or was printed wrongly. {COMPOUND_RESCAN}",
        {"announced": 3, "found": 2, "rule": "compound message count"},
    ),
    (
        "=+01000=G12341765432100=<S9999V00",
        "The 2-D barcode announces 1 data structure but 2 were found, so it is damaged or "
        f"was printed wrongly. {COMPOUND_RESCAN}",
        {"announced": 1, "found": 2, "rule": "compound message count"},
    ),
    (
        "=+01000=G12341765432100=<S9999V00=<S9999V00",
        "The 2-D barcode announces 1 data structure but 3 were found, so it is damaged or "
        f"was printed wrongly. {COMPOUND_RESCAN}",
        {"announced": 1, "found": 3, "rule": "compound message count"},
    ),
    (
        "=+01000=G12341765432100junk",
        "The 2-D barcode announces 1 data structure but more than 1 were found, so it is "
        f"damaged or was printed wrongly. {COMPOUND_RESCAN}",
        {"announced": 1, "found": 2, "rule": "compound message count"},
    ),
    (
        "=+01000=G12341765432100=<S9999V00junk",
        "The 2-D barcode announces 1 data structure but more than 1 were found, so it is "
        f"damaged or was printed wrongly. {COMPOUND_RESCAN}",
        {"announced": 1, "found": 3, "rule": "compound message count"},
    ),
    (
        "=+02000=G12341765432100",
        "The 2-D barcode announces 2 data structures but only 1 was found, so it is damaged "
        f"or was printed wrongly. {COMPOUND_RESCAN}",
        {"announced": 2, "found": 1, "rule": "compound message count"},
    ),
    (
        "=+01000=+01000=<S9999V00",
        "The 2-D barcode holds a second compound message at position 8, and compound "
        f"messages cannot be nested. {COMPOUND_RESCAN}",
        {"position": 8, "rule": "no nested compound message"},
    ),
    (
        "=<S9999V00=+01000=<S9999V00",
        "A compound message must be scanned on its own, but one starts at position 11 after "
        "another barcode. Scan the 2-D barcode by itself.",
        {"position": 11, "rule": "compound message first"},
    ),
    (
        "=+02000=G12341765432100\r\n=<S9999V00",
        "The 2-D barcode is not valid: position 24 is an invisible character (code U+000D), "
        f"where its next data structure should start with '=' or '&'. {COMPOUND_RESCAN}",
        {"position": 24, "character": "\r", "rule": "data identifier"},
    ),
    (
        "=+02000=G12341765432100X=<S9999V00",
        "The 2-D barcode is not valid: position 24 is the letter X, where its next data "
        f"structure should start with '=' or '&'. {COMPOUND_RESCAN}",
        {"position": 24, "character": "X", "rule": "data identifier"},
    ),
]


@pytest.mark.parametrize(
    ("data", "position", "character", "rule"),
    [
        # The last character of a patient number is checked too.
        ("&#0105AB12-", 11, "-", "a patient number has letters and digits only"),
        # A plasma derivative (X0...) has a type of collection from Table 7, like S codes.
        (
            "=<X0234W00",
            8,
            "W",
            "the 6th character (type of collection) must be one of the types of collection in "
            "ISBT 128 Table 7",
        ),
    ],
)
def test_the_last_and_the_local_characters_are_checked_too(data, position, character, rule):
    with pytest.raises(InvalidBarcode) as refused:
        parse(data)
    assert refused.value.details == {"position": position, "character": character, "rule": rule}


def test_a_reading_words_a_position_with_the_structures_label():
    from custody.domain.isbt128_structures import PRODUCT_SPEC

    reading = Reading(offset=3, where="character {n} of the {label}")
    assert reading.place(1, PRODUCT_SPEC) == "character 5 of the product code barcode"
    assert Reading().place(0, PRODUCT_SPEC) == "position 1 of the scan"


def test_inside_a_compound_only_scanner_blanks_count_as_the_end():
    # A no-break space after the last structure is not a blank a scanner sends: it is named as
    # what stands where the next structure should start, not taken for the end of the scan.
    with pytest.raises(InvalidBarcode) as refused:
        parse("=+02000=<S9999V00\u00a0")
    assert refused.value.details == {
        "position": 18,
        "character": "\u00a0",
        "rule": "data identifier",
    }


@pytest.mark.parametrize(("data", "message", "details"), REFUSALS)
def test_each_refusal_in_these_words(data, message, details):
    with pytest.raises(InvalidBarcode) as refused:
        parse(data)
    assert refused.value.message == message
    assert refused.value.details == details


# --- the date structures' reader, built here -------------------------------------------------
# The six date specs are built when the module loads; building one inside each test tests the
# builder itself (a date with a time, cyyjjjhhmm, and a date alone, cyyjjj, ST-001 2.4.4-2.4.9).
DATE_TIME, DATE_ONLY = "date and time", "date"


def _date_spec(kind: str):
    if kind == DATE_TIME:
        return date_spec("test_date_time", "test date and time barcode", True)
    return date_spec("test_date", "test date barcode", False)


def test_a_date_spec_has_the_length_and_words_of_its_kind():
    spec = _date_spec(DATE_TIME)
    assert (spec.name, spec.label, spec.length, spec.variable) == (
        "test_date_time",
        "test date and time barcode",
        10,
        False,
    )
    spec = _date_spec(DATE_ONLY)
    assert (spec.name, spec.label, spec.length) == ("test_date", "test date barcode", 6)
    assert spec.fix == "Rescan the test date barcode."


@pytest.mark.parametrize(
    ("spec", "content", "date", "time"),
    [
        (DATE_TIME, "0263271430", "2026-11-23", "14:30"),
        (DATE_TIME, "0260010000", "2026-01-01", "00:00"),  # day 001, midnight
        (DATE_TIME, "0263652359", "2026-12-31", "23:59"),  # day 365 of a common year
        (DATE_TIME, "0283660000", "2028-12-31", "00:00"),  # day 366 of a leap year
        (DATE_TIME, "0003662359", "2000-12-31", "23:59"),  # 2000 was a leap year
        (DATE_ONLY, "026327", "2026-11-23", "23:59"),
        (DATE_ONLY, "099001", "2099-01-01", "23:59"),
    ],
)
def test_a_date_spec_reads_day_of_year_and_time(spec, content, date, time):
    assert _date_spec(spec).decode(content, Reading()) == {
        "date": date,
        "time": time,
        "iso": f"{date}T{time}",
        "time_given": spec == DATE_TIME,
    }


@pytest.mark.parametrize(
    ("spec", "content", "message", "details"),
    [
        (
            DATE_TIME,
            "1263271430",
            "the century digit (position 3 of the scan) is 1, but this system reads dates in the "
            "years 2000 to 2099 only (century digit 0)",
            {"position": 3, "rule": "century digit 0"},
        ),
        (
            DATE_TIME,
            "A263271430",
            "position 3 of the scan is the letter A, but the century must be a digit",
            {"position": 3, "character": "A", "rule": "the century must be a digit"},
        ),
        (
            DATE_TIME,
            "0A63271430",
            "position 4 of the scan is the letter A, but the year must be 2 digits",
            {"position": 4, "character": "A", "rule": "the year must be 2 digits"},
        ),
        (
            DATE_TIME,
            "026A271430",
            "position 6 of the scan is the letter A, but the day of the year must be 3 digits",
            {"position": 6, "character": "A", "rule": "the day of the year must be 3 digits"},
        ),
        (
            DATE_TIME,
            "026327A430",
            "position 9 of the scan is the letter A, but the hour must be 2 digits",
            {"position": 9, "character": "A", "rule": "the hour must be 2 digits"},
        ),
        (
            DATE_TIME,
            "02632714A0",
            "position 11 of the scan is the letter A, but the minute must be 2 digits",
            {"position": 11, "character": "A", "rule": "the minute must be 2 digits"},
        ),
        (
            DATE_TIME,
            "0260001430",
            "the day of the year (position 6 of the scan and the next 2) is 000, but days in 2026 "
            "are numbered 001 to 365",
            {"position": 6, "rule": "day of year 001-365"},
        ),
        (
            DATE_TIME,
            "0263661430",
            "the day of the year (position 6 of the scan and the next 2) is 366, but days in 2026 "
            "are numbered 001 to 365",
            {"position": 6, "rule": "day of year 001-365"},
        ),
        (
            DATE_TIME,
            "0283670000",
            "the day of the year (position 6 of the scan and the next 2) is 367, but days in 2028 "
            "are numbered 001 to 366",
            {"position": 6, "rule": "day of year 001-366"},
        ),
        (
            DATE_TIME,
            "0263652400",
            "the hour (position 9 of the scan and the next) is 24, but hours run 00 to 23",
            {"position": 9, "rule": "hour 00-23"},
        ),
        (
            DATE_TIME,
            "0263652360",
            "the minute (position 11 of the scan and the next) is 60, but minutes run 00 to 59",
            {"position": 11, "rule": "minute 00-59"},
        ),
        (
            DATE_ONLY,
            "02636A",
            "position 8 of the scan is the letter A, but the day of the year must be 3 digits",
            {"position": 8, "character": "A", "rule": "the day of the year must be 3 digits"},
        ),
        (
            DATE_ONLY,
            "026366",
            "the day of the year (position 6 of the scan and the next 2) is 366, but days in 2026 "
            "are numbered 001 to 365",
            {"position": 6, "rule": "day of year 001-365"},
        ),
    ],
)
def test_a_date_spec_refuses_in_these_words(spec, content, message, details):
    # The content starts at offset 2, after its two-character data identifier.
    spec = _date_spec(spec)
    with pytest.raises(InvalidBarcode) as refused:
        spec.decode(content, Reading(offset=2))
    assert refused.value.message == (
        f"The {spec.label} is not valid: {message}. Rescan the {spec.label}."
    )
    assert refused.value.details == details


def test_flag_kinds_of_table_3():
    assert flag_kind("00") == ("unused", "flag not used")
    assert flag_kind("02") == ("container", "container 2 of a set")
    assert flag_kind("06") == ("process_control", "pilot tube label")
    assert flag_kind("60") == ("check", "Type 3 flag: MOD 37-2 check of the DIN")
    assert flag_kind("96") == ("check", "Type 3 flag: MOD 37-2 check of the DIN")
    assert flag_kind("98") == ("reserved", "reserved by ICCBBA for future assignment")
