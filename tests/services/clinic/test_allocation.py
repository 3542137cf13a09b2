"""Allocating released bags to a recipient's infusion: the dose, the checks, the records.

Every refusal leaves the database as it was: no allocation, no custody event, no audit entry,
the bag in its state.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select

from custody.domain.errors import Conflict, Forbidden, IllegalTransition, NotFound, ValidationFailed
from custody.extensions import db
from custody.models import Allocation, AuditEntry, Bag, CustodyEvent, Infusion
from custody.models.base import utcnow
from custody.services.clinic.allocation import AllocationRequest, allocate, allocations_of
from custody.services.core.audit_trail import acting_as
from custody.services.quality.results import ResultRequest, correct_result


def request(recipient, *bags, number=1, reason=""):
    return AllocationRequest(recipient.subject_id, number, [b.code for b in bags], reason)


def setup(change) -> None:
    """A change made directly as test setup (not through the services under test)."""
    with acting_as("system:test", reason="test setup"):
        change()
        db.session.commit()


def lot_with_results(quality, make_lot, bags=1, **results):
    """A released lot whose results are overridden (e.g. residual_cd3=...), bags released."""
    if quality.specification_missing():
        quality.specification()
    lot = make_lot(bags=bags)
    quality.results(lot.lot_number, **results)
    quality.sign(lot.lot_number)
    setup(lambda: [setattr(b, "status", "released") for b in lot.bags])
    return lot


def record_first_infusion(clinic, make, recipient):
    """Infusion 1 given and recorded: the recipient is now `infused`."""
    (bag,) = clinic.released_bags(1)
    allocation = clinic.allocate(bag, recipient, 1)
    first, second = make.user("nurse"), make.user("nurse")

    def infuse():
        db.session.add(
            Infusion(
                allocation_id=allocation.id,
                bag_id=bag.id,
                recipient_id=recipient.id,
                infusion_number=1,
                started_at=utcnow() - timedelta(days=7),
                first_verifier_id=first.id,
                second_verifier_id=second.id,
            )
        )
        bag.status = "infused"
        recipient.status = "infused"

    setup(infuse)
    return bag


def counts() -> tuple[int, int, int]:
    return tuple(
        db.session.query(model).count() for model in (Allocation, CustodyEvent, AuditEntry)
    )


@contextmanager
def unchanged():
    """Around a refused call: no allocation, custody event or audit entry was written."""
    before = counts()
    yield
    db.session.rollback()
    assert counts() == before


@pytest.fixture
def nothing_written():
    """Use as `with nothing_written(): ...` around a refused call."""
    return unchanged


def bag_status(bag) -> str:
    db.session.expire_all()
    return db.session.get(Bag, bag.id).status.value


# --- doses ------------------------------------------------------------------------------------


def test_flat_dose_allocates_the_whole_bag_with_custody_event_and_audit(qa, clinic):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient(dose_level="DL2", weight_kg=70)
    (allocation,) = allocate(qa, request(recipient, bag, reason="infusion order 17"))
    assert allocation.active and allocation.recipient_id == recipient.id
    assert allocation.volume_to_infuse_ml == 20.0 and allocation.planned_cells == 1.2e9
    assert allocation.dose_level_id == recipient.dose_level_id
    assert allocation.weight_kg_used == 70 and allocation.allocated_by_id == qa.id
    # 1.5e9 cells × 0.2 % CD3+ = 3e6, over 70 kg.
    assert allocation.residual_cd3_per_kg == pytest.approx(3e6 / 70)
    assert bag_status(bag) == "allocated"
    (event,) = db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.bag_id == bag.id, CustodyEvent.action == "allocate")
    )
    assert (event.from_status, event.to_status, event.actor_id) == ("released", "allocated", qa.id)
    assert recipient.subject_id in event.notes and "infusion 1" in event.notes
    assert event.raw_scan == bag.code
    entries = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.actor == "quinn",
            AuditEntry.record_type.in_(["allocations", "bags", "custody_events"]),
        )
    ).all()
    assert {e.record_type for e in entries} == {"allocations", "bags", "custody_events"}
    assert all(recipient.subject_id in e.reason and "infusion order 17" in e.reason
               for e in entries)  # fmt: skip
    assert [a.id for a in allocations_of(recipient.subject_id, active_only=True)] == [allocation.id]


def test_per_kg_dose_allocates_part_of_the_bag(qa, clinic):
    """DL4: 1.5e7/kg × 60 kg = 9e8 cells = 15.0 mL of a 20 mL bag of 1.2e9."""
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient(dose_level="DL4", weight_kg=60)
    (allocation,) = allocate(qa, request(recipient, bag))
    assert allocation.volume_to_infuse_ml == 15.0
    assert allocation.planned_cells == pytest.approx(9e8)
    assert allocation.residual_cd3_per_kg == pytest.approx(3e6 * 0.75 / 60)
    assert "15 mL of 20 mL" in db.session.scalar(
        select(CustodyEvent.notes).where(CustodyEvent.bag_id == bag.id)
    )


def test_two_bags_for_one_infusion_the_last_in_part(qa, clinic):
    first, second = clinic.released_bags(2)
    recipient = clinic.recipient(dose_level="DL3")  # 1.8e9 flat
    allocations = allocate(qa, request(recipient, first, second))
    assert [(a.bag_id, a.volume_to_infuse_ml) for a in allocations] == [
        (first.id, 20.0),
        (second.id, 10.0),
    ]
    assert sum(a.planned_cells for a in allocations) == pytest.approx(1.8e9)
    assert bag_status(first) == bag_status(second) == "allocated"


def test_too_few_cells_are_refused_and_nothing_is_written(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient(dose_level="DL3")
    with nothing_written(), pytest.raises(ValidationFailed, match="cells are missing") as refused:
        allocate(qa, request(recipient, bag))
    assert refused.value.details["missing_cells"] == pytest.approx(2.4e8)
    assert bag_status(bag) == "released"


def test_a_bag_not_needed_is_refused(qa, clinic, nothing_written):
    first, second = clinic.released_bags(2)
    recipient = clinic.recipient(dose_level="DL2")
    with nothing_written(), pytest.raises(ValidationFailed, match="is not needed"):
        allocate(qa, request(recipient, first, second))


def test_residual_cd3_over_the_limit_is_refused(qa, clinic, quality, make_lot, nothing_written):
    lot = lot_with_results(quality, make_lot, residual_cd3={"value_numeric": 5.0, "unit": "%"})
    recipient = clinic.recipient(dose_level="DL2", weight_kg=70)
    with nothing_written(), pytest.raises(ValidationFailed) as refused:
        allocate(qa, request(recipient, lot.bags[0]))
    assert "1.07 × 10⁶" in refused.value.message and "2 × 10⁵" in refused.value.message
    assert refused.value.details["limit"] == 2e5


def test_residual_cd3_in_another_unit_tells_qa_what_to_enter(
    qa, clinic, quality, make_lot, nothing_written
):
    lot = lot_with_results(
        quality, make_lot, residual_cd3={"value_numeric": 3e4, "unit": "cells/kg"}
    )
    recipient = clinic.recipient()
    with nothing_written(), pytest.raises(IllegalTransition, match="unit '%'"):
        allocate(qa, request(recipient, lot.bags[0]))


# --- the bag ----------------------------------------------------------------------------------


def test_a_bag_of_an_unreleased_lot_is_refused(qa, clinic, quality, make_lot, nothing_written):
    quality.specification()
    lot = make_lot(bags=1)
    quality.results(lot.lot_number)
    recipient = clinic.recipient()
    with nothing_written(), pytest.raises(IllegalTransition, match=r"QUARANTINED.*cannot be alloc"):
        allocate(qa, request(recipient, lot.bags[0]))


def test_a_revoked_release_is_refused(qa, clinic, make, nothing_written):
    (bag,) = clinic.released_bags(1)
    correct_result(
        make.user("technician"),
        bag.lot.lot_number,
        ResultRequest("viability", value_numeric=90.0),
        "transcription error",
    )
    recipient = clinic.recipient()
    with nothing_written(), pytest.raises(IllegalTransition, match="in quarantine"):
        allocate(qa, request(recipient, bag))


def test_a_release_signature_that_no_longer_holds_is_refused(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    db.session.execute(db.text("UPDATE qc_results SET value_numeric = 99.0 WHERE test = 'potency'"))
    db.session.commit()
    recipient = clinic.recipient()
    with nothing_written(), pytest.raises(IllegalTransition, match="no longer holds"):
        allocate(qa, request(recipient, bag))


def test_an_expired_bag_is_refused(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    setup(lambda: setattr(bag, "expires_at", utcnow() - timedelta(minutes=1)))
    recipient = clinic.recipient()
    with nothing_written(), pytest.raises(IllegalTransition, match="expired"):
        allocate(qa, request(recipient, bag))


def test_a_bag_allocated_to_another_recipient_is_refused_naming_them(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    other = clinic.recipient()
    clinic.allocate(bag, other)
    recipient = clinic.recipient()
    with nothing_written(), pytest.raises(Conflict, match=other.subject_id) as refused:
        allocate(qa, request(recipient, bag))
    assert refused.value.details["allocated_to"] == other.subject_id


def test_a_bag_received_at_the_site_is_allocated_and_stays_received(qa, clinic):
    (bag,) = clinic.released_bags(1)
    clinic.receive(bag)
    allocate(qa, request(clinic.recipient(), bag))
    assert bag_status(bag) == "received"


def test_the_same_bag_twice_is_refused(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    scans = AllocationRequest(clinic.recipient().subject_id, 1, [bag.code, bag.code])
    with nothing_written(), pytest.raises(ValidationFailed, match="scanned twice"):
        allocate(qa, scans)


def test_a_bag_made_for_another_dose_level_is_refused(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    setup(lambda: setattr(bag, "dose_level_id", clinic.dose_level("DL3").id))
    recipient = clinic.recipient(dose_level="DL2")
    with nothing_written(), pytest.raises(ValidationFailed, match="made for dose level DL3"):
        allocate(qa, request(recipient, bag))


# --- the recipient and the caller --------------------------------------------------------------


@pytest.mark.parametrize("role", ["technician", "nurse"])
def test_only_qa_and_admin_allocate(role, make, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    user, recipient = make.user(role), clinic.recipient()
    with nothing_written(), pytest.raises(Forbidden):
        allocate(user, request(recipient, bag))


def test_an_administrator_may_allocate(make, clinic):
    (bag,) = clinic.released_bags(1)
    assert allocate(make.user("admin"), request(clinic.recipient(), bag))


def test_an_unknown_recipient_is_not_found(qa, clinic):
    (bag,) = clinic.released_bags(1)
    with pytest.raises(NotFound, match="CAR33-NOPE"):
        allocate(qa, AllocationRequest("CAR33-NOPE", 1, [bag.code]))


def test_a_closed_dose_level_is_refused(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient(dose_level="DL1")
    with (
        nothing_written(),
        pytest.raises(IllegalTransition, match=r"DL1, closed.*another dose level"),
    ):
        allocate(qa, request(recipient, bag))


@pytest.mark.parametrize("status", ["screening", "infused", "withdrawn"])
def test_the_first_infusion_needs_an_enrolled_recipient(status, qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient(status=status)
    with (
        nothing_written(),
        pytest.raises(IllegalTransition, match="who is enrolled or in lymphodepletion"),
    ):
        allocate(qa, request(recipient, bag))


def test_a_recipient_with_bags_for_this_infusion_must_deallocate_first(qa, clinic, nothing_written):
    held, bag = clinic.released_bags(2)
    recipient = clinic.recipient()
    clinic.allocate(held, recipient)
    with nothing_written(), pytest.raises(Conflict, match="De-allocate them first"):
        allocate(qa, request(recipient, bag))


def test_a_second_infusion_without_the_order_is_refused(qa, clinic, make, nothing_written):
    recipient = clinic.recipient()
    record_first_infusion(clinic, make, recipient)
    (bag,) = clinic.released_bags(1)
    with nothing_written(), pytest.raises(IllegalTransition, match="No second infusion is ordered"):
        allocate(qa, request(recipient, bag, number=2))


def test_a_second_infusion_before_the_first_is_refused(qa, clinic, nothing_written):
    recipient = clinic.recipient(second_infusion_ordered=True)
    (bag,) = clinic.released_bags(1)
    with nothing_written(), pytest.raises(IllegalTransition, match="no first infusion recorded"):
        allocate(qa, request(recipient, bag, number=2))


def test_an_ordered_second_infusion_after_the_first(qa, clinic, make):
    recipient = clinic.recipient(second_infusion_ordered=True)
    record_first_infusion(clinic, make, recipient)
    (bag,) = clinic.released_bags(1)
    (allocation,) = allocate(qa, request(recipient, bag, number=2))
    assert allocation.infusion_number == 2
    assert "infusion 2" in db.session.scalar(
        select(CustodyEvent.notes).where(CustodyEvent.bag_id == bag.id)
    )
