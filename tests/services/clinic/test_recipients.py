"""Recipients: registration at the right dose level, weight, status along the protocol, dose
level changes, the investigator's order for infusion 2, discharge, and the wristband."""

import json
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from custody.domain import isbt128
from custody.domain.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    InvalidBarcode,
    NotFound,
    ValidationFailed,
)
from custody.domain.wristband import read_wristband
from custody.extensions import db
from custody.models import AuditEntry, Infusion, Recipient
from custody.services.clinic import recipients as svc
from custody.services.clinic import trial
from custody.services.clinic.recipients import RecipientRequest
from custody.services.core.audit_trail import acting_as
from custody.services.core.facility import site_zone
from tests.races import race


def _request(**overrides) -> RecipientRequest:
    fields = {
        "subject_id": "CAR33-001-01",
        "hospital_record_number": "MRN0042",
        "name": "Ada Lovelace",
        "birth_date": date(1961, 12, 10),
        "weight_kg": 64.5,
        "weight_measured_on": svc.site_today(),
        "site": "University Hospital",
        "phase": 1,
        "dose_level": "DL2",
    }
    return RecipientRequest(**(fields | overrides))


def _audit(record_type="recipients") -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.record_type == record_type).order_by(AuditEntry.id)
    ).all()


def _audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


def _row(recipient) -> dict:
    """The stored row, read afresh, to prove a refusal changed nothing."""
    db.session.expire_all()
    row = db.session.get(Recipient, recipient.id)
    return {c.key: getattr(row, c.key) for c in Recipient.__table__.columns}


def infused(clinic, recipient, number: int, days_ago: int):
    """An infusion row for `recipient` (test setup: what the infusion record writes)."""
    (bag,) = clinic.released_bags(1)
    allocation = clinic.allocate(bag, recipient, number)
    first, second = clinic.make.user("nurse"), clinic.make.user("nurse")
    # Noon on the site's clock, `days_ago` days back: the day the calendar counts from.
    day = svc.site_today() - timedelta(days=days_ago)
    started = datetime.combine(day, time(12), tzinfo=site_zone())
    with acting_as("system:test", reason="test setup"):
        db.session.add(
            Infusion(
                allocation_id=allocation.id,
                bag_id=bag.id,
                recipient_id=recipient.id,
                infusion_number=number,
                started_at=started,
                first_verifier_id=first.id,
                second_verifier_id=second.id,
            )
        )
        allocation.active = False
        db.session.commit()


@pytest.fixture
def nurse(nurse, clinic):
    """Nina, on a ward whose trial is set up (a recipient is registered into it)."""
    clinic.trial()
    return nurse


# --- registration ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["nurse", "admin"])
def test_nurses_and_admins_register_a_recipient_in_screening(make, clinic, role):
    clinic.trial()
    user = make.user(role)
    recipient = svc.register_recipient(user, _request(subject_id="car33-001-01"))
    assert recipient.subject_id == "CAR33-001-01"
    assert (recipient.status.value, recipient.dose_level.code, recipient.phase) == (
        "screening",
        "DL2",
        1,
    )
    (created,) = _audit()
    assert created.action == "create" and created.actor == user.username
    assert json.loads(created.changes)["hospital_record_number"] == [None, "MRN0042"]


@pytest.mark.parametrize("role", ["technician", "qa"])
def test_lab_roles_do_not_register_recipients(make, clinic, role):
    clinic.trial()
    with pytest.raises(Forbidden, match="Only admin or nurse"):
        svc.register_recipient(make.user(role), _request())
    assert db.session.scalar(select(func.count(Recipient.id))) == 0


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"hospital_record_number": "MRN 42/7"}, InvalidBarcode, "cannot go on a wristband"),
        ({"dose_level": "DL1"}, IllegalTransition, "DL1 is closed.*open now: DL2, DL3, DL4"),
        ({"dose_level": None}, ValidationFailed, "Name the open dose level"),
        ({"dose_level": "DL9"}, NotFound, "not one of this trial's"),
        ({"phase": 2, "dose_level": None}, IllegalTransition, "enrolling in phase 1"),
        ({"birth_date": date(2999, 1, 1)}, ValidationFailed, "date of birth"),
        ({"weight_kg": 0.5}, ValidationFailed, "from 1 to 400"),
        ({"weight_kg": 401}, ValidationFailed, "from 1 to 400"),
        ({"weight_measured_on": date(2999, 1, 1)}, ValidationFailed, "in the future"),
        ({"subject_id": "CAR 33"}, ValidationFailed, "subject ID"),
        ({"name": "  "}, ValidationFailed, "full name"),
    ],
)
def test_invalid_registrations_are_refused_with_words_and_nothing_written(
    nurse, overrides, error, words
):
    before = _audit_count()
    with pytest.raises(error, match=words):
        svc.register_recipient(nurse, _request(**overrides))
    assert db.session.scalar(select(func.count(Recipient.id))) == 0
    assert _audit_count() == before


def test_a_subject_id_is_registered_once(nurse):
    svc.register_recipient(nurse, _request())
    before = _audit_count()
    with pytest.raises(Conflict, match="CAR33-001-01 is already registered"):
        svc.register_recipient(nurse, _request(hospital_record_number="MRN0099"))
    assert _audit_count() == before


def test_two_nurses_registering_one_subject_at_once_one_wins(app, make, clinic):
    clinic.trial()
    make.user("nurse", username="n1")
    make.user("nurse", username="n2")

    def register(user):
        return svc.register_recipient(user, _request()).subject_id

    outcomes = race(app, ("n1", register), ("n2", register))
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "str"]
    assert db.session.scalar(select(func.count(Recipient.id))) == 1


def test_phase_2_recipients_get_the_recommended_level(nurse, admin):
    trial.set_dose_level_status(admin, "DL3", "recommended", "safety review")
    trial.set_phase(admin, 2, "escalation complete")
    recipient = svc.register_recipient(nurse, _request(phase=2, dose_level=None))
    assert (recipient.phase, recipient.dose_level.code) == (2, "DL3")
    with pytest.raises(ValidationFailed, match="recommended dose, DL3, not DL2"):
        svc.register_recipient(nurse, _request(subject_id="CAR33-002", phase=2))
    with pytest.raises(IllegalTransition, match="enrolling in phase 2, not phase 1"):
        svc.register_recipient(nurse, _request(subject_id="CAR33-003"))


def test_phase_2_without_a_recommended_level_is_refused(nurse, admin):
    trial.set_dose_level_status(admin, "DL3", "recommended", "safety review")
    trial.set_phase(admin, 2, "escalation complete")
    trial.set_dose_level_status(admin, "DL3", "closed", "recommendation withdrawn")
    with pytest.raises(IllegalTransition, match="no dose level is recommended"):
        svc.register_recipient(nurse, _request(phase=2, dose_level=None))


def test_registration_needs_a_configured_trial(make):
    with pytest.raises(NotFound, match="No trial is configured"):
        svc.register_recipient(make.user("nurse"), _request())


# --- weight, status, dose level -------------------------------------------------------------


def test_a_new_weight_is_audited_with_old_and_new_values(nurse, clinic):
    recipient = clinic.recipient(weight_kg=70.0, weight_measured_on=date(2026, 1, 5))
    svc.record_weight(nurse, recipient.subject_id, 66.2, svc.site_today(), "weekly weighing")
    entry = _audit()[-1]
    assert entry.reason == "weekly weighing" and entry.actor == "nina"
    changes = json.loads(entry.changes)
    assert changes["weight_kg"] == [70.0, 66.2]
    assert changes["weight_measured_on"] == ["2026-01-05", svc.site_today().isoformat()]


def test_an_older_or_impossible_weight_is_refused(nurse, clinic):
    recipient = clinic.recipient(weight_kg=70.0)
    row, before = _row(recipient), _audit_count()
    yesterday = svc.site_today() - timedelta(1)
    with pytest.raises(ValidationFailed, match=r"A newer weight .* is already recorded"):
        svc.record_weight(nurse, recipient.subject_id, 60, yesterday, "old chart")
    with pytest.raises(ValidationFailed, match="from 1 to 400"):
        svc.record_weight(nurse, recipient.subject_id, 4000, svc.site_today(), "grams?")
    with pytest.raises(ValidationFailed, match="Give the reason"):
        svc.record_weight(nurse, recipient.subject_id, 60, svc.site_today(), "")
    assert _row(recipient) == row and _audit_count() == before


def test_status_moves_along_the_table_with_the_reason_kept(nurse, clinic):
    recipient = clinic.recipient(status="screening")
    svc.change_status(nurse, recipient.subject_id, "enrolled", "eligibility confirmed")
    svc.change_status(nurse, recipient.subject_id, "lymphodepletion", "Flu/Cy started")
    entry = _audit()[-1]
    assert json.loads(entry.changes)["status"] == ["enrolled", "lymphodepletion"]
    assert entry.reason == "Flu/Cy started"
    assert _row(recipient)["status_reason"].endswith("Flu/Cy started")


def test_infused_by_hand_and_moves_off_the_table_are_refused(nurse, clinic):
    recipient = clinic.recipient(status="lymphodepletion")
    row, before = _row(recipient), _audit_count()
    with pytest.raises(IllegalTransition, match="record the infusion") as refused:
        svc.change_status(nurse, recipient.subject_id, "infused", "given")
    assert refused.value.details["allowed"] == ["off_study", "withdrawn", "deceased"]
    with pytest.raises(IllegalTransition, match=r"LYMPHODEPLETION.*Allowed now: off_study"):
        svc.change_status(nurse, recipient.subject_id, "follow_up", "skip")
    assert _row(recipient) == row and _audit_count() == before


def test_leaving_the_study_is_final(nurse, clinic):
    recipient = clinic.recipient(status="follow_up")
    svc.change_status(nurse, recipient.subject_id, "withdrawn", "consent withdrawn")
    row = _row(recipient)
    with pytest.raises(IllegalTransition, match="final"):
        svc.change_status(nurse, recipient.subject_id, "follow_up", "came back")
    with pytest.raises(IllegalTransition, match="no longer on the study"):
        svc.record_weight(nurse, recipient.subject_id, 60, svc.site_today(), "weighed")
    assert _row(recipient) == row


@pytest.mark.parametrize("role", ["technician", "qa"])
def test_lab_roles_do_not_change_recipients(make, clinic, role):
    recipient = clinic.recipient(status="screening")
    user, row = make.user(role), _row(recipient)
    calls = [
        lambda: svc.change_status(user, recipient.subject_id, "enrolled", "ok"),
        lambda: svc.record_weight(user, recipient.subject_id, 60, svc.site_today(), "w"),
        lambda: svc.assign_dose_level(user, recipient.subject_id, "DL3", "r"),
        lambda: svc.order_second_infusion(user, recipient.subject_id, True, "r"),
        lambda: svc.record_discharge(user, recipient.subject_id, svc.site_today()),
        lambda: svc.record_transplant(user, recipient.subject_id, svc.site_today(), "r"),
    ]
    for call in calls:
        with pytest.raises(Forbidden):
            call()
    assert _row(recipient) == row


def test_the_dose_level_changes_before_infusion_1_only(nurse, clinic):
    recipient = clinic.recipient(dose_level="DL2", status="enrolled")
    svc.assign_dose_level(nurse, recipient.subject_id, "DL3", "cohort 3 opened")
    entry = _audit()[-1]
    assert entry.reason == "cohort 3 opened"
    assert json.loads(entry.changes)["dose_level_id"] == [
        clinic.dose_level("DL2").id,
        clinic.dose_level("DL3").id,
    ]
    with pytest.raises(IllegalTransition, match="DL1 is closed"):
        svc.assign_dose_level(nurse, recipient.subject_id, "DL1", "back")
    infused(clinic, recipient, 1, days_ago=1)
    with pytest.raises(IllegalTransition, match="has had infusion 1"):
        svc.assign_dose_level(nurse, recipient.subject_id, "DL4", "too late")
    assert _row(recipient)["dose_level_id"] == clinic.dose_level("DL3").id


def test_the_dose_level_stays_while_a_bag_is_allocated_at_it(nurse, clinic):
    recipient = clinic.recipient(dose_level="DL2", status="lymphodepletion")
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, recipient, 1)
    row = _row(recipient)
    with pytest.raises(IllegalTransition, match=f"{bag.code}.*De-allocate them first"):
        svc.assign_dose_level(nurse, recipient.subject_id, "DL3", "change")
    assert _row(recipient) == row


# --- the investigator's order, discharge ----------------------------------------------------


def test_infusion_2_is_ordered_after_infusion_1_and_by_day_7(nurse, clinic):
    today = svc.site_today()
    waiting = clinic.recipient(status="lymphodepletion")
    with pytest.raises(IllegalTransition, match="no first infusion is recorded"):
        svc.order_second_infusion(nurse, waiting.subject_id, True, "PI decision")
    late = clinic.recipient(status="infused", day0=today - timedelta(8))
    with pytest.raises(IllegalTransition, match="has passed"):
        svc.order_second_infusion(nurse, late.subject_id, True, "PI decision")
    assert not _row(late)["second_infusion_ordered"]
    on_time = clinic.recipient(status="infused", day0=today - timedelta(7))
    svc.order_second_infusion(nurse, on_time.subject_id, True, "PI: disease persists")
    entry = _audit()[-1]
    assert json.loads(entry.changes)["second_infusion_ordered"] == [False, True]
    assert entry.reason == "PI: disease persists"
    with pytest.raises(ValidationFailed, match="already ordered"):
        svc.order_second_infusion(nurse, on_time.subject_id, True, "again")


def test_cancelling_infusion_2_needs_its_bags_deallocated(nurse, clinic):
    recipient = clinic.recipient(
        status="infused", day0=svc.site_today() - timedelta(2), second_infusion_ordered=True
    )
    (bag,) = clinic.released_bags(1)
    clinic.allocate(bag, recipient, 2)
    with pytest.raises(IllegalTransition, match=r"allocated for infusion 2\. De-allocate"):
        svc.order_second_infusion(nurse, recipient.subject_id, False, "PI: not needed")
    assert _row(recipient)["second_infusion_ordered"]


def test_infusion_2_given_cannot_be_cancelled(nurse, clinic):
    recipient = clinic.recipient(
        status="infused", day0=svc.site_today() - timedelta(7), second_infusion_ordered=True
    )
    infused(clinic, recipient, 2, days_ago=0)
    with pytest.raises(IllegalTransition, match="already been given"):
        svc.order_second_infusion(nurse, recipient.subject_id, False, "PI: cancel")


def test_discharge_is_recorded_between_day0_and_today(nurse, clinic):
    today = svc.site_today()
    recipient = clinic.recipient(status="infused", day0=today - timedelta(20))
    svc.record_discharge(nurse, recipient.subject_id, today - timedelta(3))
    assert _row(recipient)["discharged_on"] == today - timedelta(3)
    assert _audit()[-1].reason == "discharge recorded"
    for day in (today + timedelta(1), today - timedelta(21)):
        with pytest.raises(ValidationFailed, match="between day 0"):
            svc.record_discharge(nurse, recipient.subject_id, day)
    not_infused = clinic.recipient(status="lymphodepletion")
    with pytest.raises(IllegalTransition, match="after infusion 1"):
        svc.record_discharge(nurse, not_infused.subject_id, today)


# --- wristband ------------------------------------------------------------------------------


def test_the_wristband_reads_back_to_the_record_number_and_birth_date(nurse):
    recipient = svc.register_recipient(nurse, _request())
    data = svc.wristband(recipient.subject_id.lower())
    identity = read_wristband(data)
    assert (identity.patient_number, identity.birth_date) == ("MRN0042", date(1961, 12, 10))
    structures = {s.name: s.fields for s in isbt128.parse(data)}
    assert structures["patient_id"]["patient_id"] == "MRN0042"
    assert structures["patient_date_of_birth"]["date_of_birth"] == "1961-12-10"
    with pytest.raises(NotFound, match="No recipient with subject ID 'CAR33-404'"):
        svc.wristband("CAR33-404")
