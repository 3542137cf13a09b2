"""The infusion record: only after a passed, newest, unused and recent verification; day 0."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from custody.domain.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    NotFound,
    ValidationFailed,
)
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Bag, BedsideVerification, CustodyEvent, Infusion, Recipient
from custody.models.base import utcnow
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import complete_infusion, list_infusions, start_infusion
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from tests.conftest import change_settings
from tests.factories import PASSWORD


def _verified(user, bag, recipient, **kw):
    request = VerificationRequest(
        recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
        bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        second_verifier={"username": "nina", "password": PASSWORD},
        **kw,
    )
    return verify(user, request)


def _reload(model, row):
    db.session.expire_all()
    return db.session.get(model, row.id)


def _backdate(verification_uid: str, minutes: float) -> None:
    with acting_as("system:test", reason="test setup"):
        row = db.session.scalar(
            db.select(BedsideVerification).where(BedsideVerification.uid == verification_uid)
        )
        row.attempted_at -= timedelta(minutes=minutes)
        db.session.commit()


def test_infusion_one_infuses_the_bag_and_sets_day0_in_the_sites_zone(app, clinic, ann):
    bag, recipient, allocation = clinic.at_bedside()
    uid = _verified(ann, bag, recipient).uid
    started = utcnow()
    # A zone whose date differs from UTC's at this hour shows day 0 is the ward's date.
    zone = "Pacific/Kiritimati" if started.hour >= 10 else "Pacific/Pago_Pago"
    change_settings(app, CUSTODY_TIMEZONE=zone)
    infusion = start_infusion(ann, uid, started_at=started, volume_ml=None, reactions="")
    local_day = started.astimezone(ZoneInfo(zone)).date()
    assert local_day != started.date()
    assert infusion["day0"] == local_day and infusion["infusion_number"] == 1
    assert (infusion["first_verifier"], infusion["second_verifier"]) == ("Ann First", "Nina Second")
    assert infusion["verification"] == uid and infusion["recorded_by"] == "Ann First"
    recipient = _reload(Recipient, recipient)
    assert recipient.status.value == "infused" and recipient.day0 == local_day
    assert _reload(Bag, bag).status.value == "infused"
    row = db.session.scalar(db.select(Infusion).where(Infusion.bag_id == bag.id))
    assert row.allocation_id == allocation.id and row.started_at == started
    (event,) = db.session.scalars(
        db.select(CustodyEvent).where(
            CustodyEvent.bag_id == bag.id, CustodyEvent.action == "infuse"
        )
    ).all()
    assert (event.from_status, event.to_status, event.to_party) == (
        "verified",
        "infused",
        recipient.subject_id,
    )


def test_completion_records_end_volume_and_reactions(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    started = start_infusion(ann, _verified(ann, bag, recipient).uid)
    ended_at = started["started_at"] + timedelta(seconds=1)
    with pytest.raises(ValidationFailed, match="after its start"):
        complete_infusion(ann, bag.code, started["started_at"], 20.0)
    with pytest.raises(ValidationFailed, match="at most the 20 mL"):
        complete_infusion(ann, bag.code, ended_at, 20.6)
    with pytest.raises(ValidationFailed, match="more than 0 mL"):
        complete_infusion(ann, bag.code, ended_at, 0.0)
    done = complete_infusion(ann, bag.code, ended_at, 20.4, "mild chills at 10 min")
    assert (done["ended_at"], done["volume_ml"], done["reactions"]) == (
        ended_at,
        20.4,
        "mild chills at 10 min",
    )
    with pytest.raises(Conflict, match="already recorded"):
        complete_infusion(ann, bag.code, ended_at, 20.0)
    assert list_infusions(recipient.subject_id) == [done]


def test_a_second_infusion_a_week_later_follows_the_same_path(clinic, ann):
    recipient = clinic.recipient()
    first_bag, _, _ = clinic.at_bedside(recipient)
    start_infusion(ann, _verified(ann, first_bag, recipient).uid)
    day0 = _reload(Recipient, recipient).day0
    second_bag, _, _ = clinic.at_bedside(recipient, infusion_number=2)
    not_ordered = _verified(ann, second_bag, recipient)
    assert not_ordered.outcome == "stopped"
    assert "infusion 2 has not been ordered" in not_ordered.stop_reason
    with acting_as("system:test", reason="investigator orders infusion 2"):
        _reload(Recipient, recipient).second_infusion_ordered = True
        db.session.commit()
    second = start_infusion(ann, _verified(ann, second_bag, recipient).uid)
    assert second["infusion_number"] == 2 and second["day0"] == day0
    recipient = _reload(Recipient, recipient)
    assert recipient.status.value == "infused" and recipient.day0 == day0
    assert [i["infusion_number"] for i in list_infusions(recipient.subject_id)] == [1, 2]


def test_a_stopped_or_incomplete_verification_is_no_ground_for_an_infusion(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    incomplete = verify(
        ann,
        VerificationRequest(
            recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
            bag=bag.code,
        ),
    )
    with pytest.raises(IllegalTransition, match="did not pass"):
        start_infusion(ann, incomplete.uid)
    with pytest.raises(NotFound):
        start_infusion(ann, "no-such-verification")
    assert _reload(Bag, bag).status.value == "thawed"


def test_only_the_newest_passed_verification_leads_to_the_infusion(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    older = _verified(ann, bag, recipient).uid
    newer = _verified(ann, bag, recipient).uid
    with pytest.raises(Conflict, match="newer bedside verification"):
        start_infusion(ann, older)
    assert start_infusion(ann, newer)["verification"] == newer


def test_a_verification_is_used_once(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verified(ann, bag, recipient).uid
    start_infusion(ann, uid)
    with pytest.raises(Conflict, match="already infused"):
        start_infusion(ann, uid)
    assert db.session.scalar(db.select(db.func.count(Infusion.id))) == 1


def test_a_verification_holds_for_the_sites_setting(app, clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verified(ann, bag, recipient).uid
    _backdate(uid, 31)
    with pytest.raises(IllegalTransition, match="holds for 30 minutes"):
        start_infusion(ann, uid)
    change_settings(app, CUSTODY_VERIFICATION_VALID_MINUTES=45)
    assert start_infusion(ann, uid)["verification"] == uid


def test_the_post_thaw_window_must_be_open_when_the_infusion_starts(clinic, ann):
    bag, recipient, allocation = clinic.at_bedside(thawed=False)
    thaw = clinic.thaw(bag, allocation, minutes_ago=50)
    uid = _verified(ann, bag, recipient).uid
    with acting_as("system:test", reason="test setup: the window closed since"):
        thaw.use_by = utcnow() - timedelta(seconds=1)
        db.session.commit()
    with pytest.raises(IllegalTransition, match="post-thaw window"):
        start_infusion(ann, uid)
    assert _reload(Bag, bag).status.value == "verified"


def test_the_start_cannot_precede_the_verification(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verified(ann, bag, recipient).uid
    with pytest.raises(ValidationFailed, match="after its bedside verification"):
        start_infusion(ann, uid, started_at=utcnow() - timedelta(minutes=5))
    with pytest.raises(ValidationFailed, match="not in the future"):
        start_infusion(ann, uid, started_at=utcnow() + timedelta(hours=1))


def test_the_volume_at_start_is_checked_against_the_allocation(clinic, ann):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verified(ann, bag, recipient).uid
    with pytest.raises(ValidationFailed, match="20 mL"):
        start_infusion(ann, uid, volume_ml=25.0)


@pytest.mark.parametrize("role", ["admin", "technician", "qa"])
def test_only_a_nurse_records_an_infusion(clinic, ann, make, role):
    bag, recipient, _ = clinic.at_bedside()
    uid = _verified(ann, bag, recipient).uid
    with pytest.raises(Forbidden):
        start_infusion(make.user(role), uid)
    with pytest.raises(Forbidden):
        complete_infusion(make.user(role), bag.code, utcnow(), 10.0)


def test_the_infusions_of_an_unknown_recipient_are_not_found(app):
    with pytest.raises(NotFound):
        list_infusions("CAR33-NOBODY")
