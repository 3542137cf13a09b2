"""Reading what a scan names: bag labels, typed DINs with K, locations and shipments."""

from datetime import UTC, datetime

import pytest

from custody.domain import isbt128
from custody.domain.errors import InvalidBarcode, WrongCheckCharacter
from custody.domain.scan_targets import bag_scan_data, read_scan

DIN = "W999926000042"
PRODUCT = "D0001VA0"


def test_data_matrix_compound_message_names_the_bag():
    data = bag_scan_data(DIN, PRODUCT, datetime(2027, 1, 31, 23, 59, tzinfo=UTC))
    assert data.startswith("=+03000=" + DIN + isbt128.type3_flags(DIN))
    target = read_scan(data)
    assert (target.kind, target.din, target.product_code) == ("bag", DIN, PRODUCT)
    assert target.bag_code == f"{DIN}-{PRODUCT}"


def test_concatenated_code_128_reads_name_the_bag():
    target = read_scan(isbt128.encode_din(DIN) + isbt128.encode_product_code(PRODUCT))
    assert target.bag_code == f"{DIN}-{PRODUCT}"


def test_din_barcode_alone_names_a_din():
    target = read_scan(isbt128.encode_din(DIN))
    assert (target.kind, target.din, target.product_code) == ("din", DIN, None)


def test_typed_din_with_check_character_and_product_code():
    k = isbt128.check_character(DIN)
    assert read_scan(f"{DIN[:5]} {DIN[5:7]} {DIN[7:]} {k} {PRODUCT}").bag_code == f"{DIN}-{PRODUCT}"
    assert read_scan(f"{DIN}{k}").kind == "din"


def test_typed_din_with_wrong_check_character_is_refused():
    k = isbt128.check_character(DIN)
    wrong = next(c for c in "AB" if c != k)
    with pytest.raises(WrongCheckCharacter):
        read_scan(f"{DIN}{wrong} {PRODUCT}")
    with pytest.raises(WrongCheckCharacter):
        read_scan(f"{DIN}{wrong}")


@pytest.mark.parametrize(
    ("raw", "kind", "code"),
    [
        ("LOC-LN2-01-R01", "location", "LOC-LN2-01-R01"),
        ("shp-2026-0001", "shipment", "SHP-2026-0001"),
    ],
)
def test_own_barcodes(raw, kind, code):
    target = read_scan(raw)
    assert (target.kind, target.code) == (kind, code)


@pytest.mark.parametrize(
    "raw", ["", "   ", None, 42, "x" * 501, "hello", "=<D0001VA0", "&>0271231159"]
)
def test_junk_and_barcodes_without_a_din_are_clear_errors(raw):
    with pytest.raises(InvalidBarcode):
        read_scan(raw)


def test_typed_second_level_division_keeps_its_lower_case_letter():
    k = isbt128.check_character(DIN)
    assert read_scan(f"{DIN.lower()}{k} d0001vAa").bag_code == f"{DIN}-D0001VAa"
    assert read_scan(f"{DIN}{k} D0001V00").bag_code == f"{DIN}-D0001V00"
