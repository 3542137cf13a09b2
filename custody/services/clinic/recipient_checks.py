"""The checks a recipient's data must pass before it is written, in words a nurse can act on.

Kept apart from custody.services.clinic.recipients (the use cases) so that each stays small: the
dose level a recipient's phase calls for, plausible dates and weights, and dates that must fall
after day 0. Nothing here writes.
"""

from __future__ import annotations

import math
from datetime import date

from custody.domain.dosing import MAX_WEIGHT_KG, MIN_WEIGHT_KG
from custody.domain.errors import IllegalTransition, ValidationFailed
from custody.models import DoseLevel, DoseLevelStatus, Recipient, Trial
from custody.models.base import utcnow
from custody.services.clinic.trial import dose_level_by_code, recommended_level
from custody.services.core.facility import site_zone


def site_today() -> date:
    """Today on the site's wall clock: a date a nurse writes is a local date."""
    return utcnow().astimezone(site_zone()).date()


def level_for(trial: Trial, phase: int, code: str | None) -> DoseLevel:
    """Phase 1: the named level, which must be open. Phase 2: the recommended level."""
    if phase not in (1, 2):
        raise ValidationFailed("A recipient is in phase 1 or 2.", field="phase")
    if phase != trial.current_phase:
        raise IllegalTransition(
            f"The trial is enrolling in phase {trial.current_phase}, not phase {phase}.",
            current_phase=trial.current_phase,
        )
    if phase == 2:
        level = recommended_level(trial)
        if level is None:
            raise IllegalTransition(
                "Phase 2 treats at the recommended dose, and no dose level is recommended. An "
                "administrator declares it first.",
                field="dose_level",
            )
        if code and code.strip().upper() != level.code:
            raise ValidationFailed(
                f"Phase 2 recipients are treated at the recommended dose, {level.code}, not "
                f"{code.strip().upper()}. Leave the dose level out or give {level.code}.",
                field="dose_level",
                recommended=level.code,
            )
        return level
    if not code:
        raise ValidationFailed(
            "Name the open dose level for this phase 1 recipient (e.g. DL2).", field="dose_level"
        )
    level = dose_level_by_code(trial, code)
    if level.status is not DoseLevelStatus.OPEN:
        open_codes = [lv.code for lv in trial.dose_levels if lv.status is DoseLevelStatus.OPEN]
        raise IllegalTransition(
            f"Dose level {level.code} is {level.status.value}; phase 1 recipients are assigned "
            f"to an open level (open now: {', '.join(open_codes) or 'none'}).",
            dose_level=level.code,
            open=open_codes,
        )
    return level


def require_dose_level(recipient: Recipient, target: str) -> None:
    if recipient.dose_level_id is None:
        raise IllegalTransition(
            f"Recipient {recipient.subject_id} has no dose level; assign one before the status "
            f"becomes {target}.",
            subject_id=recipient.subject_id,
        )


def check_birth_date(born: date) -> None:
    if not date(1900, 1, 1) <= born <= site_today():
        raise ValidationFailed(
            f"The date of birth {born.isoformat()} is not possible; check it against the "
            "recipient's hospital record.",
            field="birth_date",
        )


def check_weight(weight_kg: float, measured_on: date, born: date) -> None:
    if not (isinstance(weight_kg, int | float) and math.isfinite(weight_kg)) or not (
        MIN_WEIGHT_KG <= weight_kg <= MAX_WEIGHT_KG
    ):
        raise ValidationFailed(
            f"The weight is in kilograms, from {MIN_WEIGHT_KG:g} to {MAX_WEIGHT_KG:g}; check the "
            "measurement and its unit.",
            field="weight_kg",
        )
    if measured_on > site_today() or measured_on < born:
        raise ValidationFailed(
            f"The weight's date {measured_on.isoformat()} is in the future or before birth; "
            "give the day it was measured.",
            field="weight_measured_on",
        )


def check_after_day0(recipient: Recipient, on: date, what: str) -> None:
    if recipient.day0 is None:
        raise IllegalTransition(
            f"No infusion is recorded for {recipient.subject_id} yet; a {what} is recorded after "
            "infusion 1 (day 0).",
            subject_id=recipient.subject_id,
        )
    if on > site_today() or on < recipient.day0:
        raise ValidationFailed(
            f"The {what} date {on.isoformat()} must be between day 0 "
            f"({recipient.day0.isoformat()}) and today.",
            field="on",
        )


def clean_text(value: str, field: str, limit: int, what: str) -> str:
    value = " ".join((value or "").split())
    if not value or len(value) > limit:
        raise ValidationFailed(f"Give {what} (1 to {limit} characters).", field=field)
    return value
