"""The trial as configuration: protocol, the phase now enrolling, dose levels, product settings.

What the protocol fixes and may amend (dose levels, the post-thaw window, the phase) is data an
administrator changes here, with a reason, never code. Every change is one transaction with the
trial row locked, so two administrators cannot, for instance, each declare a different dose
level recommended at the same moment; the audit listener keeps old and new values.
"""

from __future__ import annotations

import math
import re

from sqlalchemy import func, select

from custody.domain import schedule
from custody.domain.bedside_checks import MAX_POST_THAW_MINUTES
from custody.domain.dosing import MAX_DOSE_CELLS
from custody.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from custody.domain.formatting import exact_number
from custody.domain.permissions import UseCase, authorise
from custody.extensions import db
from custody.models import DoseBasis, DoseLevel, DoseLevelStatus, Recipient, Trial, User
from custody.services.core.transactions import write

_DOSE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9.-]{0,15}$")
_PROTOCOL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
RACE = (
    "Someone else changed the trial settings at the same moment and was saved first. Nothing "
    "of yours was saved: look at the settings again, then repeat if still needed."
)


def require_reason(reason: str | None, doing: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            f"Give the reason to {doing}: it is kept in the audit trail with the change.",
            field="reason",
        )
    return reason


# --- reading --------------------------------------------------------------------------------


def current_trial(lock: bool = False) -> Trial:
    """The one trial this tracker serves; with `lock`, its row is locked for the transaction."""
    query = select(Trial).order_by(Trial.id).limit(1)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    trial = db.session.scalar(query)
    if trial is None:
        raise NotFound(
            "No trial is configured yet. An administrator first sets up the trial (protocol, "
            "product, post-thaw window) and its dose levels."
        )
    return trial


def dose_level_by_code(trial: Trial, code: str) -> DoseLevel:
    wanted = (code or "").strip().upper()
    level = db.session.scalar(
        select(DoseLevel).where(DoseLevel.trial_id == trial.id, DoseLevel.code == wanted)
    )
    if level is None:
        known = ", ".join(level.code for level in trial.dose_levels) or "none yet"
        raise NotFound(
            f"Dose level {wanted!r} is not one of this trial's (they are: {known}).",
            dose_level=wanted,
        )
    return level


def recommended_level(trial: Trial) -> DoseLevel | None:
    return next((lv for lv in trial.dose_levels if lv.status is DoseLevelStatus.RECOMMENDED), None)


# --- changing -------------------------------------------------------------------------------


def configure_trial(
    user: User,
    protocol_id: str,
    title: str,
    product_name: str,
    post_thaw_minutes: int,
    reason: str,
) -> Trial:
    """Set the trial up once; later calls change its title, product name and post-thaw window.

    The protocol ID names the trial for good (labels, records and reports carry it), so it is
    never changed here: a tracker serves one protocol.
    """
    authorise(user.role, UseCase.CONFIGURE_TRIAL, "configure the trial")
    reason = require_reason(reason, "configure the trial")
    protocol_id = (protocol_id or "").strip()
    if not _PROTOCOL_ID.match(protocol_id):
        raise ValidationFailed(
            "Give the protocol ID as registered (e.g. NCT07026942): letters, digits and . _ / -.",
            field="protocol_id",
        )
    title = _text(title, "title", 300, "the trial's title")
    product_name = _text(product_name, "product_name", 100, "the product's name")
    _check_post_thaw(post_thaw_minutes)
    with write(user, reason, RACE):
        trial = db.session.scalar(select(Trial).order_by(Trial.id).limit(1).with_for_update())
        if trial is None:
            trial = Trial(protocol_id=protocol_id, current_phase=1)
            db.session.add(trial)
        elif trial.protocol_id != protocol_id:
            raise Conflict(
                f"This tracker serves protocol {trial.protocol_id}; its protocol ID cannot "
                f"become {protocol_id}. Give {trial.protocol_id} to change the other settings.",
                protocol_id=trial.protocol_id,
            )
        trial.title, trial.product_name = title, product_name
        trial.post_thaw_minutes = post_thaw_minutes
    return trial


def set_phase(user: User, phase: int, reason: str) -> Trial:
    """Change the phase now enrolling. Phase 2 treats at the recommended dose: one must exist."""
    authorise(user.role, UseCase.CONFIGURE_TRIAL, "change the trial's phase")
    reason = require_reason(reason, "change the phase")
    if phase not in (1, 2):
        raise ValidationFailed("The phase is 1 (dose escalation) or 2.", field="phase")
    with write(user, reason, RACE):
        trial = current_trial(lock=True)
        if trial.current_phase == phase:
            raise ValidationFailed(
                f"The trial is already enrolling in phase {phase}; nothing was changed.",
                phase=phase,
            )
        if phase == 2 and recommended_level(trial) is None:
            raise IllegalTransition(
                "Phase 2 treats at the recommended dose, and no dose level is recommended yet. "
                "Declare the recommended dose level first, then move to phase 2.",
                current_phase=trial.current_phase,
            )
        trial.current_phase = phase
    return trial


def add_dose_level(
    user: User,
    code: str,
    phase: int,
    basis: str,
    dose_cells: float,
    tolerance_pct: float,
    reason: str,
) -> DoseLevel:
    """A new dose level, open for assignment: flat cells per infusion, or cells per kg."""
    authorise(user.role, UseCase.CONFIGURE_TRIAL, "add dose levels")
    reason = require_reason(reason, "add a dose level")
    code = (code or "").strip().upper()
    if not _DOSE_CODE.match(code):
        raise ValidationFailed(
            "A dose level code is 1-16 letters, digits, '.' or '-' (e.g. DL2).", field="code"
        )
    if phase not in (1, 2):
        raise ValidationFailed("A dose level belongs to phase 1 or 2.", field="phase")
    if basis not in {b.value for b in DoseBasis}:
        raise ValidationFailed(
            "The dose basis is 'flat' (cells per infusion) or 'per_kg' (cells per kg).",
            field="basis",
        )
    if not (isinstance(dose_cells, int | float) and math.isfinite(dose_cells)) or not (
        0 < dose_cells <= MAX_DOSE_CELLS
    ):
        raise ValidationFailed(
            "The dose is a number of viable CAR+ NK cells above 0 and at most "
            f"{exact_number(MAX_DOSE_CELLS)} (e.g. 1.2 × 10⁹ flat, sent as 1200000000 or "
            "1.2e9; or 1.5 × 10⁷ per kg).",
            field="dose_cells",
        )
    if not (isinstance(tolerance_pct, int | float) and 0 <= tolerance_pct < 100):
        raise ValidationFailed(
            "The tolerance is a percentage from 0 to below 100 (±20 % is common).",
            field="tolerance_pct",
        )
    taken = f"Dose level {code} already exists. Use it, or choose another code."
    with write(user, reason, taken, dose_level=code):
        trial = current_trial(lock=True)
        if any(level.code == code for level in trial.dose_levels):
            raise Conflict(taken, dose_level=code)
        level = DoseLevel(
            trial=trial,
            code=code,
            phase=phase,
            basis=DoseBasis(basis),
            dose_cells=float(dose_cells),
            tolerance_pct=float(tolerance_pct),
            status=DoseLevelStatus.OPEN,
        )
        db.session.add(level)
    return level


def set_dose_level_status(user: User, code: str, status: str, reason: str) -> DoseLevel:
    """Open, close or recommend a dose level.

    At most one level is recommended: the one phase 2 treats at. Declaring another while one
    is recommended is refused (say which first stops being recommended), and the recommended
    level keeps that status while phase 2 recipients on the study are on it.
    """
    authorise(user.role, UseCase.CONFIGURE_TRIAL, "change dose levels")
    reason = require_reason(reason, "change a dose level")
    if status not in {s.value for s in DoseLevelStatus}:
        raise ValidationFailed(
            "A dose level is 'open', 'closed' or 'recommended'.", field="status", status=status
        )
    with write(user, reason, RACE):
        trial = current_trial(lock=True)
        level = dose_level_by_code(trial, code)
        target = DoseLevelStatus(status)
        if level.status is target:
            raise ValidationFailed(
                f"Dose level {level.code} is already {target.value}; nothing was changed.",
                dose_level=level.code,
            )
        _check_recommendation(trial, level, target)
        level.status = target
    return level


def _check_recommendation(trial: Trial, level: DoseLevel, target: DoseLevelStatus) -> None:
    current = recommended_level(trial)
    if target is DoseLevelStatus.RECOMMENDED and current is not None:
        raise IllegalTransition(
            f"Dose level {current.code} is already the recommended dose; only one can be. "
            f"Set {current.code} to open or closed first, then recommend {level.code}.",
            dose_level=level.code,
            recommended=current.code,
        )
    if level.status is DoseLevelStatus.RECOMMENDED:
        on_it = _phase2_recipients_on(level)
        if on_it:
            raise IllegalTransition(
                f"Dose level {level.code} is the recommended dose and {on_it} phase 2 "
                f"recipient{'s are' if on_it != 1 else ' is'} on the study at it; it cannot be "
                f"made {target.value}. Phase 2 recipients are treated at the recommended dose.",
                dose_level=level.code,
                phase2_recipients=on_it,
            )


def _phase2_recipients_on(level: DoseLevel) -> int:
    return db.session.scalar(
        select(func.count(Recipient.id)).where(
            Recipient.dose_level_id == level.id,
            Recipient.phase == 2,
            Recipient.status.notin_(sorted(schedule.FINAL_STATUSES)),
        )
    )


def _check_post_thaw(minutes) -> None:
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise ValidationFailed("The post-thaw window is a whole number of minutes.")
    if not 1 <= minutes <= MAX_POST_THAW_MINUTES:
        raise ValidationFailed(
            "The post-thaw window is the product's setting in minutes, from 1 to "
            f"{MAX_POST_THAW_MINUTES} (approved CAR products allow 30 min to 3 h).",
            field="post_thaw_minutes",
        )


def _text(value: str, field: str, limit: int, what: str) -> str:
    value = " ".join((value or "").split())
    if not value or len(value) > limit:
        raise ValidationFailed(f"Give {what} (1 to {limit} characters).", field=field)
    return value
