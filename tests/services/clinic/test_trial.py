"""The trial as configuration: set up once by an administrator, every change audited with its
reason, the phase and the recommended dose level kept consistent."""

import json

import pytest
from sqlalchemy import func, select

from custody.domain.errors import Conflict, Forbidden, IllegalTransition, NotFound, ValidationFailed
from custody.extensions import db
from custody.models import AuditEntry, DoseLevel, Trial
from custody.services.clinic import trial as config
from tests.races import race

NCT = "NCT07026942"


def _configure(user, **overrides):
    fields = {
        "protocol_id": NCT,
        "title": "CD33 CAR-NK cells for relapsed/refractory AML",
        "product_name": "CD33 CAR-NK cells",
        "post_thaw_minutes": 60,
        "reason": "trial set up from the approved protocol",
    }
    return config.configure_trial(user, **(fields | overrides))


def _audit(record_type: str) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.record_type == record_type).order_by(AuditEntry.id)
    ).all()


def _audit_count() -> int:
    return db.session.scalar(select(func.count(AuditEntry.id)))


def _levels() -> dict[str, str]:
    db.session.expire_all()
    return {lv.code: lv.status.value for lv in db.session.scalars(select(DoseLevel))}


@pytest.fixture
def trial(clinic):
    """The trial with DL1 (closed), DL2, DL3 (flat) and DL4 (per kg), open."""
    return clinic.trial()


def test_no_trial_is_a_not_found_that_says_what_to_do(app):
    with pytest.raises(NotFound, match="administrator first sets up the trial"):
        config.current_trial()


def test_configure_creates_once_then_updates_with_old_and_new_values_audited(admin):
    trial = _configure(admin)
    assert (trial.protocol_id, trial.current_phase, trial.post_thaw_minutes) == (NCT, 1, 60)
    _configure(admin, post_thaw_minutes=180, title="Amended title", reason="protocol amendment 2")
    assert db.session.scalar(select(func.count(Trial.id))) == 1
    trial = config.current_trial()
    assert (trial.title, trial.post_thaw_minutes) == ("Amended title", 180)
    created, updated = _audit("trials")
    assert created.action == "create" and created.actor == "ada"
    assert updated.action == "update" and updated.reason == "protocol amendment 2"
    changes = json.loads(updated.changes)
    assert changes["post_thaw_minutes"] == [60, 180]
    assert changes["title"] == ["CD33 CAR-NK cells for relapsed/refractory AML", "Amended title"]


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"protocol_id": "NCT99999999"}, Conflict, "serves protocol NCT07026942"),
        ({"post_thaw_minutes": 0}, ValidationFailed, "post-thaw window"),
        ({"post_thaw_minutes": 1441}, ValidationFailed, "post-thaw window"),
        ({"reason": "  "}, ValidationFailed, "Give the reason"),
        ({"title": ""}, ValidationFailed, "title"),
        ({"protocol_id": "NCT 0702"}, ValidationFailed, "protocol ID"),
    ],
)
def test_refused_configuration_changes_nothing(admin, overrides, error, words):
    _configure(admin)
    before = _audit_count()
    with pytest.raises(error, match=words):
        _configure(admin, **(overrides | {"title": overrides.get("title", "Changed")}))
    db.session.expire_all()
    trial = config.current_trial()
    assert trial.title == "CD33 CAR-NK cells for relapsed/refractory AML"
    assert (trial.protocol_id, trial.post_thaw_minutes, trial.version) == (NCT, 60, 1)
    assert _audit_count() == before


@pytest.mark.parametrize("role", ["technician", "qa", "nurse"])
def test_only_admins_change_the_configuration(make, trial, role):
    other = make.user(role)
    before = _audit_count()
    calls = [
        lambda: _configure(other),
        lambda: config.set_phase(other, 2, "phase 2"),
        lambda: config.add_dose_level(other, "DL9", 1, "flat", 1e9, 20, "new"),
        lambda: config.set_dose_level_status(other, "DL2", "closed", "closed"),
    ]
    for call in calls:
        with pytest.raises(Forbidden, match=f"Only admin .*signed in as {role}"):
            call()
    assert _audit_count() == before
    assert config.current_trial().current_phase == 1  # any role may still read it


def test_dose_levels_are_added_open_and_codes_are_unique(admin, trial):
    level = config.add_dose_level(admin, "dl5", 1, "per_kg", 3e7, 15, "per-kg cohort")
    assert (level.code, level.basis.value, level.status.value) == ("DL5", "per_kg", "open")
    (created,) = [e for e in _audit("dose_levels") if e.record_key == "DL5"]
    assert created.reason == "per-kg cohort" and json.loads(created.changes)["dose_cells"][1] == 3e7
    before = _audit_count()
    with pytest.raises(Conflict, match="DL5 already exists"):
        config.add_dose_level(admin, "DL5", 1, "flat", 1e9, 20, "again")
    assert _audit_count() == before


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"code": "DL 5"}, "dose level code"),
        ({"basis": "per_m2"}, "flat"),
        ({"dose_cells": 0}, "above 0"),
        ({"dose_cells": float("nan")}, "above 0"),
        ({"tolerance_pct": 100}, "tolerance"),
        ({"phase": 3}, "phase 1 or 2"),
    ],
)
def test_invalid_dose_levels_are_refused_with_words(admin, trial, fields, words):
    args = {"code": "DL6", "phase": 1, "basis": "flat", "dose_cells": 1e9, "tolerance_pct": 20}
    before = _levels()
    with pytest.raises(ValidationFailed, match=words):
        config.add_dose_level(admin, reason="new level", **(args | fields))
    assert _levels() == before


def test_phase_2_needs_a_recommended_dose_level(admin, trial):
    before = _audit_count()
    with pytest.raises(IllegalTransition, match="Declare the recommended dose level first"):
        config.set_phase(admin, 2, "escalation complete")
    assert config.current_trial().current_phase == 1 and _audit_count() == before
    config.set_dose_level_status(admin, "DL2", "recommended", "safety review committee")
    config.set_phase(admin, 2, "escalation complete")
    db.session.expire_all()
    assert config.current_trial().current_phase == 2
    last = _audit("trials")[-1]
    assert json.loads(last.changes)["current_phase"] == [1, 2]
    assert last.reason == "escalation complete"
    with pytest.raises(ValidationFailed, match="already enrolling in phase 2"):
        config.set_phase(admin, 2, "again")


def test_only_one_level_is_recommended_at_a_time(admin, trial):
    config.set_dose_level_status(admin, "DL2", "recommended", "safety review committee")
    entry = _audit("dose_levels")[-1]
    assert entry.record_key == "DL2" and json.loads(entry.changes)["status"] == [
        "open",
        "recommended",
    ]
    before = _audit_count()
    with pytest.raises(IllegalTransition, match="DL2 is already the recommended dose") as refused:
        config.set_dose_level_status(admin, "DL3", "recommended", "another")
    assert "Set DL2 to open or closed first" in refused.value.message
    assert _levels() == {"DL1": "closed", "DL2": "recommended", "DL3": "open", "DL4": "open"}
    assert _audit_count() == before
    config.set_dose_level_status(admin, "DL2", "closed", "recommendation withdrawn")
    config.set_dose_level_status(admin, "DL3", "recommended", "new recommendation")
    assert _levels() == {"DL1": "closed", "DL2": "closed", "DL3": "recommended", "DL4": "open"}


def test_the_recommended_level_stays_while_phase_2_recipients_are_on_it(admin, trial, clinic):
    config.set_dose_level_status(admin, "DL2", "recommended", "safety review committee")
    config.set_phase(admin, 2, "escalation complete")
    clinic.recipient(dose_level="DL2", phase=2, status="enrolled")
    clinic.recipient(dose_level="DL2", phase=2, status="withdrawn")  # left: does not count
    before = _audit_count()
    for status in ("closed", "open"):
        with pytest.raises(IllegalTransition, match="1 phase 2 recipient is on the study"):
            config.set_dose_level_status(admin, "DL2", status, "closing")
    assert _levels()["DL2"] == "recommended" and _audit_count() == before


def test_the_recommended_level_may_close_once_its_phase_2_recipients_left(admin, trial, clinic):
    config.set_dose_level_status(admin, "DL2", "recommended", "safety review committee")
    clinic.recipient(dose_level="DL2", phase=2, status="off_study")
    clinic.recipient(dose_level="DL2", phase=1, status="enrolled")  # phase 1: does not count
    config.set_dose_level_status(admin, "DL2", "closed", "no phase 2 recipient at DL2")
    assert _levels()["DL2"] == "closed"


def test_unknown_dose_level_and_unchanged_status_are_refused(admin, trial):
    with pytest.raises(NotFound, match="DL1, DL2, DL3, DL4"):
        config.set_dose_level_status(admin, "DL7", "closed", "typo")
    with pytest.raises(ValidationFailed, match="already open"):
        config.set_dose_level_status(admin, "DL2", "open", "again")
    with pytest.raises(ValidationFailed, match="'open', 'closed' or 'recommended'"):
        config.set_dose_level_status(admin, "DL1", "paused", "pause")


def test_two_admins_recommending_different_levels_at_once_one_wins(app, make, trial):
    make.user("admin", username="a1")
    make.user("admin", username="a2")

    def recommend(code):
        return lambda user: config.set_dose_level_status(user, code, "recommended", "SRC").code

    outcomes = race(app, ("a1", recommend("DL2")), ("a2", recommend("DL3")))
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1
    (lost,) = [o for o in outcomes if not isinstance(o, str)]
    assert isinstance(lost, IllegalTransition | Conflict)
    assert [code for code, status in _levels().items() if status == "recommended"] == winners
