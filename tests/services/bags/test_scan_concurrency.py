"""Two people scanning at the same moment: exactly one wins, the other is told what happened.

Each race starts two threads at a barrier; each thread has its own application context, its
own session and so its own database connection, as two scan stations would. Every race runs
several times with fresh bags. Afterwards the database must hold exactly one custody event
for the moment, a bag row that agrees with it, and an audit trail that still verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from custody.domain.errors import Conflict, DomainError, IllegalTransition
from custody.extensions import db
from custody.models import Bag, CustodyEvent, ShipmentItem
from custody.services.audit.verify import verify_trail
from custody.services.bags.scans import ScanRequest, scan
from tests.races import race

ROUNDS = 5


@dataclass(frozen=True)
class Outcome:
    username: str
    action: str
    event_id: int | None = None
    error: BaseException | None = None


def _race(app, *scans: tuple[str, ScanRequest]) -> list[Outcome]:
    """Run the scans at once, each in its own thread, context and session."""

    def scanning(username: str, request: ScanRequest):
        return username, lambda user: Outcome(username, request.action, scan(user, request).id)

    results = race(app, *(scanning(username, request) for username, request in scans))
    return [
        result if isinstance(result, Outcome) else Outcome(username, request.action, error=result)
        for result, (username, request) in zip(results, scans, strict=True)
    ]


def _one_winner(outcomes: list[Outcome], *allowed: type[BaseException]) -> tuple[Outcome, Outcome]:
    winners = [o for o in outcomes if o.error is None]
    losers = [o for o in outcomes if o.error is not None]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0].error, allowed), repr(losers[0].error)
    return winners[0], losers[0]


def _events(*bags: Bag) -> list[CustodyEvent]:
    return db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.bag_id.in_([b.id for b in bags]))
    ).all()


def _audit_verifies() -> None:
    report = verify_trail(db.session.connection())
    assert report.ok, report.first_break


@pytest.fixture
def people(make):
    """Two technicians at two scan stations."""
    make.user("technician", username="tina", name="Tina Novak")
    make.user("technician", username="theo", name="Theo Brandt")
    return {"tina": "Tina Novak", "theo": "Theo Brandt"}


def _names_the_winner(loser: Outcome, winner: Outcome, people: dict[str, str]) -> None:
    """The loser's message says what happened: the winning action and who did it."""
    message = loser.error.message
    assert people[winner.username] in message, message
    assert winner.action in message, message


def test_pack_and_store_of_one_bag_at_once(app, make_lot, people):
    lot = make_lot(disposition="released", status="released", bags=ROUNDS)
    positions = make_lot.positions(ROUNDS)
    shipment = make_lot.shipment()
    for bag, position in zip(lot.bags, positions, strict=True):
        seen = bag.version  # what both scan screens showed
        outcomes = _race(
            app,
            ("tina", ScanRequest("pack", bag.code, shipment=shipment.code, expected_version=seen)),
            ("theo", ScanRequest("store", bag.code, location=position.code, expected_version=seen)),
        )
        winner, loser = _one_winner(outcomes, Conflict)
        assert "changed after you scanned it" in loser.error.message
        _names_the_winner(loser, winner, people)
        bag = db.session.get(Bag, bag.id)
        (event,) = _events(bag)
        assert event.id == winner.event_id and event.action == winner.action
        packed = db.session.scalar(select(ShipmentItem).where(ShipmentItem.bag_id == bag.id))
        if winner.action == "pack":
            assert bag.status.value == "shipped" and bag.storage_position_id is None
            assert packed is not None and packed.shipment_id == shipment.id
        else:
            assert bag.status.value == "released" and bag.storage_position_id == position.id
            assert packed is None
        assert bag.version == seen + 1
    _audit_verifies()


def test_discard_and_store_of_one_bag_at_once(app, make_lot, people):
    lot = make_lot(bags=ROUNDS)
    positions = make_lot.positions(ROUNDS)
    for bag, position in zip(lot.bags, positions, strict=True):
        seen = bag.version
        outcomes = _race(
            app,
            ("tina", ScanRequest("discard", bag.code, reason="bag leaked", expected_version=seen)),
            ("theo", ScanRequest("store", bag.code, location=position.code, expected_version=seen)),
        )
        winner, loser = _one_winner(outcomes, Conflict)
        _names_the_winner(loser, winner, people)
        bag = db.session.get(Bag, bag.id)
        (event,) = _events(bag)
        assert event.action == winner.action
        if winner.action == "discard":
            assert bag.status.value == "discarded" and bag.storage_position_id is None
        else:
            assert bag.status.value == "stored" and bag.storage_position_id == position.id
    _audit_verifies()


def test_one_bag_stored_into_two_positions_at_once(app, make_lot, people):
    """No version sent: the life cycle alone refuses the second store (already in storage)."""
    lot = make_lot(bags=ROUNDS)
    positions = make_lot.positions(2 * ROUNDS)
    for bag, first, second in zip(lot.bags, positions[::2], positions[1::2], strict=True):
        outcomes = _race(
            app,
            ("tina", ScanRequest("store", bag.code, location=first.code)),
            ("theo", ScanRequest("store", bag.code, location=second.code)),
        )
        winner, loser = _one_winner(outcomes, IllegalTransition)
        assert "STORED: it cannot be stored" in loser.error.message
        assert f"Last scan: store by {people[winner.username]}" in loser.error.message
        bag = db.session.get(Bag, bag.id)
        (event,) = _events(bag)
        assert bag.status.value == "stored"
        assert bag.storage_position_id == event.location_id
        assert event.location_id in (first.id, second.id)
        held = db.session.scalar(
            select(func.count())
            .select_from(Bag)
            .where(Bag.storage_position_id.in_([first.id, second.id]))
        )
        assert held == 1
    _audit_verifies()


def test_two_bags_stored_into_one_position_at_once(app, make_lot, people):
    lot = make_lot(bags=2 * ROUNDS)
    positions = make_lot.positions(ROUNDS)
    for one, other, position in zip(lot.bags[::2], lot.bags[1::2], positions, strict=True):
        versions = {one.id: one.version, other.id: other.version}
        outcomes = _race(
            app,
            ("tina", ScanRequest("store", one.code, location=position.code)),
            ("theo", ScanRequest("store", other.code, location=position.code)),
        )
        winner, loser = _one_winner(outcomes, Conflict)
        # The position is locked, so the loser waits and is told who holds it.
        assert f"Position {position.code} already holds bag" in loser.error.message
        (event,) = _events(one, other)
        assert event.id == winner.event_id
        holder = db.session.scalar(select(Bag).where(Bag.storage_position_id == position.id))
        assert holder.id == event.bag_id and holder.status.value == "stored"
        left_out = db.session.get(Bag, other.id if holder.id == one.id else one.id)
        assert left_out.status.value == "quarantined" and left_out.storage_position_id is None
        assert left_out.version == versions[left_out.id]  # the loser's bag is untouched
        if isinstance(loser.error, DomainError):
            assert holder.code in loser.error.message
    _audit_verifies()
