"""POST /api/v1/bedside/verifications as CONTRACT.md promises it, and reading it back."""

from __future__ import annotations

import pytest

from custody.domain.bedside_checks import CHECK_NAMES
from custody.domain.isbt128 import check_character
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import AuditEntry, BedsideVerification
from tests.api import responses
from tests.factories import PASSWORD

URL = "/api/v1/bedside/verifications"


def _scans(client, headers, bag, recipient) -> dict:
    """What the scanners read: the wristband barcode and the bag label's Data Matrix."""
    scan = responses.ok(client.get(f"/api/v1/bags/{bag.code}", headers=headers), 200)["scan"]
    return {
        "recipient": wristband_data(recipient.hospital_record_number, recipient.birth_date),
        "bag": scan,
    }


def test_a_passed_verification_answers_the_contract_shape(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    body = _scans(client, ann, bag, recipient) | {
        "second_verifier": {"username": "nina", "password": PASSWORD},
        "station": "WARD-7",
    }
    answer = responses.ok(client.post(URL, json=body, headers=ann), 201)
    assert answer["passed"] is True and answer["outcome"] == "passed"
    assert answer["stop_reason"] is None
    assert [c["check"] for c in answer["checks"]] == list(CHECK_NAMES)
    assert all(
        set(c) == {"check", "passed", "message", "checked", "rescan"}
        and (c["passed"], c["checked"], c["rescan"]) == (True, True, False)
        for c in answer["checks"]
    )
    assert answer["bag"] == {
        "code": bag.code,
        "din": bag.din,
        "check_character": check_character(bag.din),
        "product_code": bag.product_code,
        "lot": bag.lot.lot_number,
        "status": "verified",
    }
    assert answer["recipient"] == {
        "subject_id": recipient.subject_id,
        "name": recipient.name,
        "birth_date": recipient.birth_date.isoformat(),
        "hospital_record_number": recipient.hospital_record_number,
    }
    assert answer["infusion_number"] == 1 and answer["warnings"] == []
    assert answer["volume_to_infuse_ml"] == 20.0
    assert set(answer["thaw"]) == {"ended_at", "use_by", "seconds_left"}
    assert answer["thaw"]["seconds_left"] > 0
    assert answer["station"] == "WARD-7" and answer["second_verifier"] == "Nina Second"
    assert "password" not in str(answer)
    again = responses.ok(client.get(f"{URL}/{answer['uid']}", headers=ann), 200)
    assert (again["uid"], again["passed"], again["checks"]) == (
        answer["uid"],
        True,
        answer["checks"],
    )


def test_infusion_one_stops_for_a_recipient_not_yet_through_lymphodepletion(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside(recipient=clinic.recipient(status="enrolled"))
    body = _scans(client, ann, bag, recipient) | {
        "second_verifier": {"username": "nina", "password": PASSWORD}
    }
    answer = responses.ok(client.post(URL, json=body, headers=ann), 201)
    assert answer["outcome"] == "stopped"
    failed = [c["check"] for c in answer["checks"] if not c["passed"]]
    assert failed == ["recipient_on_study"]
    assert "lymphodepletion" in answer["stop_reason"]
    assert answer["bag"]["status"] == "thawed"


def test_another_patients_wristband_is_a_201_stop_kept_in_the_audit_trail(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    other = clinic.recipient()
    body = _scans(client, ann, bag, other) | {
        "second_verifier": {"username": "nina", "password": PASSWORD},
        "warnings_acknowledged": True,
    }
    answer = responses.ok(client.post(URL, json=body, headers=ann), 201)
    assert answer["passed"] is False and answer["outcome"] == "stopped"
    assert answer["stop_reason"].startswith(f"STOP: this bag is for {recipient.name}")
    failed = [c["check"] for c in answer["checks"] if not c["passed"]]
    assert failed == ["recipient_identity"]
    assert answer["recipient"]["subject_id"] == recipient.subject_id
    assert answer["bag"]["status"] == "thawed"
    detail = responses.ok(client.get(f"/api/v1/bags/{bag.code}", headers=ann), 200)
    assert detail["status"] == "thawed"
    entry = db.session.scalar(
        db.select(AuditEntry).where(AuditEntry.record_type == "bedside_verifications")
    )
    assert entry is not None and "STOP" in entry.reason
    shown = responses.ok(client.get(f"{URL}/{answer['uid']}", headers=ann), 200)
    assert shown["outcome"] == "stopped" and shown["stop_reason"] == answer["stop_reason"]


@pytest.mark.parametrize(
    ("wristband", "bag"),
    [("", ""), ("garbage", "=W999926999999"), ("&#0005MRN12", "LOC-FREEZER-1")],
)
def test_unreadable_scans_are_recorded_reads_to_do_again_not_refusals(client, ann, wristband, bag):
    answer = responses.ok(
        client.post(URL, json={"recipient": wristband, "bag": bag}, headers=ann), 201
    )
    assert answer["passed"] is False and answer["outcome"] == "unreadable"
    assert {c["check"] for c in answer["checks"] if c["rescan"]} == {"wristband", "bag_label"}
    assert answer["bag"] is None and answer["recipient"] is None and answer["thaw"] is None
    assert [c["check"] for c in answer["checks"]] == list(CHECK_NAMES)
    assert db.session.scalar(db.select(db.func.count(BedsideVerification.id))) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"bag": "x"},
        {"recipient": "x"},
        {"recipient": 5, "bag": "x"},
        {"recipient": "x", "bag": "x", "second_verifier": {"username": "nina"}},
        {"recipient": "x", "bag": "x", "warnings_acknowledged": "perhaps"},
    ],
)
def test_a_malformed_body_is_422_and_records_nothing(client, ann, body):
    responses.error(client.post(URL, json=body, headers=ann), 422, "validation_error")
    assert db.session.scalar(db.select(db.func.count(BedsideVerification.id))) == 0


@pytest.mark.parametrize("role", ["admin", "technician", "qa"])
def test_only_nurses_verify(client, make, role):
    body = {"recipient": "x", "bag": "y"}
    responses.error(client.post(URL, json=body, headers=make.auth(role)), 403, "forbidden")


def test_a_wrong_second_password_is_an_incomplete_check(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    body = _scans(client, ann, bag, recipient) | {
        "second_verifier": {"username": "nina", "password": "not her password"},
    }
    answer = responses.ok(client.post(URL, json=body, headers=ann), 201)
    assert answer["passed"] is False and answer["outcome"] == "incomplete"
    assert answer["stop_reason"] is None
    assert [c["check"] for c in answer["checks"] if not c["passed"]] == ["second_verifier"]
    assert answer["bag"]["status"] == "thawed"


def test_an_unknown_verification_is_404(client, ann):
    responses.error(client.get(f"{URL}/not-a-uid", headers=ann), 404, "not_found")


def test_the_thaw_countdown_is_open_to_every_signed_in_role(client, clinic, make):
    bag, _, _ = clinic.at_bedside()
    for role in ("nurse", "technician", "qa", "admin"):
        clock = responses.ok(
            client.get(f"/api/v1/bedside/thaws/{bag.code}", headers=make.auth(role)), 200
        )
        assert clock["bag"] == bag.code and clock["expired"] is False
    anonymous = client.get(f"/api/v1/bedside/thaws/{bag.code}")
    assert anonymous.status_code == 401
