"""Two-person bedside verification: what passes, what stops, and that every attempt is kept."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from custody.domain.errors import Forbidden
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import AuditEntry, Bag, BedsideVerification, CustodyEvent, User
from custody.models.base import utcnow
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import start_infusion
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from custody.services.quality.results import ResultRequest, correct_result
from tests.factories import PASSWORD

NINA = {"username": "nina", "password": PASSWORD}


def _verify(user, bag, recipient, second=NINA, **kw):
    request = VerificationRequest(
        recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
        bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        second_verifier=second,
        **kw,
    )
    return verify(user, request)


def _failed(result) -> list[str]:
    return [c["check"] for c in result.checks if not c["passed"]]


def _status(bag) -> str:
    db.session.expire_all()
    return db.session.get(Bag, bag.id).status.value


def _events(bag, action) -> list[CustodyEvent]:
    return db.session.scalars(
        db.select(CustodyEvent).where(CustodyEvent.bag_id == bag.id, CustodyEvent.action == action)
    ).all()


def _recorded(result) -> BedsideVerification:
    db.session.expire_all()
    return db.session.scalar(
        db.select(BedsideVerification).where(BedsideVerification.uid == result.uid)
    )


def _audited(result) -> list[AuditEntry]:
    return db.session.scalars(
        db.select(AuditEntry).where(
            AuditEntry.record_type == "bedside_verifications",
            AuditEntry.record_key == f"bedside verification {result.uid}",
        )
    ).all()


def _assert_stopped_and_kept(result, bag, failed: str, status="thawed", verified_before=0):
    """Stopped on `failed`, nothing moved, but the attempt recorded and audited."""
    assert result.passed is False and result.outcome == "stopped"
    assert failed in _failed(result)
    assert result.stop_reason == next(c for c in result.checks if not c["passed"])["message"]
    assert _status(bag) == status and len(_events(bag, "verify")) == verified_before
    row = _recorded(result)
    assert row is not None and row.passed is False
    assert [c["check"] for c in json.loads(row.checks)] == [c["check"] for c in result.checks]
    (entry,) = _audited(result)
    assert entry.action == "create" and "stopped" in entry.reason


def test_a_passed_verification_moves_the_bag_then_the_infusion_ends_its_journey(clinic, ann):
    bag, recipient, allocation = clinic.at_bedside()
    result = _verify(ann, bag, recipient)
    assert result.passed and result.outcome == "passed" and result.stop_reason is None
    assert _failed(result) == []
    assert result.recipient["subject_id"] == recipient.subject_id
    assert result.bag["code"] == bag.code and result.bag["status"] == "verified"
    assert result.infusion_number == 1 and result.warnings == []
    assert 0 < result.thaw["seconds_left"] <= 60 * 60
    assert _status(bag) == "verified"
    (event,) = _events(bag, "verify")
    assert (event.from_status, event.to_status, event.actor.username) == (
        "thawed",
        "verified",
        "ann",
    )
    assert "Nina Second" in event.notes and result.uid in event.notes
    row = _recorded(result)
    assert row.passed and row.second_verifier.username == "nina"
    assert row.allocation_id == allocation.id and row.recipient_id == recipient.id
    assert _audited(result)[0].reason == "bedside verification passed"
    start_infusion(ann, result.uid)
    assert _status(bag) == "infused"


def test_another_recipients_wristband_stops_and_is_kept(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    other = clinic.recipient()
    result = _verify(ann, bag, other)
    _assert_stopped_and_kept(result, bag, "recipient_identity")
    assert _failed(result) == ["recipient_identity"]
    assert result.stop_reason.startswith(
        f"STOP: this bag is for {recipient.name} ({recipient.subject_id}), born "
        f"{recipient.birth_date}; the wristband is for another patient. Do not infuse."
    )
    assert result.recipient["subject_id"] == recipient.subject_id  # the allocated one
    assert _recorded(result).wristband_scan == wristband_data(
        other.hospital_record_number, other.birth_date
    )


def test_the_right_patient_number_with_another_date_of_birth_stops(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    impostor = clinic.recipient(
        hospital_record_number=recipient.hospital_record_number,
        birth_date=recipient.birth_date + timedelta(days=1),
    )
    result = _verify(ann, bag, impostor)
    _assert_stopped_and_kept(result, bag, "recipient_identity")


def test_a_bag_for_infusion_two_before_infusion_one_stops(clinic, ann):
    recipient = clinic.recipient(second_infusion_ordered=True)
    bag, _, _ = clinic.at_bedside(recipient, infusion_number=2)
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "infusion_number")
    assert "next infusion due is infusion 1" in result.stop_reason


def test_a_release_withdrawn_after_allocation_stops(clinic, ann, make):
    bag, recipient, _ = clinic.at_bedside()
    correct_result(
        make.user("technician"),
        bag.lot.lot_number,
        ResultRequest("viability", value_numeric=90.0),
        "transcription error",
    )
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "lot_released")
    assert "quarantine" in next(c for c in result.checks if c["check"] == "lot_released")["message"]


def test_a_release_whose_signature_no_longer_holds_stops(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    db.session.execute(
        db.text("UPDATE qc_results SET value_numeric = 99.0 WHERE test = 'viability'")
    )
    db.session.commit()
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "lot_released")
    assert result.stop_reason.startswith("STOP: QA's release of lot")


def test_an_expired_product_stops(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    with acting_as("system:test", reason="test setup"):
        bag.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "product_expiry")


def test_a_closed_post_thaw_window_stops(clinic, ann):
    bag, recipient, allocation = clinic.at_bedside(thawed=False)
    clinic.thaw(bag, allocation, minutes_ago=90)
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "thaw_window")
    assert result.thaw["seconds_left"] == 0


def test_a_bag_not_thawed_stops(clinic, ann):
    bag, recipient, _ = clinic.at_bedside(thawed=False)
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "thawed", status="received")
    assert result.thaw is None


def test_a_bag_received_at_another_site_stops(clinic, ann):
    recipient = clinic.recipient()
    (bag,) = clinic.released_bags(1)
    allocation = clinic.allocate(bag, recipient)
    clinic.receive(bag, site="City Clinic")
    clinic.thaw(bag, allocation)
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "received_at_site")
    assert "City Clinic" in result.stop_reason


def test_a_dose_level_changed_after_allocation_stops(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    with acting_as("system:test", reason="dose level changed by the investigator"):
        recipient.dose_level_id = clinic.dose_level("DL3").id
        db.session.commit()
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "dose_level")


def test_an_infused_bag_cannot_be_verified_again(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    start_infusion(ann, _verify(ann, bag, recipient).uid)
    result = _verify(ann, bag, recipient)
    _assert_stopped_and_kept(result, bag, "never_infused", "infused", verified_before=1)


def test_reads_that_failed_are_recorded_and_ask_to_scan_again(clinic, ann):
    bag, _, _ = clinic.at_bedside()
    request = VerificationRequest(recipient="MRN123", bag="=W999926999999", second_verifier=NINA)
    result = verify(ann, request)
    assert result.outcome == "unreadable" and result.bag is None and result.recipient is None
    assert _failed(result)[:3] == ["wristband", "bag_label", "recipient_identity"]
    rescan = [c["check"] for c in result.checks if c["rescan"]]
    assert rescan == ["wristband", "bag_label"]
    # The checks that could not run are marked so, and say no finding of their own.
    assert all(
        c["message"].startswith("Not checked:") and not c["checked"]
        for c in result.checks[2:-2]
        if not c["passed"]
    )
    row = _recorded(result)
    assert (row.wristband_scan, row.bag_scan, row.bag_id) == ("MRN123", "=W999926999999", None)
    assert _status(bag) == "thawed"


def test_a_label_read_well_that_names_no_bag_here_is_a_recorded_stop(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    unknown = "=W99992699999900"  # a well-formed DIN that no bag here carries
    band = wristband_data(recipient.hospital_record_number, recipient.birth_date)
    result = verify(ann, VerificationRequest(band, unknown, second_verifier=NINA))
    assert result.outcome == "stopped" and result.bag is None
    assert result.stop_reason.startswith("STOP: the bag label could not be used.")
    assert _recorded(result).bag_scan == unknown
    assert _status(bag) == "thawed"


def test_the_same_nurse_cannot_be_the_second_verifier(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    result = _verify(ann, bag, recipient, second={"username": "ann", "password": "wrong"})
    assert result.outcome == "incomplete" and _failed(result) == ["second_verifier"]
    assert "another person" in result.checks[-1]["message"]
    assert _status(bag) == "thawed" and _recorded(result).second_verifier_id is None
    assert db.session.get(User, ann.id).failed_logins == 0  # her password was never tried


def test_a_wrong_second_verifier_password_counts_as_a_failed_sign_in(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    result = _verify(ann, bag, recipient, second={"username": "nina", "password": "not hers"})
    assert result.outcome == "incomplete" and _failed(result) == ["second_verifier"]
    db.session.expire_all()
    nina = db.session.scalar(db.select(User).where(User.username == "nina"))
    assert nina.failed_logins == 1
    assert _status(bag) == "thawed" and _recorded(result).passed is False


def test_a_technician_cannot_be_the_second_verifier(clinic, ann, make):
    bag, recipient, _ = clinic.at_bedside()
    make.user("technician", username="tom", name="Tom Tech")
    result = _verify(ann, bag, recipient, second={"username": "tom", "password": PASSWORD})
    assert result.outcome == "incomplete" and _failed(result) == ["second_verifier"]
    assert "must be a nurse" in result.checks[-1]["message"]
    assert _status(bag) == "thawed"


def test_without_a_second_verifier_the_check_is_incomplete(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    result = _verify(ann, bag, recipient, second=None)
    assert result.outcome == "incomplete" and result.passed is False
    assert _failed(result) == ["second_verifier"] and _status(bag) == "thawed"
    assert "incomplete" in _audited(result)[0].reason


def test_eligibility_warnings_must_be_acknowledged(clinic, ann, quality, make_lot):
    recipient = clinic.recipient()
    bag = _released_bag_of_incomplete_donor(clinic, quality, make_lot)
    allocation = clinic.allocate(bag, recipient)
    clinic.receive(bag)
    clinic.thaw(bag, allocation)
    unacknowledged = _verify(ann, bag, recipient)
    assert unacknowledged.outcome == "incomplete"
    assert _failed(unacknowledged) == ["eligibility_warnings"]
    assert "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in unacknowledged.warnings
    assert "NOT EVALUATED FOR INFECTIOUS SUBSTANCES" in unacknowledged.checks[-2]["message"]
    assert _status(bag) == "thawed"
    acknowledged = _verify(ann, bag, recipient, warnings_acknowledged=True)
    assert acknowledged.passed and _status(bag) == "verified"


def _released_bag_of_incomplete_donor(clinic, quality, make_lot):
    """Released with its statements acknowledged by QA, as a site does under urgent need."""
    if quality.specification_missing():
        quality.specification()
    lot = make_lot(bags=1, eligibility="incomplete")
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number, statements_acknowledged=True)
    clinic._set_status(lot.bags[0], "released")
    return lot.bags[0]


@pytest.mark.parametrize("role", ["admin", "technician", "qa"])
def test_only_a_nurse_verifies_at_the_bedside(clinic, make, nurse, role):
    bag, recipient, _ = clinic.at_bedside()
    with pytest.raises(Forbidden, match="Only a nurse"):
        _verify(make.user(role), bag, recipient)
    assert db.session.scalar(db.select(db.func.count(BedsideVerification.id))) == 0


def test_a_scan_carrying_two_patient_numbers_is_not_taken_for_a_wristband(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    other = clinic.recipient()
    other_number = wristband_data(other.hospital_record_number, other.birth_date).split("=#")[0]
    two_patients = other_number + wristband_data(
        recipient.hospital_record_number, recipient.birth_date
    )
    result = verify(ann, VerificationRequest(two_patients, bag.code, NINA))
    # Not taken for a wristband: read again, one wristband at a time.
    assert result.outcome == "unreadable" and "wristband" in _failed(result)
    assert result.stop_reason.startswith("The wristband could not be read: scan it again.")
