"""QC results of a lot: entered against its specification, judged at once, corrected in the open,
and out-of-specification results waiting for their investigation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from custody.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from custody.extensions import db
from custody.models import AuditEntry, QcResult
from custody.services.quality.queries import lot_quality
from custody.services.quality.results import (
    ResultRequest,
    correct_result,
    enter_result,
    record_investigation,
)
from custody.services.quality.specifications import STANDARD_RELEASE_TESTS


@pytest.fixture
def lot(quality, make_lot):
    quality.specification()
    return make_lot()


def _test(lot, test: str) -> dict:
    db.session.expire_all()
    return next(t for t in lot_quality(lot.lot_number)["tests"] if t["test"] == test)


def _rows(lot, test: str) -> list[QcResult]:
    db.session.expire_all()
    query = select(QcResult).where(QcResult.lot_id == lot.id, QcResult.test == test)
    return list(db.session.scalars(query.order_by(QcResult.id)))


def test_a_result_is_judged_at_once_and_keeps_who_how_and_where(lot, analyst):
    request = ResultRequest(
        "viability",
        value_numeric=91.5,
        method="7-AAD flow cytometry",
        instrument="FACS-02",
        attachment_ref="LIMS-2026-0042",
    )
    enter_result(analyst, lot.lot_number, request)
    shown = _test(lot, "viability")
    assert shown["verdict"] == "pass"
    result = shown["result"]
    assert result["within_spec"] is True and result["needs_investigation"] is False
    assert result["value"] == "91.5 %" and result["unit"] == "%"  # the specification's unit
    assert (result["method"], result["instrument"], result["attachment_ref"]) == (
        "7-AAD flow cytometry",
        "FACS-02",
        "LIMS-2026-0042",
    )
    assert result["entered_by"] == "Ana Lyst" and result["entered_at"] is not None


def test_a_qualitative_result_is_kept_in_lower_case_and_judged_case_blind(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("sterility", value_text="  Negative "))
    shown = _test(lot, "sterility")
    assert shown["verdict"] == "pass"
    assert shown["result"]["value_text"] == "negative" and shown["result"]["value"] == "Negative"


def test_an_unknown_test_is_refused_with_the_tests_of_the_specification(lot, analyst):
    with pytest.raises(ValidationFailed) as caught:
        enter_result(analyst, lot.lot_number, ResultRequest("viabilty", value_numeric=91.0))
    message = caught.value.message
    assert message.startswith(f"'viabilty' is not a release test of lot {lot.lot_number}'s")
    assert f"tests are: {', '.join(c.test for c in STANDARD_RELEASE_TESTS)}." in message
    assert _rows(lot, "viabilty") == []


def test_a_second_entry_is_refused_and_points_to_a_correction(lot, analyst, make):
    enter_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=91.5))
    with pytest.raises(Conflict, match=r"has a Viability.*result already: to change it, correct"):
        enter_result(make.user("qa"), lot.lot_number, ResultRequest("viability", value_numeric=80))
    assert [r.value_numeric for r in _rows(lot, "viability")] == [91.5]


def test_a_correction_keeps_the_old_value_visible_with_the_reason(lot, analyst, make):
    enter_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=19.5))
    corrector = make.user("technician", name="Cora Rector")
    correct_result(
        corrector,
        lot.lot_number,
        ResultRequest("viability", value_numeric=91.5),
        "  transcription error: 91.5 read as 19.5 ",
    )
    old, new = _rows(lot, "viability")
    assert old.superseded_by_id == new.id and new.superseded_by_id is None
    assert old.value_numeric == 19.5  # never edited in place

    shown = _test(lot, "viability")
    assert shown["verdict"] == "pass"
    assert shown["result"]["value_numeric"] == 91.5
    assert shown["result"]["correction_reason"] == "transcription error: 91.5 read as 19.5"
    assert shown["result"]["entered_by"] == "Cora Rector"
    (history,) = shown["history"]
    assert (history["value_numeric"], history["superseded"], history["within_spec"]) == (
        19.5,
        True,
        False,
    )
    assert history["entered_by"] == "Ana Lyst"


def test_each_correction_of_a_correction_stays_in_the_history(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("endotoxin", value_numeric=0.5))
    for value, why in ((0.7, "wrong dilution factor"), (0.6, "re-read plate")):
        correct_result(
            analyst, lot.lot_number, ResultRequest("endotoxin", value_numeric=value), why
        )
    shown = _test(lot, "endotoxin")
    assert shown["result"]["value_numeric"] == 0.6
    assert shown["result"]["correction_reason"] == "re-read plate"
    assert [(h["value_numeric"], h["correction_reason"]) for h in shown["history"]] == [
        (0.5, None),
        (0.7, "wrong dilution factor"),
    ]
    assert [r.id for r in _rows(lot, "endotoxin") if r.current] == [shown["result"]["id"]]


def test_the_reason_for_a_correction_is_in_the_audit_trail(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=19.5))
    correct_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=91.5), "typo")
    reasons = db.session.scalars(
        select(AuditEntry.reason).where(AuditEntry.record_type == "qc_results")
    ).all()
    assert "QC result corrected: typo" in reasons


def test_a_correction_needs_a_reason_and_a_result_to_correct(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("endotoxin", value_numeric=0.5))
    with pytest.raises(NotFound, match=r"has no Viability.*result to correct; enter it"):
        correct_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=9), "x")
    enter_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=91.5))
    with pytest.raises(ValidationFailed, match="needs its reason"):
        correct_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=90), " ")
    assert len(_rows(lot, "viability")) == 1


def test_correcting_before_any_result_says_there_is_nothing_to_correct(lot, analyst):
    with pytest.raises(NotFound, match=r"has no Viability.*result to correct; enter it"):
        correct_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=9), "x")


@pytest.mark.parametrize(
    ("test", "unit"), [("viability", "fraction"), ("endotoxin", "EU/ml"), ("cell_count", "%")]
)
def test_a_value_in_another_unit_is_refused(lot, analyst, test, unit):
    request = ResultRequest(test, value_numeric=1.0, unit=unit)
    with pytest.raises(ValidationFailed, match=f"specified in .*, not {unit}: convert"):
        enter_result(analyst, lot.lot_number, request)
    assert _rows(lot, test) == []


def test_a_correction_in_another_unit_is_refused_too(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=91.5))
    with pytest.raises(ValidationFailed, match="not fraction"):
        correct_result(
            analyst,
            lot.lot_number,
            ResultRequest("viability", value_numeric=0.915, unit="fraction"),
            "as a fraction",
        )
    assert [r.value_numeric for r in _rows(lot, "viability")] == [91.5]


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (ResultRequest("viability", value_text="ninety"), "Viability.*is numeric"),
        (ResultRequest("sterility", value_numeric=0.0), "Sterility.*is qualitative"),
        (ResultRequest("sterility", value_text="x" * 65), "at most 64 characters"),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused(lot, analyst, request_, words):
    with pytest.raises(ValidationFailed, match=words):
        enter_result(analyst, lot.lot_number, request_)


def test_an_out_of_spec_result_is_flagged_until_its_investigation_is_recorded(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("endotoxin", value_numeric=7.1))
    shown = _test(lot, "endotoxin")
    assert shown["verdict"] == "fail"
    assert shown["result"]["within_spec"] is False
    assert shown["result"]["needs_investigation"] is True
    assert (
        "Endotoxin (LAL) is out of specification" in lot_quality(lot.lot_number)["release_problems"]
    )

    with pytest.raises(ValidationFailed, match="Write the investigation"):
        record_investigation(analyst, lot.lot_number, "endotoxin", "  ")
    record_investigation(analyst, lot.lot_number, "endotoxin", " INV-12: sampling error ")
    shown = _test(lot, "endotoxin")
    assert shown["result"]["needs_investigation"] is False
    assert shown["result"]["investigation_note"] == "INV-12: sampling error"
    assert shown["verdict"] == "fail"  # the note explains the result; it does not change it


def test_an_investigation_note_may_come_with_the_out_of_spec_result(lot, analyst):
    request = ResultRequest("endotoxin", value_numeric=7.1, investigation_note="INV-9 opened")
    enter_result(analyst, lot.lot_number, request)
    assert _test(lot, "endotoxin")["result"]["needs_investigation"] is False


def test_an_investigation_note_on_an_in_spec_result_is_refused(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("endotoxin", value_numeric=0.5))
    with pytest.raises(ValidationFailed, match="Only an out-of-specification result takes"):
        record_investigation(analyst, lot.lot_number, "endotoxin", "nothing to see")
    with pytest.raises(ValidationFailed, match="Only an out-of-specification result takes"):
        record_investigation(analyst, lot.lot_number, "viability", "no result at all")
    assert _test(lot, "endotoxin")["result"]["investigation_note"] == ""


def test_a_note_given_with_an_in_spec_result_is_not_kept(lot, analyst):
    request = ResultRequest("endotoxin", value_numeric=0.5, investigation_note="stray note")
    enter_result(analyst, lot.lot_number, request)
    assert _test(lot, "endotoxin")["result"]["investigation_note"] == ""


def test_correcting_an_out_of_spec_result_into_spec_clears_the_flag(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=55.0))
    correct_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=91.0), "typo")
    shown = _test(lot, "viability")
    assert (shown["verdict"], shown["result"]["needs_investigation"]) == ("pass", False)
    assert shown["history"][0]["within_spec"] is False


def test_a_nurse_neither_enters_nor_corrects_nor_investigates(lot, analyst, make):
    outsider = make.user("nurse")
    with pytest.raises(Forbidden, match="entered by the lab or QA; you are signed in as nurse"):
        enter_result(outsider, lot.lot_number, ResultRequest("viability", value_numeric=91.0))
    enter_result(analyst, lot.lot_number, ResultRequest("endotoxin", value_numeric=7.0))
    with pytest.raises(Forbidden):
        correct_result(outsider, lot.lot_number, ResultRequest("endotoxin", value_numeric=1.0), "x")
    with pytest.raises(Forbidden):
        record_investigation(outsider, lot.lot_number, "endotoxin", "note")
    assert _rows(lot, "viability") == []
    assert _test(lot, "endotoxin")["result"]["investigation_note"] == ""


@pytest.mark.parametrize("role", ["technician", "qa", "admin"])
def test_the_lab_qa_and_administrators_enter_results(lot, make, role):
    enter_result(make.user(role), lot.lot_number, ResultRequest("viability", value_numeric=91.0))
    assert _test(lot, "viability")["verdict"] == "pass"


def test_residual_t_cells_are_judged_at_allocation_not_at_entry(lot, analyst):
    # Far above 2 × 10⁵ per kg if read as cells/kg: the lot cannot judge it, the recipient can.
    request = ResultRequest("residual_cd3", value_numeric=4.0e6, unit="cells in the bag")
    enter_result(analyst, lot.lot_number, request)
    shown = _test(lot, "residual_cd3")
    assert shown["verdict"] == "at allocation"
    assert shown["result"]["within_spec"] is None
    assert shown["result"]["needs_investigation"] is False
    assert shown["result"]["value"] == "4 × 10⁶ cells in the bag"
    assert shown["criterion"] == "< 2 × 10⁵ cells/kg (judged per recipient at allocation)"
    assert "Residual CD3+ T cells" not in " ".join(lot_quality(lot.lot_number)["release_problems"])


def test_a_value_judged_at_allocation_needs_its_unit(lot, analyst):
    with pytest.raises(ValidationFailed, match="Give the unit of the Residual CD3"):
        enter_result(analyst, lot.lot_number, ResultRequest("residual_cd3", value_numeric=0.2))


def test_a_lot_that_is_not_known_is_named(quality, analyst):
    quality.specification()
    with pytest.raises(NotFound, match="No lot NOPE-1 is known here"):
        enter_result(analyst, "NOPE-1", ResultRequest("viability", value_numeric=91.0))
