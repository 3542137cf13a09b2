"""An infusion under way, found again from the recipient's wristband; what stops it since it
began; recording its end (or its interruption) whatever changed since the start."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from custody.domain import isbt128
from custody.domain.errors import InvalidBarcode
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import AuditEntry, Infusion, Recipient, User
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusion_in_progress import at_bedside, in_progress
from custody.services.clinic.infusions import complete_infusion, list_infusions, start_infusion
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from custody.services.quality.results import ResultRequest, correct_result
from custody.services.traceability.recalls import SignedRequest, lift_recall, raise_recall
from tests.factories import PASSWORD

NINA = {"username": "nina", "password": PASSWORD}
RECALL_REASON = "Late positive sterility on the retained sample"


def _band(recipient) -> str:
    return wristband_data(recipient.hospital_record_number, recipient.birth_date)


def _verified(user, bag, recipient):
    request = VerificationRequest(
        recipient=_band(recipient),
        bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        second_verifier=NINA,
    )
    result = verify(user, request)
    assert result.passed, result.stop_reason
    return result


def _running(clinic, ann, starter=None, recipient=None):
    """A bag at the bedside, verified by Ann and Nina, its infusion started (by `starter`)."""
    bag, recipient, _ = clinic.at_bedside(recipient)
    started = start_infusion(starter or ann, _verified(ann, bag, recipient).uid)
    return bag, recipient, started


def _recall(make, lot_number: str) -> str:
    qa = make.user("qa", username="quinn")
    signed = SignedRequest(RECALL_REASON, "quinn", PASSWORD)
    return raise_recall(qa, "lot", lot_number, signed)["code"]


def _withdraw_release(make, lot_number: str) -> None:
    """A QC result corrected after QA signed: the release no longer holds."""
    correct_result(
        make.user("technician"),
        lot_number,
        ResultRequest("viability", value_numeric=90.0),
        "transcription error",
    )


def _infusion_row(bag) -> Infusion:
    db.session.expire_all()
    return db.session.scalar(db.select(Infusion).where(Infusion.bag_id == bag.id))


def _infusion_audits(row: Infusion) -> list[AuditEntry]:
    return db.session.scalars(
        db.select(AuditEntry)
        .where(AuditEntry.record_type == "infusions", AuditEntry.record_key == f"infusion {row.id}")
        .order_by(AuditEntry.id)
    ).all()


def _recall_stop(code: str) -> str:
    return (
        f"STOP the infusion: QA has recalled this product ({code}). Record the volume given, "
        "and call the cell therapy lab."
    )


def _release_stop(lot_number: str) -> str:
    return (
        f"STOP the infusion: QA's release of lot {lot_number} no longer holds (viability "
        "result corrected after QA signed the lot). Record the volume given, and call QA."
    )


# --- found again from the wristband -------------------------------------------------------------


def test_a_started_infusion_is_found_from_its_recipients_wristband(clinic, ann, make):
    nora = make.user("nurse", username="nora", name="Nora Third")
    bag, recipient, started = _running(clinic, ann, starter=nora)

    found = at_bedside(_band(recipient))

    assert found == {
        "wristband": {
            "patient_number": recipient.hospital_record_number,
            "birth_date": recipient.birth_date,
        },
        "recipient": {
            "subject_id": recipient.subject_id,
            "name": recipient.name,
            "birth_date": recipient.birth_date,
            "hospital_record_number": recipient.hospital_record_number,
        },
        "infusion_in_progress": {
            "bag": bag.code,
            "din": bag.din,
            "check_character": isbt128.check_character(bag.din),
            "product_code": bag.product_code,
            "lot": bag.lot.lot_number,
            "recipient": recipient.subject_id,
            "infusion_number": 1,
            "started_at": started["started_at"],
            "volume_ml": None,
            "volume_to_infuse_ml": 20.0,
            # Who started it is who recorded the start; the verifiers are the bedside pair.
            "started_by": "Nora Third",
            "first_verifier": "Ann First",
            "second_verifier": "Nina Second",
            "stops": [],
        },
    }
    assert _infusion_row(bag).started_at == found["infusion_in_progress"]["started_at"]


def test_another_recipients_wristband_finds_them_and_no_infusion(clinic, ann):
    _running(clinic, ann)
    other = clinic.recipient()

    found = at_bedside(_band(other))

    assert found["recipient"]["subject_id"] == other.subject_id
    assert found["infusion_in_progress"] is None


def test_a_well_formed_wristband_nobody_wears_names_no_recipient(clinic, ann):
    _, recipient, _ = _running(clinic, ann)
    born = recipient.birth_date
    # The recipient's number with another birth date is nobody's wristband either.
    for number, birth_date in (
        ("MRN9999999", born),
        (recipient.hospital_record_number, born - timedelta(1)),
    ):
        found = at_bedside(wristband_data(number, birth_date))
        assert found == {
            "wristband": {"patient_number": number, "birth_date": birth_date},
            "recipient": None,
            "infusion_in_progress": None,
        }


def test_a_completed_infusion_is_no_longer_in_progress(clinic, ann):
    bag, recipient, started = _running(clinic, ann)
    assert at_bedside(_band(recipient))["infusion_in_progress"]["bag"] == bag.code

    complete_infusion(ann, bag.code, started["started_at"] + timedelta(seconds=1), 20.0)

    found = at_bedside(_band(recipient))
    assert found["recipient"]["subject_id"] == recipient.subject_id
    assert found["infusion_in_progress"] is None
    assert in_progress() == []


def test_the_second_infusion_running_is_found_not_the_first_one_ended(clinic, ann):
    recipient = clinic.recipient()
    first_bag, _, first = _running(clinic, ann, recipient=recipient)
    complete_infusion(ann, first_bag.code, first["started_at"] + timedelta(seconds=1), 20.0)
    with acting_as("system:test", reason="investigator orders infusion 2"):
        db.session.get(Recipient, recipient.id).second_infusion_ordered = True
        db.session.commit()
    second_bag, _, _ = clinic.at_bedside(recipient, infusion_number=2)
    start_infusion(ann, _verified(ann, second_bag, recipient).uid)

    running = at_bedside(_band(recipient))["infusion_in_progress"]

    assert (running["bag"], running["infusion_number"]) == (second_bag.code, 2)


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("", "Scan the recipient's wristband: nothing was read."),
        (
            "garbage",
            "This is not an ISBT 128 barcode: position 1 of the scan is the lower-case letter g, "
            "but ISBT 128 barcodes start with '=' or '&'. Rescan the barcode, and check it is the "
            "barcode this step asks for.",
        ),
        (
            "&#0005MRN12",
            "That is not a wristband: a wristband carries the patient number and the date of "
            "birth, and this scan holds patient id. Scan the barcode on the recipient's "
            "wristband.",
        ),
    ],
)
def test_an_unreadable_wristband_scan_is_refused_to_be_scanned_again(app, scan, message):
    with pytest.raises(InvalidBarcode) as refused:
        at_bedside(scan)
    assert refused.value.message == message


def test_two_wristbands_read_as_one_are_refused(clinic):
    first, second = clinic.recipient(), clinic.recipient()
    with pytest.raises(InvalidBarcode, match="That is not a wristband"):
        at_bedside(_band(first) + _band(second))


# --- the clinic's list of infusions under way ---------------------------------------------------


def test_in_progress_lists_running_infusions_oldest_first_and_not_ended_ones(clinic, ann):
    """Recorded in the order C, A, B, D; started in the order A, C, B, D; D then ended."""
    at = {name: clinic.at_bedside() for name in "ABCD"}
    checks = {name: _verified(ann, bag, recipient) for name, (bag, recipient, _) in at.items()}
    start_infusion(ann, checks["C"].uid)
    # A started as its verification ended, before C: written later, but older.
    start_infusion(ann, checks["A"].uid, started_at=checks["A"].attempted_at)
    start_infusion(ann, checks["B"].uid)
    d = start_infusion(ann, checks["D"].uid)
    complete_infusion(ann, at["D"][0].code, d["started_at"] + timedelta(seconds=1), 20.0)

    listed = in_progress()

    assert [row["bag"] for row in listed] == [at[name][0].code for name in "ACB"]
    assert [row["recipient"] for row in listed] == [at[name][1].subject_id for name in "ACB"]
    # Stops are checked at the bedside, where the infusion is resumed, not in the list.
    assert all(row["stops"] is None for row in listed)
    bag_a = at["A"][0]
    assert listed[0] == {
        "bag": bag_a.code,
        "din": bag_a.din,
        "check_character": isbt128.check_character(bag_a.din),
        "product_code": bag_a.product_code,
        "lot": bag_a.lot.lot_number,
        "recipient": at["A"][1].subject_id,
        "infusion_number": 1,
        "started_at": checks["A"].attempted_at,
        "volume_ml": None,
        "volume_to_infuse_ml": 20.0,
        "started_by": "Ann First",
        "first_verifier": "Ann First",
        "second_verifier": "Nina Second",
        "stops": None,
    }


def test_in_progress_is_empty_without_running_infusions(app):
    assert in_progress() == []


def test_list_infusions_keeps_running_or_ended_ones_for_everyone_or_one_recipient(clinic, ann):
    ended_bag, ended_recipient, ended = _running(clinic, ann)
    complete_infusion(ann, ended_bag.code, ended["started_at"] + timedelta(seconds=1), 20.0)
    running_bag, running_recipient, _ = _running(clinic, ann)

    def bags(**kw) -> list[str]:
        return [row["bag"] for row in list_infusions(**kw)]

    # Everyone's, newest first.
    assert bags() == [running_bag.code, ended_bag.code]
    assert bags(in_progress=True) == [running_bag.code]
    assert bags(in_progress=False) == [ended_bag.code]
    assert bags(subject_id=ended_recipient.subject_id, in_progress=True) == []
    assert bags(subject_id=ended_recipient.subject_id, in_progress=False) == [ended_bag.code]
    assert bags(subject_id=running_recipient.subject_id, in_progress=True) == [running_bag.code]


# --- what stops the infusion since it began -----------------------------------------------------


def test_a_recall_of_the_lot_after_the_start_is_named_as_a_stop_until_lifted(clinic, ann, make):
    bag, recipient, _ = _running(clinic, ann)
    assert at_bedside(_band(recipient))["infusion_in_progress"]["stops"] == []

    code = _recall(make, bag.lot.lot_number)

    assert at_bedside(_band(recipient))["infusion_in_progress"]["stops"] == [_recall_stop(code)]
    # The list does not check stops: it says so with None, not with an empty list.
    (listed,) = in_progress()
    assert listed["stops"] is None
    quinn = db.session.scalar(db.select(User).where(User.username == "quinn"))
    lifted = SignedRequest("The positive culture was a contamination", "quinn", PASSWORD)
    lift_recall(quinn, code, lifted)
    assert at_bedside(_band(recipient))["infusion_in_progress"]["stops"] == []


def test_a_release_withdrawn_after_the_start_is_named_as_a_stop(clinic, ann, make):
    bag, recipient, _ = _running(clinic, ann)

    _withdraw_release(make, bag.lot.lot_number)

    stops = at_bedside(_band(recipient))["infusion_in_progress"]["stops"]
    assert stops == [_release_stop(bag.lot.lot_number)]


def test_a_recall_and_a_withdrawn_release_are_both_named_recall_first(clinic, ann, make):
    bag, recipient, _ = _running(clinic, ann)
    code = _recall(make, bag.lot.lot_number)
    _withdraw_release(make, bag.lot.lot_number)

    stops = at_bedside(_band(recipient))["infusion_in_progress"]["stops"]

    assert stops == [_recall_stop(code), _release_stop(bag.lot.lot_number)]


# --- recording the end: never blocked by what changed since the start ---------------------------


def test_an_interrupted_infusion_is_recorded_with_its_reason(clinic, ann):
    bag, recipient, started = _running(clinic, ann)
    ended_at = started["started_at"] + timedelta(minutes=1)

    done = complete_infusion(ann, bag.code, ended_at, 8.5, "rigors", "  Stopped for rigors  ")

    assert (done["ended_at"], done["volume_ml"], done["reactions"]) == (ended_at, 8.5, "rigors")
    assert done["interruption_reason"] == "Stopped for rigors"
    row = _infusion_row(bag)
    assert (row.ended_at, row.volume_ml, row.interruption_reason) == (
        ended_at,
        8.5,
        "Stopped for rigors",
    )
    update = _infusion_audits(row)[-1]
    assert (update.action, update.reason) == ("update", "infusion interrupted")
    assert json.loads(update.changes)["interruption_reason"] == [None, "Stopped for rigors"]
    assert at_bedside(_band(recipient))["infusion_in_progress"] is None


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_an_infusion_run_to_its_end_has_no_interruption_reason(clinic, ann, reason):
    bag, _, started = _running(clinic, ann)
    ended_at = started["started_at"] + timedelta(minutes=1)

    done = complete_infusion(ann, bag.code, ended_at, 20.0, "", reason)

    assert done["interruption_reason"] is None
    row = _infusion_row(bag)
    assert row.interruption_reason is None
    update = _infusion_audits(row)[-1]
    assert (update.action, update.reason) == ("update", "infusion completed")
    assert "interruption_reason" not in json.loads(update.changes)


def test_completion_is_recorded_after_the_lot_was_recalled_since_the_start(clinic, ann, make):
    bag, recipient, started = _running(clinic, ann)
    code = _recall(make, bag.lot.lot_number)
    assert at_bedside(_band(recipient))["infusion_in_progress"]["stops"] == [_recall_stop(code)]
    ended_at = started["started_at"] + timedelta(minutes=2)

    done = complete_infusion(ann, bag.code, ended_at, 6.0, "", f"Recall {code} called in")

    assert (done["ended_at"], done["volume_ml"]) == (ended_at, 6.0)
    assert done["interruption_reason"] == f"Recall {code} called in"
    row = _infusion_row(bag)
    assert (row.ended_at, row.interruption_reason) == (ended_at, f"Recall {code} called in")
    assert in_progress() == []


def test_completion_is_recorded_after_the_release_was_withdrawn_since_the_start(clinic, ann, make):
    bag, _, started = _running(clinic, ann)
    _withdraw_release(make, bag.lot.lot_number)
    ended_at = started["started_at"] + timedelta(minutes=2)

    done = complete_infusion(ann, bag.code, ended_at, 20.0)

    assert (done["ended_at"], done["volume_ml"], done["interruption_reason"]) == (
        ended_at,
        20.0,
        None,
    )
    assert _infusion_row(bag).ended_at == ended_at
