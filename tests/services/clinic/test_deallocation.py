"""De-allocating a bag: the allocation ends with a reason, its tie-tag is voided, and the bag
may go to someone else; a refusal leaves the database as it was."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from custody.domain.errors import Forbidden, IllegalTransition, ValidationFailed
from custody.extensions import db
from custody.models import AuditEntry, CustodyEvent, LabelPrint
from custody.services.clinic.allocation import allocate, allocations_of, deallocate
from custody.services.labelling.jobs import tie_tag
from tests.services.clinic.test_allocation import (
    bag_status,
    record_first_infusion,
    request,
    unchanged,
)


@pytest.fixture
def nothing_written():
    """Use as `with nothing_written(): ...` around a refused call."""
    return unchanged


def test_deallocation_ends_the_allocation_and_voids_the_tie_tag(qa, clinic, approved_labels):
    (bag,) = clinic.released_bags(1)
    recipient = clinic.recipient()
    (allocation,) = allocate(qa, request(recipient, bag))
    label = tie_tag(qa, bag.code)
    ended = deallocate(qa, bag.code, "  infusion postponed: fever  ")
    db.session.expire_all()
    assert (ended.id, ended.active, ended.ended_by_id) == (allocation.id, False, qa.id)
    assert ended.end_reason == "infusion postponed: fever" and ended.ended_at is not None
    assert bag_status(bag) == "released"
    label = db.session.get(LabelPrint, label.id)
    assert label.status.value == "voided" and "infusion postponed" in label.void_reason
    event = db.session.scalar(
        select(CustodyEvent).where(
            CustodyEvent.action == "deallocate", CustodyEvent.bag_id == bag.id
        )
    )
    assert (event.from_status, event.to_status) == ("allocated", "released")
    assert recipient.subject_id in event.notes and "fever" in event.notes
    reasons = db.session.scalars(
        select(AuditEntry.reason).where(
            AuditEntry.record_type == "allocations", AuditEntry.record_id == str(allocation.id)
        )
    ).all()
    assert len(reasons) == 2 and "de-allocation: infusion postponed: fever" in reasons
    assert allocations_of(recipient.subject_id, active_only=True) == []
    assert [a.id for a in allocations_of(recipient.subject_id)] == [allocation.id]
    # The bag may go to someone else now.
    assert allocate(qa, request(clinic.recipient(), bag))


@pytest.mark.parametrize("reason", ["", "   ", "oops", "x" * 501])
def test_deallocation_needs_a_reason(reason, qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, clinic.recipient())
    with nothing_written(), pytest.raises(ValidationFailed, match="Say why"):
        deallocate(qa, bag.code, reason)
    assert bag_status(bag) == "allocated"


def test_an_infused_bag_cannot_be_deallocated(qa, clinic, make, nothing_written):
    bag = record_first_infusion(clinic, make, clinic.recipient())
    with nothing_written(), pytest.raises(IllegalTransition, match="final"):
        deallocate(qa, bag.code, "wrong recipient")


def test_a_bag_not_allocated_cannot_be_deallocated(qa, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    clinic.receive(bag)
    with nothing_written(), pytest.raises(IllegalTransition, match="not allocated to anyone"):
        deallocate(qa, bag.code, "wrong recipient")


def test_only_qa_and_admin_deallocate(make, clinic, nothing_written):
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, clinic.recipient())
    nurse = make.user("nurse")
    with nothing_written(), pytest.raises(Forbidden):
        deallocate(nurse, bag.code, "wrong recipient")
