"""QA disposition by e-signature: the order the system enforces, and what a signature covers."""

from __future__ import annotations

import pytest

from custody.config import settings
from custody.domain.errors import (
    AccountLocked,
    IllegalTransition,
    SignatureRefused,
    ValidationFailed,
)
from custody.extensions import db
from custody.models import AuditEntry, Disposition, Lot, QualityAlert, Signature
from custody.services.quality.release_signature import signature_status
from custody.services.quality.results import ResultRequest, correct_result, enter_result
from tests.conftest import change_settings
from tests.factories import PASSWORD


@pytest.fixture
def lot(quality, make_lot):
    quality.specification()
    return make_lot()


def _reload(lot) -> Lot:
    db.session.expire_all()
    return db.session.get(Lot, lot.id)


def test_release_with_every_result_in_spec_signs_and_issues_the_certificate(quality, lot):
    quality.results(lot.lot_number)
    decision = quality.sign(lot.lot_number)
    assert _reload(lot).disposition is Disposition.RELEASED
    assert decision.signature.meaning == "Approved for release"
    assert decision.certificate_pdf.startswith(b"%PDF")
    assert decision.certificate_number == f"COA-{lot.lot_number}-1"
    assert signature_status(decision) == (True, "")


def test_release_with_a_result_missing_is_refused_and_names_it(quality, lot):
    quality.results(lot.lot_number, skip=("potency",))
    with pytest.raises(IllegalTransition, match=r"Potency.*has no result"):
        quality.sign(lot.lot_number)
    assert _reload(lot).disposition is Disposition.QUARANTINE
    assert db.session.query(Signature).filter_by(record_type="lot").count() == 0


def test_release_with_a_result_out_of_spec_is_refused(quality, lot):
    quality.results(lot.lot_number, viability={"value_numeric": 55.0})
    with pytest.raises(IllegalTransition, match=r"Viability.*out of specification"):
        quality.sign(lot.lot_number)


def test_wrong_password_signs_nothing_and_counts_towards_lockout(quality, lot, make, app):
    quality.results(lot.lot_number)
    qa = make.user("qa")
    from custody.services.quality.disposition import DispositionRequest, sign_disposition

    bad = DispositionRequest("release", qa.username, "not the password")
    for _ in range(settings().max_failed_logins - 1):
        with pytest.raises(SignatureRefused, match="password is not correct"):
            sign_disposition(qa, lot.lot_number, bad)
    with pytest.raises(AccountLocked):
        sign_disposition(qa, lot.lot_number, bad)
    assert _reload(lot).disposition is Disposition.QUARANTINE


def test_signing_with_another_persons_user_id_is_refused(quality, lot, make, app):
    quality.results(lot.lot_number)
    qa, other = make.user("qa"), make.user("qa")
    from custody.services.quality.disposition import DispositionRequest, sign_disposition

    request = DispositionRequest("release", other.username, PASSWORD)
    with pytest.raises(SignatureRefused, match="your own user ID"):
        sign_disposition(qa, lot.lot_number, request)


@pytest.mark.parametrize("role", ["technician", "nurse", "admin"])
def test_only_qa_signs(quality, lot, make, role):
    quality.results(lot.lot_number)
    with pytest.raises(SignatureRefused, match="Only QA"):
        quality.sign(lot.lot_number, signer=make.user(role))


def test_whoever_entered_a_result_may_not_release(quality, lot, make):
    qa = make.user("qa")
    quality.results(lot.lot_number, by=qa)
    with pytest.raises(SignatureRefused, match="different QA person"):
        quality.sign(lot.lot_number, signer=qa)


def test_segregation_can_be_switched_off_by_the_site(quality, lot, make, app):
    change_settings(app, CUSTODY_RELEASE_SEGREGATION=0)
    qa = make.user("qa")
    quality.results(lot.lot_number, by=qa)
    quality.sign(lot.lot_number, signer=qa)
    assert _reload(lot).disposition is Disposition.RELEASED


def test_reject_and_return_to_quarantine_need_a_reason(quality, lot):
    quality.results(lot.lot_number)
    with pytest.raises(ValidationFailed, match="needs its reason"):
        quality.sign(lot.lot_number, "reject")
    decision = quality.sign(lot.lot_number, "reject", reason="Viability trend under review")
    assert decision.signature.meaning == "Rejected"
    assert decision.certificate_pdf.startswith(b"%PDF")
    assert _reload(lot).disposition is Disposition.REJECTED


def test_released_lot_cannot_be_released_again_but_can_be_returned(quality, lot):
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number)
    with pytest.raises(IllegalTransition, match="Allowed now: reject, quarantine"):
        quality.sign(lot.lot_number)
    decision = quality.sign(lot.lot_number, "quarantine", reason="Label review")
    assert decision.certificate_pdf is None
    assert _reload(lot).disposition is Disposition.QUARANTINE


def test_correcting_a_result_after_release_withdraws_the_signature(quality, lot, make):
    quality.results(lot.lot_number)
    decision = quality.sign(lot.lot_number)
    analyst = make.user("technician")
    correct_result(
        analyst,
        lot.lot_number,
        ResultRequest("viability", value_numeric=90.0),
        "transcription error",
    )
    assert _reload(lot).disposition is Disposition.QUARANTINE
    holds, why = signature_status(db.session.get(type(decision), decision.id))
    assert not holds
    assert "viability" in why


def test_an_edit_that_bypasses_the_services_shows_in_the_signature_status(quality, lot):
    quality.results(lot.lot_number)
    decision = quality.sign(lot.lot_number)
    db.session.execute(
        db.text("UPDATE qc_results SET value_numeric = 99.0 WHERE test = 'viability'")
    )
    db.session.commit()
    db.session.expire_all()
    assert signature_status(decision) == (False, "The lot's record changed after it was signed.")


def test_conditional_release_names_pending_results_that_the_spec_allows(quality, lot):
    quality.results(lot.lot_number, skip=("sterility",))
    with pytest.raises(ValidationFailed, match="names the results still pending"):
        quality.sign(lot.lot_number, "conditional_release", reason="Urgent: recipient ready")
    with pytest.raises(IllegalTransition, match=r"Mycoplasma.*may not be pending"):
        quality.sign(
            lot.lot_number,
            "conditional_release",
            reason="Urgent",
            pending_tests=["sterility", "mycoplasma"],
        )
    decision = quality.sign(
        lot.lot_number, "conditional_release", reason="Urgent", pending_tests=["sterility"]
    )
    assert _reload(lot).disposition is Disposition.CONDITIONALLY_RELEASED
    assert decision.pending_tests == ["sterility"]


def test_awaited_result_in_spec_keeps_the_conditional_release_then_qa_releases(quality, lot, make):
    quality.results(lot.lot_number, skip=("sterility",))
    decision = quality.sign(
        lot.lot_number, "conditional_release", reason="Urgent", pending_tests=["sterility"]
    )
    enter_result(
        make.user("technician"), lot.lot_number, ResultRequest("sterility", value_text="Negative")
    )
    assert _reload(lot).disposition is Disposition.CONDITIONALLY_RELEASED
    assert signature_status(decision) == (True, "")
    final = quality.sign(lot.lot_number)
    assert final.certificate_number == f"COA-{lot.lot_number}-2"
    assert _reload(lot).disposition is Disposition.RELEASED


def test_positive_result_after_conditional_release_alerts_and_quarantines(quality, lot, make):
    quality.results(lot.lot_number, skip=("sterility",))
    quality.sign(
        lot.lot_number, "conditional_release", reason="Urgent", pending_tests=["sterility"]
    )
    enter_result(
        make.user("technician"),
        lot.lot_number,
        ResultRequest("sterility", value_text="positive"),
    )
    assert _reload(lot).disposition is Disposition.QUARANTINE
    alert = db.session.query(QualityAlert).one()
    assert {a["bag"] for a in alert.affected} == {b.code for b in lot.bags}
    assert "out of specification" in alert.message


def test_exceptional_release_records_the_physicians_request(quality, lot):
    quality.results(lot.lot_number, viability={"value_numeric": 60.0})
    with pytest.raises(ValidationFailed, match="the requesting physician"):
        quality.sign(lot.lot_number, exceptional=True)
    with pytest.raises(IllegalTransition, match="no investigation note"):
        quality.sign(
            lot.lot_number,
            exceptional=True,
            physician="Dr A. Osler",
            physician_request="Request 2026-17: no alternative product",
            justification="Benefit outweighs risk per PI",
        )
    from custody.services.quality.results import record_investigation

    record_investigation(quality.qa, lot.lot_number, "viability", "Thaw handling; cells intact")
    decision = quality.sign(
        lot.lot_number,
        exceptional=True,
        physician="Dr A. Osler",
        physician_request="Request 2026-17: no alternative product",
        justification="Benefit outweighs risk per PI",
    )
    assert decision.exceptional
    assert _reload(lot).disposition is Disposition.RELEASED


@pytest.mark.parametrize("determination", ["incomplete", "ineligible"])
def test_product_of_a_not_eligible_donor_needs_its_statements_acknowledged(
    quality, make_lot, determination
):
    quality.specification()
    lot = make_lot(eligibility=determination)
    quality.results(lot.lot_number)
    with pytest.raises(IllegalTransition, match=f"is {determination}"):
        quality.sign(lot.lot_number)
    quality.sign(lot.lot_number, statements_acknowledged=True)
    assert _reload(lot).disposition is Disposition.RELEASED


def test_undetermined_donor_blocks_release(quality, make_lot):
    quality.specification()
    lot = make_lot(eligibility="pending")
    quality.results(lot.lot_number)
    with pytest.raises(IllegalTransition, match="not been determined"):
        quality.sign(lot.lot_number, statements_acknowledged=True)


def test_the_signature_is_audited_with_the_disposition_change(quality, lot):
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number)
    entry = (
        db.session.query(AuditEntry)
        .filter_by(record_type="lots", record_id=str(lot.id))
        .order_by(AuditEntry.id.desc())
        .first()
    )
    assert '"disposition": ["quarantine", "released"]' in entry.changes
    assert "lot release" in entry.reason


def test_the_lot_history_gathers_the_lot_its_results_and_its_decisions(
    quality, lot, make, make_lot
):
    from custody.services.quality.queries import lot_history

    quality.results(lot.lot_number)
    correct_result(
        make.user("technician"),
        lot.lot_number,
        ResultRequest("viability", value_numeric=90.0),
        "transcription error",
    )
    quality.sign(lot.lot_number)
    other = quality.released_lot(make_lot)

    entries = lot_history(lot.lot_number, limit=500)

    kinds = {e.record_type for e in entries}
    assert {"lots", "qc_results", "release_decisions"} <= kinds
    assert any("transcription error" in e.reason for e in entries)
    # Eleven results were written (ten and one correction), each audited when created.
    created = {
        e.record_id for e in entries if e.record_type == "qc_results" and e.action == "create"
    }
    assert len(created) == 11
    assert all(e.record_id != str(other.id) for e in entries if e.record_type == "lots")
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    assert len(lot_history(lot.lot_number, limit=3)) == 3
