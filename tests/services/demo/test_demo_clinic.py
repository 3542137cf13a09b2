"""The demo's clinic side: recipients at every step of the schedule, allocations with their dose
arithmetic, thaws, two-person bedside checks behind every infusion, one wrong patient caught,
and a transplant with its sample; same seed, same rows; the audit trail still verifies.

The demo is loaded once for the module into its own database; the determinism test loads it a
second time into the test's fresh database and compares.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select

from custody.domain.wristband import check_patient_number, read_wristband
from custody.extensions import db
from custody.models import (
    Allocation,
    BagStatus,
    BedsideVerification,
    CustodyEvent,
    DoseLevelStatus,
    FollowUpSample,
    Infusion,
    Recipient,
    RecipientStatus,
    Role,
    Thaw,
    Trial,
    User,
)
from custody.services.audit.review import entries_of
from custody.services.audit.verify import verify_trail
from custody.services.bags.lookup import bag_from_scan
from custody.services.demo import load_demo
from custody.services.demo.scenario import DEMO_NOW
from tests.services.demo.demo_database import loaded_demo, table_digest
from tests.unit.test_bedside_checks import ORDER

CLINIC_TABLES = (
    "trials",
    "dose_levels",
    "recipients",
    "allocations",
    "thaws",
    "bedside_verifications",
    "infusions",
    "follow_up_samples",
)


@pytest.fixture(scope="module")
def demo(migrated_database, tmp_path_factory):
    """A database holding load_demo(scale=1, seed=1); yields the digest of its clinic rows."""
    with loaded_demo(migrated_database, tmp_path_factory, "democlinic", CLINIC_TABLES) as digest:
        yield digest


def _all(model) -> list:
    return list(db.session.scalars(select(model).order_by(model.id)))


def _by_recipient(model) -> dict[int, list]:
    found = defaultdict(list)
    for row in _all(model):
        found[row.recipient_id].append(row)
    return found


def _trial() -> Trial:
    (trial,) = _all(Trial)
    return trial


def test_the_trial_enrols_phase_1_with_a_one_hour_post_thaw_window(demo):
    trial = _trial()
    assert (trial.current_phase, trial.post_thaw_minutes) == (1, 60)
    statuses = {level.status for level in trial.dose_levels}
    assert DoseLevelStatus.RECOMMENDED in statuses and DoseLevelStatus.OPEN in statuses


def test_recipients_wait_at_every_step_from_screening_to_transplant(demo):
    recipients = _all(Recipient)
    allocations, infusions = _by_recipient(Allocation), _by_recipient(Infusion)
    thaws = {thaw.bag_id: thaw for thaw in _all(Thaw)}

    def at_step(status: RecipientStatus) -> list[Recipient]:
        return [r for r in recipients if r.status is status]

    def active(r: Recipient) -> list[Allocation]:
        return [a for a in allocations[r.id] if a.active]

    assert any(not allocations[r.id] for r in at_step(RecipientStatus.SCREENING))
    assert any(not allocations[r.id] for r in at_step(RecipientStatus.ENROLLED))
    lymphodepleted = at_step(RecipientStatus.LYMPHODEPLETION)
    assert any(active(r) and not any(a.bag_id in thaws for a in active(r)) for r in lymphodepleted)
    thawed_now = [
        a
        for r in lymphodepleted
        for a in active(r)
        if a.bag.status is BagStatus.THAWED
        and thaws[a.bag_id].ended_at <= DEMO_NOW
        and thaws[a.bag_id].use_by > DEMO_NOW
    ]
    assert thawed_now and not infusions[thawed_now[0].recipient_id]

    infused = at_step(RecipientStatus.INFUSED)
    assert any(len(infusions[r.id]) == 1 for r in infused)
    twice = [r for r in infused if len(infusions[r.id]) == 2]
    assert twice and all(r.second_infusion_ordered for r in twice)
    for r in twice:
        first, second = sorted(infusions[r.id], key=lambda i: i.infusion_number)
        assert second.started_at - first.started_at == timedelta(days=7)
        assert r.day0 == first.started_at.date()

    followed = at_step(RecipientStatus.FOLLOW_UP)
    assert followed and all(r.discharged_on and r.discharged_on > r.day0 for r in followed)
    assert all(infusions[r.id] for r in followed)


def test_a_recipient_went_to_transplant_gave_the_sample_and_left_the_study(demo):
    samples = _by_recipient(FollowUpSample)
    (gone,) = [r for r in _all(Recipient) if r.transplant_on is not None]
    assert gone.status is RecipientStatus.OFF_STUDY and gone.status_reason
    assert gone.day0 < gone.discharged_on <= gone.transplant_on
    (sample,) = samples[gone.id]
    assert sample.kind == "post_transplant_blood" and sample.code.startswith("SMP-")
    assert sample.due_on == gone.transplant_on + timedelta(days=30)
    assert sample.collected_at < sample.sent_at < sample.received_at <= DEMO_NOW
    assert sample.collected_by_id and sample.sent_by_id and sample.received_by_id
    assert set(samples) == {gone.id}


def test_every_hospital_record_number_can_go_on_a_wristband(demo):
    for recipient in _all(Recipient):
        assert check_patient_number(recipient.hospital_record_number)


def test_every_allocation_records_the_dose_it_was_checked_for(demo):
    recipients = {r.id: r for r in _all(Recipient)}
    allocations = _all(Allocation)
    assert any(not a.active for a in allocations)
    for allocation in allocations:
        recipient = recipients[allocation.recipient_id]
        level = recipient.dose_level
        assert allocation.dose_level_id == level.id
        assert allocation.weight_kg_used == recipient.weight_kg
        spread = level.dose_cells * level.tolerance_pct / 100
        assert abs(allocation.planned_cells - level.dose_cells) <= spread
        assert allocation.planned_cells <= allocation.bag.viable_car_nk_cells
        assert 0 < allocation.residual_cd3_per_kg < 2e5
        ended = (allocation.ended_at, allocation.ended_by_id, allocation.end_reason)
        if allocation.active:
            assert ended == (None, None, None)
        else:
            assert all(ended) and allocation.ended_at > allocation.allocated_at


def test_every_infusion_followed_a_passed_check_by_two_nurses_of_its_recipient(demo):
    infusions = _all(Infusion)
    assert infusions
    for infusion in infusions:
        check = db.session.get(BedsideVerification, infusion.verification_id)
        assert check.passed
        _assert_all_checks(check, passed=True)
        first, second = (db.session.get(User, check.first_verifier_id), check.second_verifier)
        assert first.id != second.id and {first.role, second.role} == {Role.NURSE}
        assert (infusion.first_verifier_id, infusion.second_verifier_id) == (first.id, second.id)
        band = read_wristband(check.wristband_scan)
        recipient = infusion.recipient
        assert (band.patient_number, band.birth_date) == (
            recipient.hospital_record_number,
            recipient.birth_date,
        )
        assert (check.recipient_id, check.allocation_id, check.bag_id) == (
            recipient.id,
            infusion.allocation_id,
            infusion.bag_id,
        )
        assert check.infusion_number == infusion.infusion_number
        assert bag_from_scan(check.bag_scan)[0].id == infusion.bag_id
        assert timedelta(0) < infusion.started_at - check.attempted_at <= timedelta(minutes=30)


def test_bags_verified_at_the_bedside_passed_a_check_at_their_verify_scan(demo):
    passed = {c.bag_id: c for c in _all(BedsideVerification) if c.passed}
    verify_events = db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "verify"))
    events = list(verify_events)
    assert events and {e.bag_id for e in events} == set(passed)
    for event in events:
        assert passed[event.bag_id].attempted_at == event.occurred_at


def test_one_wrong_patient_caught_at_the_bedside_is_kept(demo):
    (stopped,) = [c for c in _all(BedsideVerification) if not c.passed]
    names = _assert_all_checks(stopped, passed=None)
    assert [name for name, ok in names if not ok] == ["recipient_identity"]
    allocated = db.session.get(Recipient, stopped.recipient_id)
    band = read_wristband(stopped.wristband_scan)
    assert band.patient_number != allocated.hospital_record_number
    wearer = db.session.scalar(
        select(Recipient).where(Recipient.hospital_record_number == band.patient_number)
    )
    assert wearer is not None and wearer.birth_date == band.birth_date
    cleared = db.session.scalar(
        select(Infusion).where(Infusion.bag_id == stopped.bag_id)
    ).verification_id
    assert stopped.attempted_at < db.session.get(BedsideVerification, cleared).attempted_at
    (entry,) = entries_of([("bedside_verifications", stopped.id)], 10)
    assert stopped.uid in entry.record_key and '"passed"' in entry.changes


def _assert_all_checks(check: BedsideVerification, passed: bool | None) -> list:
    """The check names, in the bedside's order, each with a message; all `passed` if given."""
    listed = json.loads(check.checks)
    assert [
        c["check"] for c in listed
    ] == ORDER  # the bedside rules' order, written out in their unit tests
    assert all(c["message"] for c in listed)
    if passed is not None:
        assert all(c["passed"] is passed for c in listed), check.uid
    return [(c["check"], c["passed"]) for c in listed]


def test_every_thawed_bag_has_its_thaw_with_the_window_from_its_end(demo):
    window = timedelta(minutes=_trial().post_thaw_minutes)
    thaws = {thaw.bag_id: thaw for thaw in _all(Thaw)}
    ends = list(db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "thaw")))
    starts = {
        e.bag_id: e
        for e in db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "thaw_start"))
    }
    assert ends and set(thaws) == {e.bag_id for e in ends} == set(starts)
    for end in ends:
        thaw = thaws[end.bag_id]
        assert (
            thaw.ended_at == end.occurred_at and thaw.started_at == starts[end.bag_id].occurred_at
        )
        assert timedelta(0) < thaw.ended_at - thaw.started_at <= timedelta(minutes=30)
        assert thaw.window_minutes == 60 and thaw.use_by == thaw.ended_at + window
        assert thaw.started_by_id and thaw.ended_by_id
        allocation = db.session.get(Allocation, thaw.allocation_id)
        assert allocation.bag_id == thaw.bag_id


def test_same_seed_gives_the_same_clinic_rows(demo, app):
    load_demo(scale=1, seed=1)
    assert table_digest(CLINIC_TABLES) == demo


def test_audit_trail_verifies_after_loading(demo):
    report = verify_trail(db.session.connection())
    assert report.ok, report
