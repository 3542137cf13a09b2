"""The bedside over the API since infusions can be resumed: POST /api/v1/bedside/wristband, the
dashboard's infusions under way, completion with an interruption reason, and a bag label typed
by hand, which needs the reason it was typed."""

from __future__ import annotations

import json

import pytest

from custody.domain.isbt128 import ALPHABET, check_character
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import AuditEntry, Bag, BedsideVerification, Infusion
from custody.services.traceability.recalls import SignedRequest, raise_recall
from tests.api import responses
from tests.factories import PASSWORD

URL = "/api/v1/bedside/wristband"
VERIFY = "/api/v1/bedside/verifications"
INFUSIONS = "/api/v1/infusions"
DASHBOARD = "/api/v1/trial/dashboard"
NINA = {"username": "nina", "password": PASSWORD}
TYPED_REFUSAL = (
    "The bag's label was typed by hand: say why it could not be scanned (label damaged, "
    "scanner not working). The reason is kept with the verification."
)


def _band(recipient) -> str:
    return wristband_data(recipient.hospital_record_number, recipient.birth_date)


def _typed(bag) -> str:
    """What a nurse types from the eye-readable label: DIN, its boxed K, the product code."""
    return f"{bag.din}{check_character(bag.din)} {bag.product_code}"


def _verified(client, headers, bag, recipient) -> str:
    body = {"recipient": _band(recipient), "bag": bag.code, "second_verifier": NINA}
    answer = responses.ok(client.post(VERIFY, json=body, headers=headers), 201)
    assert answer["passed"], answer
    return answer["uid"]


def _started(client, headers, bag, recipient) -> dict:
    uid = _verified(client, headers, bag, recipient)
    return responses.ok(client.post(INFUSIONS, json={"verification": uid}, headers=headers), 201)


def _wristband(client, headers, scan) -> dict:
    return responses.ok(client.post(URL, json={"wristband": scan}, headers=headers), 200)


def _recipient_json(recipient) -> dict:
    return {
        "subject_id": recipient.subject_id,
        "name": recipient.name,
        "birth_date": recipient.birth_date.isoformat(),
        "hospital_record_number": recipient.hospital_record_number,
    }


def _count(model) -> int:
    return db.session.scalar(db.select(db.func.count(model.id)))


# --- POST /api/v1/bedside/wristband -------------------------------------------------------------


def test_a_wristband_without_an_infusion_under_way_names_its_recipient(client, clinic, ann):
    _, recipient, _ = clinic.at_bedside()
    audits = _count(AuditEntry)

    answer = _wristband(client, ann, _band(recipient))

    assert answer == {
        "wristband": {
            "patient_number": recipient.hospital_record_number,
            "birth_date": recipient.birth_date.isoformat(),
        },
        "recipient": _recipient_json(recipient),
        "infusion_in_progress": None,
    }
    # Reading a wristband changes nothing.
    assert _count(AuditEntry) == audits


def test_a_wristband_finds_the_infusion_under_way(client, clinic, ann, nurse):
    bag, recipient, _ = clinic.at_bedside()
    started = _started(client, ann, bag, recipient)

    # Any nurse on any tablet finds it: Nina resumes what Ann started.
    answer = _wristband(client, nurse, _band(recipient))

    assert answer["recipient"] == _recipient_json(recipient)
    assert answer["infusion_in_progress"] == {
        "bag": bag.code,
        "din": bag.din,
        "check_character": check_character(bag.din),
        "product_code": bag.product_code,
        "lot": bag.lot.lot_number,
        "recipient": recipient.subject_id,
        "infusion_number": 1,
        "started_at": started["started_at"],
        "started_local": started["started_local"],  # the site's time, as the page shows it
        "started_by": "Ann First",
        "first_verifier": "Ann First",
        "second_verifier": "Nina Second",
        "volume_ml": None,
        "volume_to_infuse_ml": 20.0,
        "stops": [],
    }


def test_a_recall_since_the_start_is_a_stop_on_the_wristbands_answer(client, clinic, ann, make):
    bag, recipient, _ = clinic.at_bedside()
    _started(client, ann, bag, recipient)
    qa = make.user("qa", username="quinn")
    code = raise_recall(
        qa, "lot", bag.lot.lot_number, SignedRequest("Late positive sterility", "quinn", PASSWORD)
    )["code"]

    stops = _wristband(client, ann, _band(recipient))["infusion_in_progress"]["stops"]

    assert stops == [
        f"STOP the infusion: QA has recalled this product ({code}). Record the volume given, "
        "and call the cell therapy lab."
    ]


def test_a_well_formed_wristband_nobody_wears_is_200_with_no_recipient(client, clinic, ann):
    _, recipient, _ = clinic.at_bedside()
    answer = _wristband(client, ann, wristband_data("MRN4242", recipient.birth_date))
    assert answer == {
        "wristband": {"patient_number": "MRN4242", "birth_date": recipient.birth_date.isoformat()},
        "recipient": None,
        "infusion_in_progress": None,
    }


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        (
            "garbage",
            "This is not an ISBT 128 barcode: position 1 of the scan is the lower-case letter g, "
            "but ISBT 128 barcodes start with '=' or '&'. Rescan the barcode, and check it is the "
            "barcode this step asks for.",
        ),
        ("", "Scan the recipient's wristband: nothing was read."),
        (
            "&#0005MRN12",
            "That is not a wristband: a wristband carries the patient number and the date of "
            "birth, and this scan holds patient id. Scan the barcode on the recipient's "
            "wristband.",
        ),
    ],
)
def test_a_garbled_wristband_is_422_asking_to_scan_again(client, ann, scan, message):
    refused = responses.error(
        client.post(URL, json={"wristband": scan}, headers=ann), 422, "invalid_barcode"
    )
    assert refused["message"] == message


@pytest.mark.parametrize("body", [{}, {"wristband": 5}, {"wristband": None}])
def test_a_body_without_a_wristband_scan_is_422(client, ann, body):
    responses.error(client.post(URL, json=body, headers=ann), 422, "validation_error")


@pytest.mark.parametrize("role", ["technician", "qa", "admin"])
def test_only_nurses_use_the_bedside(client, clinic, make, role):
    _, recipient, _ = clinic.at_bedside()
    refused = responses.error(
        client.post(URL, json={"wristband": _band(recipient)}, headers=make.auth(role)),
        403,
        "forbidden",
    )
    assert refused["message"] == f"Only nurse may do this; you are signed in as {role}."


def test_an_anonymous_wristband_lookup_is_401(client, clinic):
    _, recipient, _ = clinic.at_bedside()
    responses.error(
        client.post(URL, json={"wristband": _band(recipient)}), 401, "authentication_failed"
    )


# --- the dashboard and the list of infusions under way ------------------------------------------


def test_the_dashboard_lists_the_infusions_under_way_until_they_end(client, clinic, ann, make):
    bag, recipient, _ = clinic.at_bedside()
    tech = make.auth("technician")
    assert responses.ok(client.get(DASHBOARD, headers=tech), 200)["in_progress"] == []
    started = _started(client, ann, bag, recipient)

    (running,) = responses.ok(client.get(DASHBOARD, headers=tech), 200)["in_progress"]

    assert running == {
        "bag": bag.code,
        "din": bag.din,
        "check_character": check_character(bag.din),
        "product_code": bag.product_code,
        "lot": bag.lot.lot_number,
        "recipient": recipient.subject_id,
        "infusion_number": 1,
        "started_at": started["started_at"],
        "started_local": started["started_local"],  # the site's time, as the page shows it
        "started_by": "Ann First",
        "first_verifier": "Ann First",
        "second_verifier": "Nina Second",
        "volume_ml": None,
        "volume_to_infuse_ml": 20.0,
        "stops": None,
    }
    listed = responses.ok(client.get(f"{INFUSIONS}?in_progress=true", headers=tech), 200)
    assert [i["bag"] for i in listed["items"]] == [bag.code]
    assert listed["items"][0]["ended_at"] is None

    completion = f"{INFUSIONS}/{bag.code}/completion"
    responses.ok(client.post(completion, json={"volume_ml": 20}, headers=ann), 200)
    assert responses.ok(client.get(DASHBOARD, headers=tech), 200)["in_progress"] == []
    listed = responses.ok(client.get(f"{INFUSIONS}?in_progress=true", headers=tech), 200)
    assert listed == {"items": []}
    ended = responses.ok(client.get(f"{INFUSIONS}?in_progress=false", headers=tech), 200)
    assert [i["bag"] for i in ended["items"]] == [bag.code]


# --- completion with an interruption reason -----------------------------------------------------


def test_an_interruption_reason_is_stored_shown_and_audited(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    _started(client, ann, bag, recipient)
    body = {"volume_ml": 7.5, "reactions": "rigors", "interruption_reason": "Stopped for rigors"}

    done = responses.ok(
        client.post(f"{INFUSIONS}/{bag.code}/completion", json=body, headers=ann), 200
    )

    assert (done["volume_ml"], done["reactions"], done["interruption_reason"]) == (
        7.5,
        "rigors",
        "Stopped for rigors",
    )
    listed = responses.ok(
        client.get(f"{INFUSIONS}?recipient={recipient.subject_id}", headers=ann), 200
    )
    assert listed == {"items": [done]}
    row = db.session.scalar(db.select(Infusion).where(Infusion.bag_id == bag.id))
    assert row.interruption_reason == "Stopped for rigors"
    entry = db.session.scalar(
        db.select(AuditEntry)
        .where(AuditEntry.record_type == "infusions", AuditEntry.action == "update")
        .order_by(AuditEntry.id.desc())
    )
    assert entry.reason == "infusion interrupted"
    assert json.loads(entry.changes)["interruption_reason"] == [None, "Stopped for rigors"]
    assert _wristband(client, ann, _band(recipient))["infusion_in_progress"] is None


def test_a_completion_without_a_reason_has_none(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    _started(client, ann, bag, recipient)
    done = responses.ok(
        client.post(f"{INFUSIONS}/{bag.code}/completion", json={"volume_ml": 20}, headers=ann),
        200,
    )
    assert done["interruption_reason"] is None


def test_completion_is_recorded_after_a_recall_since_the_start(client, clinic, ann, make):
    bag, recipient, _ = clinic.at_bedside()
    _started(client, ann, bag, recipient)
    qa = make.user("qa", username="quinn")
    raise_recall(
        qa, "lot", bag.lot.lot_number, SignedRequest("Late positive sterility", "quinn", PASSWORD)
    )
    body = {"volume_ml": 4.0, "interruption_reason": "Recall called in by the lab"}

    done = responses.ok(
        client.post(f"{INFUSIONS}/{bag.code}/completion", json=body, headers=ann), 200
    )

    assert (done["volume_ml"], done["interruption_reason"]) == (4.0, "Recall called in by the lab")
    assert done["ended_at"] is not None


def test_an_interruption_reason_longer_than_2000_characters_is_422(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    _started(client, ann, bag, recipient)
    body = {"volume_ml": 4.0, "interruption_reason": "x" * 2001}
    responses.error(
        client.post(f"{INFUSIONS}/{bag.code}/completion", json=body, headers=ann),
        422,
        "validation_error",
    )
    assert db.session.scalar(db.select(Infusion.ended_at)) is None


# --- a bag label typed by hand ------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_typed_bag_label_without_a_reason_is_422_and_records_nothing(client, clinic, ann, reason):
    bag, recipient, _ = clinic.at_bedside()
    body = {"recipient": _band(recipient), "bag": _typed(bag), "second_verifier": NINA}
    if reason is not None:
        body["typed_reason"] = reason

    refused = responses.error(client.post(VERIFY, json=body, headers=ann), 422, "validation_error")

    assert refused["message"] == TYPED_REFUSAL
    assert refused["details"] == {"field": "typed_reason"}
    assert _count(BedsideVerification) == 0
    db.session.expire_all()
    assert db.session.get(Bag, bag.id).status.value == "thawed"


def test_a_typed_bag_label_with_its_reason_is_stored_and_audited(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    body = {
        "recipient": _band(recipient),
        "bag": _typed(bag),
        "second_verifier": NINA,
        "typed_reason": "  Label smudged by frost  ",
    }

    answer = responses.ok(client.post(VERIFY, json=body, headers=ann), 201)

    assert answer["passed"] is True and answer["outcome"] == "passed"
    assert answer["typed_reason"] == "Label smudged by frost"
    shown = responses.ok(client.get(f"{VERIFY}/{answer['uid']}", headers=ann), 200)
    assert shown["typed_reason"] == "Label smudged by frost"
    row = db.session.scalar(
        db.select(BedsideVerification).where(BedsideVerification.uid == answer["uid"])
    )
    assert (row.typed_reason, row.bag_scan) == ("Label smudged by frost", _typed(bag))
    entry = db.session.scalar(
        db.select(AuditEntry).where(
            AuditEntry.record_type == "bedside_verifications",
            AuditEntry.record_key == f"bedside verification {answer['uid']}",
        )
    )
    assert (
        entry.reason
        == "bedside verification passed (bag label typed by hand: Label smudged by frost)"
    )
    assert json.loads(entry.changes)["typed_reason"] == [None, "Label smudged by frost"]


def test_a_typed_din_alone_needs_the_reason_too(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    din_and_k = f"{bag.din} {check_character(bag.din)}"
    body = {"recipient": _band(recipient), "bag": din_and_k, "second_verifier": NINA}
    refused = responses.error(client.post(VERIFY, json=body, headers=ann), 422, "validation_error")
    assert refused["message"] == TYPED_REFUSAL

    body["typed_reason"] = "Data Matrix torn off"
    answer = responses.ok(client.post(VERIFY, json=body, headers=ann), 201)
    assert answer["passed"] is True and answer["typed_reason"] == "Data Matrix torn off"


def test_a_scanned_label_keeps_no_typed_reason_even_if_one_is_sent(client, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    body = {
        "recipient": _band(recipient),
        "bag": bag.code,
        "second_verifier": NINA,
        "typed_reason": "not needed",
    }
    answer = responses.ok(client.post(VERIFY, json=body, headers=ann), 201)
    assert answer["passed"] is True and answer["typed_reason"] is None
    entry = db.session.scalar(
        db.select(AuditEntry).where(AuditEntry.record_type == "bedside_verifications")
    )
    assert entry.reason == "bedside verification passed"


def test_a_typed_label_with_a_wrong_check_character_is_a_read_to_do_again(client, clinic, ann):
    """A wrong K is a failed read, recorded and answered 201 "unreadable", not a 422 for a
    missing reason: nothing was read that could be called typed."""
    bag, recipient, _ = clinic.at_bedside()
    wrong = next(c for c in ALPHABET if c != check_character(bag.din))
    body = {
        "recipient": _band(recipient),
        "bag": f"{bag.din}{wrong} {bag.product_code}",
        "second_verifier": NINA,
    }
    answer = responses.ok(client.post(VERIFY, json=body, headers=ann), 201)
    assert answer["passed"] is False and answer["outcome"] == "unreadable"
    assert [c["check"] for c in answer["checks"] if c["rescan"]] == ["bag_label"]
    assert answer["typed_reason"] is None
