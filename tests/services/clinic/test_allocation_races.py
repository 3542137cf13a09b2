"""Two people allocating at the same moment: exactly one wins, the other is told who did.

Each race starts two threads at a barrier, each with its own application context, session
and database connection, as two QA stations would. Afterwards the bag has exactly one active
allocation and one allocate event, and the audit trail still verifies.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from custody.domain.errors import Conflict
from custody.extensions import db
from custody.models import Allocation, Bag, CustodyEvent
from custody.services.audit.verify import verify_trail
from custody.services.clinic.allocation import AllocationRequest, allocate, deallocate
from tests.races import race

ROUNDS = 3


@pytest.fixture
def people(qa, admin) -> dict[str, str]:
    """Quinn (`qa`) and Ada (`admin`), who both allocate: username -> the name shown."""
    return {user.username: user.full_name for user in (qa, admin)}


def _allocating(username: str, subject_id: str, *codes: str):
    return username, lambda user: allocate(user, AllocationRequest(subject_id, 1, list(codes)))


def _one_winner(outcomes: list) -> tuple[int, Conflict]:
    winners = [i for i, o in enumerate(outcomes) if isinstance(o, list)]
    losers = [o for o in outcomes if not isinstance(o, list)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], Conflict), repr(losers[0])
    return winners[0], losers[0]


def _active(bag: Bag) -> list[Allocation]:
    return db.session.scalars(
        select(Allocation).where(Allocation.bag_id == bag.id, Allocation.active.is_(True))
    ).all()


def _audit_verifies() -> None:
    report = verify_trail(db.session.connection())
    assert report.ok, report.first_break


def test_one_bag_to_two_recipients_at_once(app, clinic, people):
    bags = clinic.released_bags(ROUNDS)
    for bag in bags:
        first, second = clinic.recipient(), clinic.recipient()
        outcomes = race(
            app,
            _allocating("quinn", first.subject_id, bag.code),
            _allocating("ada", second.subject_id, bag.code),
        )
        slot, loser = _one_winner(outcomes)
        winner = (first, second)[slot]
        winner_name = people[("quinn", "ada")[slot]]
        assert winner.subject_id in loser.message and winner_name in loser.message
        (allocation,) = _active(bag)
        assert allocation.recipient_id == winner.id
        events = db.session.scalars(select(CustodyEvent).where(CustodyEvent.bag_id == bag.id)).all()
        assert [e.action for e in events] == ["allocate"]
        assert db.session.get(Bag, bag.id).status.value == "allocated"
    _audit_verifies()


def test_two_bags_to_one_recipient_infusion_at_once(app, clinic, people):
    for _ in range(ROUNDS):
        one, other = clinic.released_bags(2)
        recipient = clinic.recipient()
        outcomes = race(
            app,
            _allocating("quinn", recipient.subject_id, one.code),
            _allocating("ada", recipient.subject_id, other.code),
        )
        slot, loser = _one_winner(outcomes)
        won, lost = ((one, other), (other, one))[slot]
        assert "De-allocate" in loser.message and won.code in loser.message
        assert len(_active(won)) == 1 and _active(lost) == []
        assert db.session.get(Bag, lost.id).status.value == "released"
    _audit_verifies()


def test_overlapping_bag_sets_in_opposite_order_do_not_deadlock(app, clinic, people):
    """Locks are taken in a fixed order, so [A, B] against [B, A] is a conflict, not a hang."""
    for _ in range(ROUNDS):
        a, b = clinic.released_bags(2)
        first, second = clinic.recipient(dose_level="DL3"), clinic.recipient(dose_level="DL3")
        outcomes = race(
            app,
            _allocating("quinn", first.subject_id, a.code, b.code),
            _allocating("ada", second.subject_id, b.code, a.code),
        )
        slot, _ = _one_winner(outcomes)
        winner = (first, second)[slot]
        assert {x.recipient_id for x in _active(a) + _active(b)} == {winner.id}
    _audit_verifies()


def test_deallocation_and_allocation_elsewhere_at_once(app, clinic, people):
    """De-allocating a bag while someone allocates it to another recipient: the allocation
    either waits for the de-allocation and succeeds, or comes first and is refused."""
    for bag in clinic.released_bags(ROUNDS):
        holder, other = clinic.recipient(), clinic.recipient()
        clinic.allocate(bag, holder)
        outcomes = race(
            app,
            ("quinn", lambda user, code=bag.code: deallocate(user, code, "wrong recipient")),
            _allocating("ada", other.subject_id, bag.code),
        )
        assert isinstance(outcomes[0], Allocation), repr(outcomes[0])
        if isinstance(outcomes[1], list):
            (allocation,) = _active(bag)
            assert allocation.recipient_id == other.id
        else:
            assert isinstance(outcomes[1], Conflict) and holder.subject_id in outcomes[1].message
            assert _active(bag) == []
    _audit_verifies()
