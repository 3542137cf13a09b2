"""Recall and quarantine: one signed QA action blocks every affected bag not yet infused, lists
the recipients already infused, and is audited; bad requests change nothing."""

from __future__ import annotations

import json

import pytest

from custody.domain import bag_lifecycle
from custody.domain.errors import (
    Conflict,
    IllegalTransition,
    InvalidBarcode,
    NotFound,
    SignatureRefused,
    ValidationFailed,
)
from custody.domain.isbt128 import check_character
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import (
    AuditEntry,
    Bag,
    BatchMaterial,
    BatchStep,
    Donation,
    QualityAlert,
    Recall,
    Signature,
    User,
)
from custody.models.base import utcnow
from custody.services.bags.lookup import situation
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import start_infusion
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from custody.services.traceability.recalls import SignedRequest, lift_recall, preview, raise_recall
from tests.factories import PASSWORD
from tests.races import race


def _signed(reason="Donor HIV NAT positive on look-back", user="quinn", password=PASSWORD):
    return SignedRequest(reason, user, password)


def _recall(qa, scope, value, **kw):
    return raise_recall(qa, scope, value, _signed(**kw))


def _verify(nurse, bag, recipient):
    return verify(
        nurse,
        VerificationRequest(
            recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
            bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
            second_verifier={"username": "nina", "password": PASSWORD},
        ),
    )


def _fresh(bag) -> Bag:
    db.session.expire_all()
    return db.session.get(Bag, bag.id)


def _infused_and_waiting(clinic, ann):
    """A released lot of four bags: one infused into A, one allocated to B, two on the shelf."""
    lot_bags = clinic.released_bags(4)
    a, b = clinic.recipient(), clinic.recipient()
    infused, allocated = lot_bags[0], lot_bags[1]
    allocation = clinic.allocate(infused, a)
    clinic.receive(infused, a.site)
    clinic.thaw(infused, allocation)
    start_infusion(ann, _verify(ann, infused, a).uid)
    clinic.allocate(allocated, b)
    return lot_bags, a, b


def test_a_lot_recall_blocks_every_bag_not_infused_and_lists_who_was_infused(clinic, ann, qa):
    bags, a, b = _infused_and_waiting(clinic, ann)
    lot_number = _fresh(bags[0]).lot.lot_number

    recall = _recall(qa, "lot", lot_number.lower())

    assert recall["active"] is True and recall["lots"] == [lot_number]
    assert recall["blocked_count"] == 3
    assert recall["infused_recipients"] == [{"subject_id": a.subject_id, "bags": [bags[0].code]}]
    assert recall["allocated_recipients"] == [{"subject_id": b.subject_id, "bags": [bags[1].code]}]
    by_code = {entry["bag"]: entry for entry in recall["bags"]}
    assert by_code[bags[0].code]["blocked"] is False and by_code[bags[0].code]["infused"]
    assert all(by_code[bag.code]["blocked"] for bag in bags[1:])
    for bag in bags[1:]:
        assert situation(_fresh(bag)).recall == recall["code"]


def test_a_recalled_bag_cannot_be_allocated_packed_or_thawed(clinic, ann, qa):
    bags, _, _ = _infused_and_waiting(clinic, ann)
    code = _recall(qa, "lot", _fresh(bags[0]).lot.lot_number)["code"]

    shelf = situation(_fresh(bags[2]))
    for action in ("allocate", "pack"):
        with pytest.raises(IllegalTransition) as refused:
            bag_lifecycle.plan(action, shelf)
        assert f"under recall {code}" in refused.value.message
    assert "allocate" not in bag_lifecycle.allowed_actions(shelf)
    # What the lab must still do with it stays possible: keep it apart, or destroy it.
    assert {"reject", "discard"} <= set(bag_lifecycle.allowed_actions(shelf))


def test_the_bedside_stops_a_recalled_bag_and_says_why(clinic, ann, qa):
    bag, recipient, _ = clinic.at_bedside()
    code = _recall(qa, "lot", _fresh(bag).lot.lot_number)["code"]

    result = _verify(ann, bag, recipient)

    assert result.passed is False and result.outcome == "stopped"
    check = next(c for c in result.checks if c["check"] == "not_recalled")
    assert check["passed"] is False and code in check["message"]
    assert _fresh(bag).status.value == "thawed"


def test_a_recall_after_the_verification_still_stops_the_infusion(clinic, ann, qa):
    bag, recipient, _ = clinic.at_bedside()
    verification = _verify(ann, bag, recipient)
    assert verification.passed
    code = _recall(qa, "lot", _fresh(bag).lot.lot_number)["code"]

    with pytest.raises(IllegalTransition) as refused:
        start_infusion(ann, verification.uid)

    assert code in refused.value.message
    assert _fresh(bag).status.value == "verified"


def test_a_recall_raises_a_follow_up_alert_is_signed_and_audited(clinic, ann, qa):
    bags, a, _ = _infused_and_waiting(clinic, ann)
    recall = _recall(qa, "lot", _fresh(bags[0]).lot.lot_number)

    row = db.session.scalar(db.select(Recall).where(Recall.code == recall["code"]))
    signature = db.session.get(Signature, row.signature_id)
    assert (signature.meaning, signature.record_type, signature.record_id) == (
        "recall",
        "recall",
        row.id,
    )
    assert signature.printed_name == "Quinn Assurance"
    assert recall["signature"]["printed_name"] == "Quinn Assurance"
    audit = db.session.scalars(
        db.select(AuditEntry).where(
            AuditEntry.record_type == "recalls", AuditEntry.record_id == str(row.id)
        )
    ).all()
    assert [(e.actor, e.action) for e in audit] == [("quinn", "create"), ("quinn", "update")]
    assert {e.reason for e in audit} == {"recall: Donor HIV NAT positive on look-back"}
    assert json.loads(audit[1].changes)["signature_id"] == [None, signature.id]
    alert = db.session.scalar(db.select(QualityAlert).where(QualityAlert.lot_id == row.lots[0].id))
    assert recall["code"] in alert.message
    assert {x["recipient"] for x in alert.affected if x["infused"]} == {a.subject_id}


def test_a_donor_recall_reaches_every_lot_made_from_the_donor(make_lot, qa):
    first, second = make_lot(bags=2), make_lot(bags=1)
    donor = first.donations[0].donor
    with acting_as("system:test", reason="test setup"):
        db.session.get(Donation, second.donations[0].id).donor_id = donor.id
        db.session.commit()

    recall = _recall(qa, "donor", donor.donor_code)

    assert recall["lots"] == sorted([first.lot_number, second.lot_number])
    assert recall["blocked_count"] == 3


def test_a_din_recall_takes_the_din_with_its_check_character(make_lot, qa):
    lot = make_lot(bags=2)
    typed = lot.din + check_character(lot.din)

    assert _recall(qa, "din", typed)["lots"] == [lot.lot_number]


def test_a_reagent_lot_recall_reaches_every_lot_it_went_into(make_lot, make, qa):
    used, also_used, untouched = make_lot(bags=1), make_lot(bags=2), make_lot(bags=1)
    operator = make.user("technician")
    with acting_as("system:test", reason="test setup"):
        for lot in (used, also_used, untouched):
            step = BatchStep(
                lot_id=lot.id,
                sequence=1,
                step="Transduction",
                operator_id=operator.id,
                started_at=utcnow(),
            )
            vector = "VEC-2026-07" if lot is not untouched else "VEC-2026-08"
            step.materials.append(BatchMaterial(kind="vector", name="CD33 CAR", lot_number=vector))
            db.session.add(step)
        db.session.commit()

    recall = _recall(qa, "reagent_lot", "VEC-2026-07")

    assert recall["lots"] == sorted([used.lot_number, also_used.lot_number])
    assert situation(untouched.bags[0]).recall == ""


def test_a_preview_shows_the_reach_and_writes_nothing(clinic, ann):
    bags, a, _ = _infused_and_waiting(clinic, ann)

    seen = preview("lot", _fresh(bags[0]).lot.lot_number)

    assert seen["blocked_count"] == 3
    assert [r["subject_id"] for r in seen["infused_recipients"]] == [a.subject_id]
    assert db.session.scalar(db.select(db.func.count(Recall.id))) == 0


def test_a_bag_added_to_a_recalled_lot_later_is_blocked_too(make_lot, qa):
    lot = make_lot(bags=1)
    code = _recall(qa, "lot", lot.lot_number)["code"]
    with acting_as("system:test", reason="test setup"):
        late = Bag(
            code=f"{lot.din}-D0001VB0",
            din=lot.din,
            product_code="D0001VB0",
            lot_id=lot.id,
            volume_ml=10.0,
            total_cells=1e9,
            viable_car_nk_cells=8e8,
            status="quarantined",
        )
        db.session.add(late)
        db.session.commit()

    assert situation(late).recall == code


def test_a_recalled_lot_cannot_be_released(make_lot, quality, qa):
    if quality.specification_missing():
        quality.specification()
    lot = make_lot()
    quality.results(lot.lot_number)
    _recall(qa, "lot", lot.lot_number)

    with pytest.raises(IllegalTransition) as refused:
        quality.sign(lot.lot_number, "release")

    assert "under recall" in refused.value.message


def _recall_count() -> int:
    return db.session.scalar(db.select(db.func.count(Recall.id)))


@pytest.mark.parametrize(
    ("scope", "value", "error", "words"),
    [
        ("lot", "LT-NOSUCH", NotFound, "No lot LT-NOSUCH"),
        ("batch", "x", ValidationFailed, "not something to trace from"),
        ("lot", "  ", ValidationFailed, "Give the lot"),
        ("din", "=W9999", InvalidBarcode, "incomplete"),
    ],
)
def test_an_unknown_or_malformed_starting_point_is_refused(qa, scope, value, error, words):
    with pytest.raises(error) as refused:
        _recall(qa, scope, value)
    assert words in refused.value.message
    assert _recall_count() == 0


def test_a_donor_without_lots_has_nothing_to_recall(make, qa):
    from custody.models import Donor

    with acting_as("system:test", reason="test setup"):
        db.session.add(Donor(donor_code="DNR-EMPTY", sex="M", birth_date=utcnow().date()))
        db.session.commit()

    with pytest.raises(ValidationFailed) as refused:
        _recall(qa, "donor", "dnr-empty")

    assert "nothing to recall" in refused.value.message and _recall_count() == 0


def test_only_qa_signs_a_recall_with_their_own_password(make_lot, qa, tech):
    lot = make_lot()

    with pytest.raises(SignatureRefused):
        _recall(tech, "lot", lot.lot_number, user="tess")
    with pytest.raises(SignatureRefused) as wrong:
        _recall(qa, "lot", lot.lot_number, password="not-the-password")
    with pytest.raises(ValidationFailed):
        _recall(qa, "lot", lot.lot_number, reason="   ")

    assert "password is not correct" in wrong.value.message
    assert db.session.get(User, qa.id).failed_logins == 1
    assert _recall_count() == 0 and situation(lot.bags[0]).recall == ""


def test_lifting_a_recall_is_signed_and_lets_the_bags_go_on(clinic, qa):
    bags = clinic.released_bags(1)
    code = _recall(qa, "lot", _fresh(bags[0]).lot.lot_number)["code"]

    lifted = lift_recall(qa, code, _signed("NAT repeat negative; first result a lab error"))

    assert lifted["active"] is False and lifted["lifted_by"] == "Quinn Assurance"
    assert lifted["lift_signature"]["meaning"] == "recall lifted"
    assert situation(_fresh(bags[0])).recall == ""
    bag_lifecycle.plan("allocate", situation(_fresh(bags[0])))
    with pytest.raises(Conflict):
        lift_recall(qa, code, _signed("again"))


def test_a_recall_racing_an_allocation_scan_leaves_no_allocated_bag_unlisted(app, clinic, qa, make):
    """Whichever commits first, the recall's list is true: either the bag was allocated before
    the recall (then it is listed with its recipient) or the allocation is refused."""
    from custody.services.clinic.allocation import AllocationRequest, allocate

    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient()
    lot_number = _fresh(bag).lot.lot_number
    make.user("qa", username="alex")
    # Plain values: the racing threads must not load attributes through this test's session.
    subject_id, bag_code = recipient.subject_id, bag.code
    outcomes = race(
        app,
        ("quinn", lambda user: _recall(user, "lot", lot_number)),
        (
            "alex",
            lambda user: allocate(user, AllocationRequest(subject_id, 1, [bag_code])),
        ),
    )
    recall, allocation = outcomes
    assert not isinstance(recall, Exception), recall
    entry = next(e for e in recall["bags"] if e["bag"] == bag_code)
    if isinstance(allocation, Exception):
        assert isinstance(allocation, IllegalTransition | Conflict)
        assert entry["recipient"] is None
    else:
        assert entry["recipient"] == subject_id
