"""Reading what a scan names: bag labels, typed DINs with K, locations and shipments."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from custody.domain import isbt128
from custody.domain.errors import InvalidBarcode, WrongCheckCharacter
from custody.domain.scan_targets import ScanTarget, bag_scan_data, read_scan

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


# --- what each kind of scan names, in full ---------------------------------------------------

# W999926000042: the MOD 37-2 recursion ends at s = 8, so K = alphabet[(38 − 8) mod 37] = "U"
# (value 30) and the Type 3 flags are 60 + 30 = 90.
K = "U"
FLAGS = "90"
CET = timezone(timedelta(hours=1), "CET")


@pytest.mark.parametrize(
    ("raw", "target"),
    [
        (
            f"=+03000={DIN}{FLAGS}=<{PRODUCT}&>0270312359",
            ScanTarget("bag", f"=+03000={DIN}{FLAGS}=<{PRODUCT}&>0270312359", DIN, PRODUCT),
        ),
        (f"={DIN}00", ScanTarget("din", f"={DIN}00", DIN)),
        (f" ={DIN}00\r\n", ScanTarget("din", f" ={DIN}00\r\n", DIN)),
        # The bag's public code, as the API and URLs show it.
        (f"{DIN}-{PRODUCT}", ScanTarget("bag", f"{DIN}-{PRODUCT}", DIN, PRODUCT)),
        # A facility number may start with X: it is not mistaken for anything but a bag code.
        (
            f"X{DIN[1:]}-{PRODUCT}",
            ScanTarget("bag", f"X{DIN[1:]}-{PRODUCT}", f"X{DIN[1:]}", PRODUCT),
        ),
        (
            f"{DIN}{K} {PRODUCT}",
            ScanTarget("bag", f"{DIN}{K} {PRODUCT}", DIN, PRODUCT, typed=True),
        ),
        (f"{DIN} {K}", ScanTarget("din", f"{DIN} {K}", DIN, typed=True)),
        # Typed in lower case: read as upper case, the check character K still checked.
        (
            f"{DIN.lower()}{K.lower()} {PRODUCT.lower()}",
            ScanTarget(
                "bag", f"{DIN.lower()}{K.lower()} {PRODUCT.lower()}", DIN, PRODUCT, typed=True
            ),
        ),
        (
            f"{DIN.lower()}-{PRODUCT.lower()}",
            ScanTarget("bag", f"{DIN.lower()}-{PRODUCT.lower()}", DIN, PRODUCT),
        ),
        ("LOC-LN2-01-R01", ScanTarget("location", "LOC-LN2-01-R01", code="LOC-LN2-01-R01")),
        ("shp-2026-0001", ScanTarget("shipment", "shp-2026-0001", code="SHP-2026-0001")),
        # A product code ending 99 takes its division from the "=," barcode read with it.
        (
            f"={DIN}00=<S9999V99=,AB0000",
            ScanTarget("bag", f"={DIN}00=<S9999V99=,AB0000", DIN, "S9999VAB"),
        ),
    ],
)
def test_each_kind_of_scan_names_what_it_should(raw, target):
    assert read_scan(raw) == target


def test_the_largest_scan_accepted_is_500_characters():
    padded = "LOC-A1" + " " * 494
    assert read_scan(padded) == ScanTarget("location", padded, code="LOC-A1")
    with pytest.raises(InvalidBarcode) as refused:
        read_scan(padded + " ")
    assert refused.value.message == (
        "The scan is 501 characters long; no label here holds more than 500. Scan one barcode "
        "at a time."
    )
    assert refused.value.details == {"rule": "scan length"}


@pytest.mark.parametrize("raw", ["", "   ", None, 42])
def test_nothing_scanned_is_refused_in_these_words(raw):
    with pytest.raises(InvalidBarcode) as refused:
        read_scan(raw)
    assert refused.value.message == "Nothing was scanned. Scan the barcode again."
    assert refused.value.details == {"rule": "empty scan"}


def test_a_barcode_without_a_din_names_what_it_holds():
    with pytest.raises(InvalidBarcode) as refused:
        read_scan(f"=<{PRODUCT}&>0271231159")
    assert refused.value.message == (
        "This barcode holds no DIN, so it does not identify a bag. Scan the DIN barcode (it "
        "starts with '=' and a letter) or the label's 2-D code."
    )
    assert refused.value.details == {
        "found": ["expiration_date_time", "product_code"],
        "rule": "a bag is identified by its DIN",
    }


def test_a_product_code_ending_99_without_its_divisions_is_refused():
    with pytest.raises(InvalidBarcode) as refused:
        read_scan(f"={DIN}00=<S9999V99")
    assert refused.value.message == (
        "Product code S9999V99 ends in 99: scan the product divisions barcode ('=,') too."
    )
    assert refused.value.details == {"rule": "product code ending 99 needs the divisions structure"}


def test_a_divisions_barcode_is_not_needed_by_a_code_that_does_not_end_99():
    target = read_scan(f"={DIN}00=<{PRODUCT}=,AB0000")
    assert target.product_code == PRODUCT


@pytest.mark.parametrize(
    ("expires_at", "zone", "expiry"),
    [
        # 31 January 2027 is day 031.
        (datetime(2027, 1, 31, 23, 59, tzinfo=UTC), UTC, "&>0270312359"),
        # A naive expiry is UTC; in a UTC+1 zone it is 00:59 on 1 February, day 032.
        (datetime(2027, 1, 31, 23, 59), CET, "&>0270320059"),
        (datetime(2027, 1, 31, 23, 59, tzinfo=UTC), CET, "&>0270320059"),
        (datetime(2027, 2, 1, 0, 59, tzinfo=CET), UTC, "&>0270312359"),
    ],
)
def test_the_label_carries_din_with_its_check_flags_product_and_local_expiry(
    expires_at, zone, expiry
):
    assert bag_scan_data(DIN, PRODUCT, expires_at, zone) == (
        f"=+03000={DIN}{FLAGS}=<{PRODUCT}{expiry}"
    )


def test_a_label_without_an_expiry_carries_din_and_product_only():
    assert bag_scan_data(DIN, PRODUCT, None) == f"=+02000={DIN}{FLAGS}=<{PRODUCT}"


def test_a_naive_expiry_is_utc_whatever_the_servers_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "EST5EDT")  # POSIX rule: no zone database needed
    time.tzset()
    try:
        data = bag_scan_data(DIN, PRODUCT, datetime(2027, 1, 31, 23, 59), UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert data == f"=+03000={DIN}{FLAGS}=<{PRODUCT}&>0270312359"


@pytest.mark.parametrize("typed", ["CMD-FOO", "cmd-", "CMD-STORES", "Cmd-Done-now"])
def test_an_unknown_command_barcode_is_refused_with_the_list_of_commands(typed):
    with pytest.raises(InvalidBarcode) as refused:
        read_scan(typed)
    assert refused.value.message == (
        f"{typed.upper()} is not a station command. The commands are CMD-STORE, CMD-MOVE, "
        "CMD-RETRIEVE, CMD-PACK, CMD-RECEIVE, CMD-DISCARD, CMD-DONE: scan one from the printed "
        "command sheet."
    )
