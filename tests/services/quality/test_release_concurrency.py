"""Two people acting on one lot's release at the same moment: QA reviewers signing, an analyst
correcting a result while QA signs. Exactly one decision is made, and afterwards a lot is
released only while its latest signature still covers what the lot holds.

Each race starts its calls at a barrier, each in its own thread, application context and
database connection (tests/races.py); every race runs on several fresh lots.
"""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from custody.domain.errors import Conflict, DomainError, IllegalTransition
from custody.extensions import db
from custody.models import Disposition, Lot, QcResult, ReleaseDecision
from custody.services.audit.verify import verify_trail
from custody.services.quality.disposition import DispositionRequest, sign_disposition
from custody.services.quality.release_signature import latest_decision, signature_status
from custody.services.quality.results import ResultRequest, correct_result, enter_result
from tests.factories import PASSWORD
from tests.races import race

ROUNDS = 4
# Signing re-checks the password (~0.1 s) before it locks the lot, so a correction sent at
# the same instant usually wins. Sent a little later, it arrives while the release holds the
# lot and must wait for it: the rounds alternate, so both orders are raced.
CORRECTION_DELAYS = (0.0, 0.15)


@pytest.fixture
def people(make, qa, tech):
    """Quinn (`qa`) and Quill, QA reviewers; Tess (`tech`), who enters and corrects results."""
    make.user("qa", username="quill", name="Quill Reviewer")
    return tech


@pytest.fixture
def lots(quality, make_lot, people) -> list[str]:
    """Lots with every result in and in specification, entered by Tess, waiting for QA."""
    quality.specification()
    numbers = []
    for _ in range(ROUNDS):
        lot = make_lot()
        quality.results(lot.lot_number, by=people)
        numbers.append(lot.lot_number)
    return numbers


def _signing(app, lot: str, action: str = "release", **fields):

    def sign(user):
        request = DispositionRequest(action, user.username, PASSWORD, **fields)
        return sign_disposition(user, lot, request).id

    return sign


def _correcting(lot: str, value: float, after: float = 0.0):
    def correct(user):
        time.sleep(after)
        request = ResultRequest("viability", value_numeric=value)
        return correct_result(user, lot, request, "transcription error").id

    return correct


def _decisions(lot: str) -> list[ReleaseDecision]:
    lot_id = db.session.scalar(select(Lot.id).where(Lot.lot_number == lot))
    return list(db.session.scalars(select(ReleaseDecision).where(ReleaseDecision.lot_id == lot_id)))


def _lot(lot: str) -> Lot:
    db.session.expire_all()
    return db.session.scalar(select(Lot).where(Lot.lot_number == lot))


def _released_only_under_a_valid_signature(lot: str) -> None:
    """The invariant: a lot reaches patients only under a signature that still holds."""
    current = _lot(lot)
    decision = latest_decision(current)
    if current.disposition is Disposition.RELEASED:
        assert decision is not None and decision.disposition == "released"
        assert signature_status(decision) == (True, "")
    elif decision is not None and decision.disposition == "released":
        holds, why = signature_status(decision)
        assert not holds and why, "a lot out of release must not carry a valid release"


def _audit_verifies() -> None:
    report = verify_trail(db.session.connection())
    assert report.ok, report.first_break


def test_two_qa_people_releasing_one_lot_at_once_make_one_decision(app, lots):
    for lot in lots:
        outcomes = race(app, ("quinn", _signing(app, lot)), ("quill", _signing(app, lot)))
        winners = [o for o in outcomes if isinstance(o, int)]
        losers = [o for o in outcomes if not isinstance(o, int)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        (loser,) = losers
        assert isinstance(loser, Conflict | IllegalTransition), repr(loser)
        if isinstance(loser, IllegalTransition):
            assert f"Lot {lot} is released" in loser.message
            assert loser.details["current_state"] == "released"
        (decision,) = _decisions(lot)
        assert decision.id == winners[0]
        assert decision.certificate_number == f"COA-{lot}-1"
        assert _lot(lot).disposition is Disposition.RELEASED
        _released_only_under_a_valid_signature(lot)
    _audit_verifies()


def test_a_release_and_a_rejection_at_once_leave_the_lot_as_the_later_of_them_decided(app, lots):
    for lot in lots:
        outcomes = race(
            app,
            ("quinn", _signing(app, lot)),
            ("quill", _signing(app, lot, "reject", reason="Bag integrity doubtful")),
        )
        assert all(isinstance(o, int | DomainError) for o in outcomes), outcomes
        decisions = sorted(_decisions(lot), key=lambda d: d.id)
        assert decisions, outcomes
        # Each decision started from what the one before it left: none was made on stale state.
        previous = "quarantine"
        for decision in decisions:
            assert decision.previous_disposition == previous
            previous = decision.disposition
        assert _lot(lot).disposition.value == decisions[-1].disposition
        numbers = [d.certificate_number for d in decisions]
        assert numbers == [f"COA-{lot}-{n}" for n in range(1, len(decisions) + 1)]
        _released_only_under_a_valid_signature(lot)
    _audit_verifies()


@pytest.mark.parametrize(
    ("corrected_to", "in_spec"),
    [(55.0, False), (90.0, True)],
    ids=["corrected-out-of-spec", "corrected-in-spec"],
)
def test_a_correction_racing_a_release_never_leaves_a_lot_released_on_what_it_no_longer_holds(
    app, lots, corrected_to, in_spec
):
    for n, lot in enumerate(lots):
        after = CORRECTION_DELAYS[n % len(CORRECTION_DELAYS)]
        released, corrected = race(
            app, ("quinn", _signing(app, lot)), ("tess", _correcting(lot, corrected_to, after))
        )
        assert isinstance(corrected, int), repr(corrected)  # a correction is never refused
        decisions = _decisions(lot)
        state = _lot(lot).disposition
        if isinstance(released, int):
            (decision,) = decisions
            signed_ids = {row[0] for row in _signed_results(decision)}
            if corrected in signed_ids:  # the correction came first and QA signed it
                assert in_spec and state is Disposition.RELEASED
                assert signature_status(decision) == (True, "")
            else:  # the release came first; the correction then reopened the lot
                assert state is Disposition.QUARANTINE
                assert decision.invalidated_at is not None
                assert decision.invalidation_reason == (
                    "viability result corrected after QA signed the lot"
                )
        else:
            assert not in_spec, repr(released)
            assert isinstance(released, IllegalTransition), repr(released)
            assert released.details["problems"] == ["Viability (7-AAD) is out of specification"]
            assert decisions == [] and state is Disposition.QUARANTINE
        _released_only_under_a_valid_signature(lot)
        _current_result_is(lot, corrected_to)
    _audit_verifies()


def _signed_results(decision: ReleaseDecision) -> list[list]:
    return json.loads(decision.signed_content)["results"]


def _current_result_is(lot: str, value: float) -> None:
    lot_id = db.session.scalar(select(Lot.id).where(Lot.lot_number == lot))
    current = db.session.scalars(
        select(QcResult.value_numeric).where(
            QcResult.lot_id == lot_id,
            QcResult.test == "viability",
            QcResult.superseded_by_id.is_(None),
        )
    ).all()
    assert current == [value]


def _entering(lot: str, value: float):
    request = ResultRequest("endotoxin", value_numeric=value)
    return lambda user: enter_result(user, lot, request).id


def test_two_analysts_entering_one_result_at_once_keep_one(app, quality, make_lot, make):
    quality.specification()
    make.user("technician", username="tina")
    make.user("technician", username="theo")
    for _ in range(ROUNDS):
        lot = make_lot().lot_number

        outcomes = race(app, ("tina", _entering(lot, 0.5)), ("theo", _entering(lot, 0.7)))
        winners = [o for o in outcomes if isinstance(o, int)]
        losers = [o for o in outcomes if not isinstance(o, int)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert isinstance(losers[0], Conflict), repr(losers[0])
        lot_id = db.session.scalar(select(Lot.id).where(Lot.lot_number == lot))
        count = select(func.count(QcResult.id)).where(QcResult.lot_id == lot_id)
        assert db.session.scalar(count) == 1
    _audit_verifies()
