"""The wristband barcode: ISBT 128 Patient ID and Patient Date of Birth, written and read back."""

from __future__ import annotations

from datetime import date

import pytest

from custody.domain.errors import InvalidBarcode
from custody.domain.wristband import (
    WristbandIdentity,
    check_patient_number,
    read_wristband,
    wristband_data,
)

BORN = date(1961, 2, 3)


@pytest.mark.parametrize(
    ("number", "location", "data"),
    [
        # &# + location 00 + length 10 + the number, then =# + location 00 + yyyymmdd.
        ("MRN0000042", "00", "&#0010MRN0000042=#0019610203"),
        ("MRN0000042", "07", "&#0710MRN0000042=#0719610203"),
        # Spaces copied around the number are dropped: 5 characters.
        ("  MRN42 ", "00", "&#0005MRN42=#0019610203"),
        ("7", "00", "&#00017=#0019610203"),
        ("A" * 99, "00", "&#0099" + "A" * 99 + "=#0019610203"),
    ],
)
def test_the_wristband_carries_the_number_then_the_date_of_birth(number, location, data):
    if location == "00":
        assert wristband_data(number, BORN) == data
    assert wristband_data(number, BORN, location) == data


@pytest.mark.parametrize(
    "number",
    ["", "   ", "A" * 100, "MRN-42", "MRN 42", "MRNé42", "MRN٣42"],
)
def test_a_number_a_wristband_cannot_carry_is_refused(number):
    with pytest.raises(InvalidBarcode) as refused:
        wristband_data(number, BORN)
    assert refused.value.message == (
        f"Hospital record number {number.strip()!r} cannot go on a wristband: it must be 1 to "
        "99 letters and digits, with no spaces or punctuation."
    )
    assert refused.value.details == {"field": "hospital_record_number"}


def test_the_checked_number_is_the_trimmed_one():
    assert check_patient_number(" MRN42\t") == "MRN42"
    assert check_patient_number("A" * 99) == "A" * 99


@pytest.mark.parametrize(
    "raw",
    [
        "&#0010MRN0000042=#0019610203",
        # The two linear reads in the other order, with the scanner's Enter after them.
        "=#0019610203&#0010MRN0000042\r\n",
        "  &#0010MRN0000042=#0019610203",
    ],
)
def test_a_wristband_scan_reads_back_to_number_and_date_of_birth(raw):
    assert read_wristband(raw) == WristbandIdentity("MRN0000042", BORN)


@pytest.mark.parametrize("raw", [None, "", "  \r\n", 42])
def test_nothing_scanned_is_refused(raw):
    with pytest.raises(InvalidBarcode) as refused:
        read_wristband(raw)
    assert refused.value.message == "Scan the recipient's wristband: nothing was read."
    assert refused.value.details == {"field": "recipient"}


@pytest.mark.parametrize(
    ("raw", "holds"),
    [
        ("=G123417654321" + "70", "donation identification number"),
        ("&#0010MRN0000042", "patient id"),
        ("=#0019610203", "patient date of birth"),
        # Two wristbands read as one: never pass on whichever came last.
        (
            "&#0010MRN0000042=#0019610203&#0010MRN0000099",
            "patient id, patient date of birth, patient id",
        ),
    ],
)
def test_a_scan_that_is_not_one_wristband_is_refused_saying_what_it_holds(raw, holds):
    with pytest.raises(InvalidBarcode) as refused:
        read_wristband(raw)
    assert refused.value.message == (
        "That is not a wristband: a wristband carries the patient number and the date of birth, "
        f"and this scan holds {holds}. Scan the barcode on the recipient's wristband."
    )
    assert refused.value.details == {"field": "recipient"}
