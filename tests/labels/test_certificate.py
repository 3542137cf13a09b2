"""The release certificate: what it says, read back from the PDF with a real PDF library."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime

import pypdf
import pytest

from custody.documents.certificate import (
    CertificateBag,
    CertificateData,
    CertificateDeviation,
    CertificateDonor,
    CertificateSignature,
    CertificateTest,
    render_certificate,
)
from custody.domain.errors import ValidationFailed
from custody.services.quality.certificates import certificate_pdf

CHECKSUM = "3f" * 16 + "a1" * 16
ENTERED = datetime(2026, 3, 10, 14, 5, tzinfo=UTC)
TESTS = (
    CertificateTest(
        "viability",
        "Viability (7-AAD)",
        "≥ 70 %",
        "92.5 %",
        "pass",
        "Alice Tech",
        ENTERED,
        method="Flow cytometry",
        instrument="FACS-01",
    ),
    CertificateTest("sterility", "Sterility (14-day)", "Negative", "", "pending", "", None),
    CertificateTest(
        "endotoxin",
        "Endotoxin",
        "< 5 EU/mL",
        "7.1 EU/mL",
        "fail",
        "Bob Lab",
        ENTERED,
        note="Investigation INV-12 <open> & ongoing",
        corrected=True,
    ),
    CertificateTest(
        "residual_t",
        "Residual CD3+ T cells",
        "< 2 × 10⁵ cells/kg (judged per recipient at allocation)",
        "1.1 × 10⁶ in the bag",
        "at allocation",
        "Bob Lab",
        ENTERED,
    ),
)
WARNINGS = (
    "NOT EVALUATED FOR INFECTIOUS SUBSTANCES",
    "WARNING: Advise patient of communicable disease risks",
)


def _bag(n: int, code: str | None = None) -> CertificateBag:
    return CertificateBag(
        code=code or f"W999926000001-D0001V{n:02d}",
        product_code="D0001VA0",
        division=f"A{n % 10}",
        volume_ml=100.0,
        viable_car_nk_cells=1.2e8,
        total_cells=1.5e8,
        dose_level="DL1" if n % 2 else None,
    )


def _certificate(**changes) -> CertificateData:
    data = CertificateData(
        certificate_number="COA-L26-0001-1",
        lot_number="L26-0001",
        product_name="CD33 CAR-NK cells",
        product_description_code="D0001",
        specification="D0001 version 2",
        facility_name="Cell Therapy Laboratory",
        facility_address="1 Hospital Road, London",
        timezone="Europe/London",
        disposition="Released",
        donors=(CertificateDonor("W999926000001", "7", "DON-0001", "eligible"),),
        warnings=(),
        tests=TESTS,
        bags=(_bag(0), _bag(1)),
        deviations=(),
        signature=CertificateSignature(
            "Quinn Assurance", "qa1", datetime(2026, 3, 14, 9, 30, 12, tzinfo=UTC), "Approved"
        ),
        content_checksum=CHECKSUM,
        issued_at=datetime(2026, 3, 14, 9, 31, tzinfo=UTC),
        manufactured_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        expires_at=datetime(2026, 6, 1, 22, 59, tzinfo=UTC),
    )
    return dataclasses.replace(data, **changes)


def _pages(pdf: bytes) -> list[str]:
    """Each page's text with runs of whitespace made one space (table cells wrap)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]


def _text(data: CertificateData) -> str:
    return " ".join(_pages(render_certificate(data)))


def test_every_result_is_printed_in_its_row_with_its_verdict():
    text = _text(_certificate())
    assert "Viability (7-AAD) ≥ 70 % 92.5 % PASS Alice Tech 2026-03-10 14:05 GMT" in text
    assert "Method: Flow cytometry Instrument: FACS-01" in text
    assert "Sterility (14-day) Negative — PENDING" in text
    assert "Endotoxin < 5 EU/mL 7.1 EU/mL FAIL Bob Lab" in text
    assert "Corrected result Investigation INV-12 <open> & ongoing" in text
    assert (
        "Residual CD3+ T cells < 2 × 10⁵ cells/kg (judged per recipient at allocation) "
        "1.1 × 10⁶ in the bag Judged per recipient at allocation" in text
    )
    assert "AT ALLOCATION" not in text  # no verdict on the lot against a per-kg limit


def test_the_header_names_the_certificate_facility_product_lot_and_times_with_their_zone():
    text = _text(_certificate())
    assert text.startswith("Certificate of Analysis and Release")
    for words in (
        "Certificate number COA-L26-0001-1",
        "Cell Therapy Laboratory 1 Hospital Road, London",
        "CD33 CAR-NK cells (product code D0001)",
        "Lot number L26-0001",
        "Specification D0001 version 2",
        "Manufactured 2026-03-01 08:00 GMT",
        "Expires 2026-06-01 23:59 BST",  # summer time in the facility's zone
        "Disposition Released",
        "Europe/London",
    ):
        assert words in text


def test_the_donor_din_is_grouped_with_its_check_character():
    assert "W9999 26 000001 7 DON-0001 eligible" in _text(_certificate())


def test_the_signature_manifestation_shows_name_username_local_time_with_zone_and_meaning():
    signature = CertificateSignature(
        "Quinn Assurance",
        "qa1",
        datetime(2026, 7, 1, 15, 0, 5, tzinfo=UTC),
        "Approved for release",
        reason="Reviewed batch record",
    )
    text = _text(_certificate(signature=signature, timezone="America/Chicago"))
    assert (
        "Electronically signed by Quinn Assurance (qa1) on 2026-07-01 10:00:05 CDT — "
        "Meaning: Approved for release" in text
    )
    assert "Reason: Reviewed batch record" in text


def test_a_time_stored_without_a_zone_is_taken_as_utc():
    signature = CertificateSignature("Q A", "qa1", datetime(2026, 1, 5, 12, 0, 0), "Rejected")
    text = _text(_certificate(signature=signature, timezone="Asia/Tokyo", disposition="Rejected"))
    assert "on 2026-01-05 21:00:00 JST — Meaning: Rejected" in text
    assert "Disposition: Rejected" in text


def test_donor_eligibility_warnings_are_printed_exactly_and_only_when_given():
    with_warnings = _text(_certificate(warnings=WARNINGS))
    for warning in WARNINGS:
        assert warning in with_warnings
    without = _text(_certificate())
    assert "NOT EVALUATED" not in without and "WARNING" not in without


def test_the_conditional_release_box_names_the_pending_tests_only_when_there_are_some():
    conditional = _certificate(
        disposition="Conditionally released", pending_tests=("Sterility (14-day)", "Mycoplasma")
    )
    text = _text(conditional)
    assert (
        "CONDITIONAL RELEASE These results were still pending when the lot was released: "
        "• Sterility (14-day) • Mycoplasma" in text
    )
    assert "CONDITIONAL RELEASE" not in _text(_certificate())


def test_the_exceptional_release_box_appears_only_for_an_exceptional_release():
    exceptional = ("Dr Ada Byron", "Urgent infusion for UPN-7", "No eligible alternative donor")
    text = _text(_certificate(exceptional=exceptional))
    assert (
        "EXCEPTIONAL RELEASE Requesting physician: Dr Ada Byron "
        "Physician's request: Urgent infusion for UPN-7 "
        "Justification: No eligible alternative donor" in text
    )
    assert "EXCEPTIONAL RELEASE" not in _text(_certificate())


def test_deviations_are_listed_or_their_absence_is_stated():
    assert "No deviations recorded." in _text(_certificate())
    deviation = CertificateDeviation(1, "Expansion day 7", "Incubator door open > 3 min")
    text = _text(_certificate(deviations=(deviation,)))
    assert "1 Expansion day 7 Incubator door open > 3 min" in text
    assert "No deviations recorded" not in text


def test_bags_show_code_division_volume_and_cells_in_powers_of_ten():
    text = _text(_certificate())
    assert "W999926000001-D0001V00 A0 100.0 1.20 × 10⁸ 1.50 × 10⁸ —" in text
    assert "W999926000001-D0001V01 A1 100.0 1.20 × 10⁸ 1.50 × 10⁸ DL1" in text
    assert "2 bags, 200.0 mL, 2.40 × 10⁸ viable CAR+ NK cells in all." in text


def test_markup_characters_in_isbt_strings_and_names_are_printed_as_they_are():
    code = "=W999926000001<&>00"
    data = _certificate(
        bags=(_bag(0, code=code),),
        facility_name="Lab <North> & Co",
        donors=(CertificateDonor("W999926000001", "7", "D<1>&2", "eligible"),),
    )
    text = _text(data)
    assert code in text
    assert "Lab <North> & Co" in text
    assert "D<1>&2" in text


def test_a_long_certificate_numbers_its_pages_and_carries_the_checksum_on_each():
    bags = tuple(_bag(n) for n in range(60))
    pages = _pages(render_certificate(_certificate(bags=bags, warnings=WARNINGS)))
    total = len(pages)
    assert total > 1
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page
        assert f"Content SHA-256: {CHECKSUM}" in page
        assert "COA-L26-0001-1" in page
    text = " ".join(pages)
    assert all(bag.code in text for bag in bags)
    # The bag table's header row repeats on the page it runs onto.
    assert sum(page.count("Viable CAR+ NK cells Total cells") for page in pages) >= 2
    assert (
        "Caution: New Drug—Limited by Federal (or United States) law to investigational use."
        in (pages[-1])
    )


def test_the_same_data_gives_the_same_bytes_and_other_data_other_bytes():
    data = _certificate(warnings=WARNINGS, bags=tuple(_bag(n) for n in range(30)))
    first = render_certificate(data)
    assert render_certificate(data) == first
    assert render_certificate(dataclasses.replace(data, content_checksum="0" * 64)) != first


def test_the_certificate_is_a4_portrait():
    page = pypdf.PdfReader(io.BytesIO(render_certificate(_certificate()))).pages[0]
    assert float(page.mediabox.width) == pytest.approx(595.3, abs=0.5)
    assert float(page.mediabox.height) == pytest.approx(841.9, abs=0.5)


def test_an_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ValidationFailed, match="not a known time zone"):
        render_certificate(_certificate(timezone="Mars/Olympus_Mons"))


def test_text_longer_than_a_page_runs_onto_the_next_pages_instead_of_failing():
    note = " ".join(f"step{n}" for n in range(1500))
    long_test = dataclasses.replace(TESTS[2], note=note)
    deviation = CertificateDeviation(1, "Expansion", note)
    data = _certificate(
        tests=(long_test,), deviations=(deviation,), exceptional=("Dr A", note, "x")
    )
    pages = _pages(render_certificate(data))
    text = " ".join(pages)
    assert len(pages) > 3
    assert text.count("step1499") == 3  # the note, the deviation and the request, all whole


def test_powers_of_ten_are_real_superscripts_that_read_back_as_such():
    text = _text(_certificate(bags=(dataclasses.replace(_bag(0), viable_car_nk_cells=1.86e9),)))
    assert "1.86 × 10⁹ 1.50 × 10⁸" in text
    # Never e-notation, a caret, or a raised digit that a reader (or a search) takes for 109.
    assert not re.search(r"× ?10 ?\^|× ?10[0-9]|\d[eE][+-]?\d", text)


def test_page_one_carries_the_lot_its_disposition_and_the_start_of_the_results():
    # Warnings and a conditional-release box once pushed the whole results table to page 2.
    long = _certificate(
        warnings=WARNINGS,
        tests=TESTS * 4,
        disposition="Conditionally released",
        pending_tests=("Sterility (14-day)",),
    )
    first, *rest = _pages(render_certificate(long))
    assert rest, "the results run onto a further page"
    assert "Lot number L26-0001" in first
    assert "Disposition Conditionally released" in first
    assert "Release testing Test Specification Result Verdict Entered Notes" in first
    assert "Viability (7-AAD) ≥ 70 % 92.5 % PASS" in first


def test_an_issued_certificate_reads_its_counts_in_powers_of_ten(quality, make_lot):
    lot = quality.released_lot(make_lot)
    pdf, _ = certificate_pdf(lot.lot_number)
    first = _pages(pdf)[0]
    assert f"Lot number {lot.lot_number}" in first and "Disposition Released" in first
    assert "Release testing Test Specification Result Verdict" in first
    assert "≥ 1 × 10⁸ cells" in first  # the specification's limit
    assert "Residual CD3+ T cells < 2 × 10⁵ cells/kg (judged per recipient at allocation)" in first
    assert "Judged per recipient at allocation" in first and "AT ALLOCATION" not in first
    text = " ".join(_pages(pdf))
    assert "1.20 × 10⁹" in text and not re.search(r"× ?10 ?(\^|[0-9])", text)  # never 10^9, 109
