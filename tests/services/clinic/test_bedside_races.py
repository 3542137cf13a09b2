"""Two pairs of nurses at one bag at the same moment: serialised, recorded, never a crash.

Each race runs its calls in their own threads, application contexts and database sessions
(tests/races.py), as two bedside tablets would. Afterwards the records must agree with each
other and the audit trail must still verify.
"""

from __future__ import annotations

import pytest

from custody.domain.errors import Conflict
from custody.domain.scan_targets import bag_scan_data
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import Bag, BedsideVerification, CustodyEvent, Infusion, User
from custody.services.audit.verify import verify_trail
from custody.services.clinic.bedside import VerificationRequest, verify
from custody.services.clinic.infusions import start_infusion
from custody.services.core.facility import site_zone
from tests.factories import PASSWORD
from tests.races import race

ROUNDS = 3


@pytest.fixture
def nurses(make, ann):
    """Two pairs: Ann with Nina (`ann`, `nurse`), Bob with Beth."""
    for username, name in (("bob", "Bob"), ("beth", "Beth")):
        make.user("nurse", username=username, name=f"{name} Nurse")


def _request(bag, recipient, second: str) -> VerificationRequest:
    return VerificationRequest(
        recipient=wristband_data(recipient.hospital_record_number, recipient.birth_date),
        bag=bag_scan_data(bag.din, bag.product_code, bag.expires_at, site_zone()),
        second_verifier={"username": second, "password": PASSWORD},
    )


def _audit_verifies() -> None:
    report = verify_trail(db.session.connection())
    assert report.ok, report.first_break


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_verifications_of_one_bag_at_once_are_both_recorded_one_after_the_other(
    app, clinic, nurses, round_
):
    bag, recipient, _ = clinic.at_bedside()
    ann_nina, bob_beth = _request(bag, recipient, "nina"), _request(bag, recipient, "beth")
    outcomes = race(
        app,
        ("ann", lambda user: verify(user, ann_nina)),
        ("bob", lambda user: verify(user, bob_beth)),
    )
    assert not any(isinstance(o, BaseException) for o in outcomes), outcomes
    assert all(o.passed for o in outcomes)
    recorded = db.session.scalars(
        db.select(BedsideVerification).where(BedsideVerification.bag_id == bag.id)
    ).all()
    assert {r.uid for r in recorded} == {o.uid for o in outcomes}
    # Serialised: the second saw the bag as the first left it.
    events = db.session.scalars(
        db.select(CustodyEvent).where(
            CustodyEvent.bag_id == bag.id, CustodyEvent.action == "verify"
        )
    ).all()
    assert sorted(e.from_status for e in events) == ["thawed", "verified"]
    assert db.session.get(Bag, bag.id).status.value == "verified"
    _audit_verifies()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_infusions_from_one_verification_at_once_record_exactly_one(
    app, clinic, nurses, round_
):
    bag, recipient, _ = clinic.at_bedside()
    ann = db.session.scalar(db.select(User).where(User.username == "ann"))
    uid = verify(ann, _request(bag, recipient, "nina")).uid
    outcomes = race(
        app,
        ("ann", lambda user: start_infusion(user, uid)),
        ("bob", lambda user: start_infusion(user, uid)),
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], Conflict) and losers[0].http_status == 409, repr(losers[0])
    assert "already infused" in losers[0].message
    infusions = db.session.scalars(db.select(Infusion).where(Infusion.bag_id == bag.id)).all()
    assert len(infusions) == 1
    events = db.session.scalars(
        db.select(CustodyEvent).where(
            CustodyEvent.bag_id == bag.id, CustodyEvent.action == "infuse"
        )
    ).all()
    assert len(events) == 1
    assert db.session.get(Bag, bag.id).status.value == "infused"
    _audit_verifies()
