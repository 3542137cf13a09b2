"""The demo's infusion under way: one per scale unit, a recipient's second infusion started 20
minutes before the demo's now and not yet ended, its bag infused, its recipient not sent to
transplant; the bedside finds it again from the recipient's wristband.

The demo is loaded once for the module into its own database (scale 1); the per-unit count is
checked by loading two units into the test's own fresh database.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from custody.domain import schedule
from custody.domain.wristband import wristband_data
from custody.extensions import db
from custody.models import (
    BagStatus,
    BedsideVerification,
    CustodyEvent,
    FollowUpSample,
    Infusion,
    Recipient,
    RecipientStatus,
)
from custody.services.bags.recall_status import active_recall_codes
from custody.services.clinic.infusion_in_progress import at_bedside, in_progress
from custody.services.demo import load_demo
from custody.services.demo.scenario import DEMO_NOW
from custody.services.quality.release_signature import release_holds
from tests.services.demo.demo_database import loaded_demo

STARTED = DEMO_NOW - timedelta(minutes=20)


@pytest.fixture(scope="module")
def demo(migrated_database, tmp_path_factory):
    """A database holding load_demo(scale=1, seed=1)."""
    with loaded_demo(migrated_database, tmp_path_factory, "demoinprogress", ()) as digest:
        yield digest


def _running() -> list[Infusion]:
    return list(
        db.session.scalars(
            select(Infusion).where(Infusion.ended_at.is_(None)).order_by(Infusion.id)
        )
    )


def test_exactly_one_infusion_is_under_way_started_20_minutes_before_now(demo):
    (running,) = _running()
    assert running.started_at == STARTED
    assert running.ended_at is None and running.interruption_reason is None
    # Every other infusion of the demo has ended.
    ended = db.session.scalars(select(Infusion).where(Infusion.ended_at.is_not(None))).all()
    assert ended and all(i.ended_at > i.started_at for i in ended)


def test_it_is_a_second_infusion_after_a_first_that_ended(demo):
    (running,) = _running()
    assert running.infusion_number == 2
    first = db.session.scalar(
        select(Infusion).where(
            Infusion.recipient_id == running.recipient_id, Infusion.infusion_number == 1
        )
    )
    assert first is not None and first.ended_at is not None
    assert first.ended_at < running.started_at
    assert running.recipient.second_infusion_ordered is True
    # A week after infusion 1, as the protocol spaces them; the recipient is still in hospital.
    assert running.started_at - first.started_at == timedelta(days=7)
    assert running.recipient.status is RecipientStatus.INFUSED


def test_its_bag_is_infused_by_a_custody_event_at_the_start(demo):
    (running,) = _running()
    bag = running.allocation.bag
    assert bag.id == running.bag_id and bag.status is BagStatus.INFUSED
    last = db.session.scalar(
        select(CustodyEvent)
        .where(CustodyEvent.bag_id == bag.id)
        .order_by(CustodyEvent.occurred_at.desc(), CustodyEvent.id.desc())
        .limit(1)
    )
    assert (last.action, last.to_status, last.occurred_at) == ("infuse", "infused", STARTED)
    # It followed a passed verification of this bag for this recipient, within 30 minutes.
    check = db.session.get(BedsideVerification, running.verification_id)
    assert check.passed and (check.bag_id, check.recipient_id) == (bag.id, running.recipient_id)
    assert timedelta(0) < STARTED - check.attempted_at <= timedelta(minutes=30)
    # Nothing stops it: its lot's release holds and no recall covers it.
    assert release_holds(bag.lot) == (True, "")
    assert active_recall_codes(bag.lot_id) == ""


def test_its_recipient_has_no_transplant_recorded(demo):
    (running,) = _running()
    recipient = db.session.get(Recipient, running.recipient_id)
    # Still on the study, at a step infusion 2 may be given from; not gone to transplant.
    assert recipient.status.value in schedule.INFUSION_FROM[2]
    assert recipient.status is not RecipientStatus.OFF_STUDY
    assert recipient.transplant_on is None and not recipient.status_reason
    samples = db.session.scalars(
        select(FollowUpSample).where(FollowUpSample.recipient_id == recipient.id)
    ).all()
    assert samples == []
    # The demo still has its one transplant, for somebody else.
    (transplanted,) = db.session.scalars(
        select(Recipient).where(Recipient.transplant_on.is_not(None))
    ).all()
    assert transplanted.id != recipient.id


def test_the_bedside_and_the_dashboard_find_it(demo):
    (running,) = _running()
    recipient = running.recipient
    band = wristband_data(recipient.hospital_record_number, recipient.birth_date)

    found = at_bedside(band)["infusion_in_progress"]

    assert (found["bag"], found["recipient"], found["infusion_number"]) == (
        running.allocation.bag.code,
        recipient.subject_id,
        2,
    )
    assert (found["started_at"], found["stops"]) == (STARTED, [])
    assert [row["bag"] for row in in_progress()] == [found["bag"]]


def test_each_scale_unit_has_its_own_infusion_under_way(app):
    load_demo(scale=2, seed=1)
    running = _running()
    assert len(running) == 2
    assert [i.started_at for i in running] == [STARTED, STARTED]
    assert len({i.recipient_id for i in running}) == 2
    assert all(i.infusion_number == 2 for i in running)
