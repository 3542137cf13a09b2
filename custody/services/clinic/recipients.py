"""Recipients: registration, weight, status, dose level, the investigator's orders, discharge,
transplant, and the wristband a recipient wears.

Each change is one transaction with the recipient's row locked (SELECT … FOR UPDATE on
PostgreSQL; SQLite serialises writers), so two nurses acting on one recipient at once cannot
both win, and the audit listener records old and new values with the reason. Statuses move
only along the table in custody.domain.schedule; INFUSED comes from the infusion record alone.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from custody.domain import schedule
from custody.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from custody.domain.permissions import UseCase, authorise
from custody.domain.wristband import check_patient_number, wristband_data
from custody.extensions import db
from custody.models import (
    Allocation,
    Bag,
    FollowUpSample,
    Infusion,
    Recipient,
    RecipientStatus,
    User,
)
from custody.services.clinic.recipient_checks import (
    check_after_day0,
    check_birth_date,
    check_weight,
    clean_text,
    level_for,
    require_dose_level,
    site_today,
)
from custody.services.clinic.trial import (
    current_trial,
    require_reason,
)
from custody.services.core.facility import site_zone
from custody.services.core.transactions import write

POST_TRANSPLANT_KIND = "post_transplant_blood"
_SUBJECT_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
RACE = (
    "Someone else changed this recipient at the same moment and was saved first. Nothing of "
    "yours was saved: open the recipient again, then repeat if still needed."
)


@dataclass(frozen=True)
class RecipientRequest:
    subject_id: str
    hospital_record_number: str
    name: str
    birth_date: date
    weight_kg: float
    weight_measured_on: date
    site: str
    phase: int
    dose_level: str | None = None


# --- reading --------------------------------------------------------------------------------


def recipient_by_subject_id(subject_id: str, lock: bool = False) -> Recipient:
    """The recipient with this subject ID; with `lock`, its row is locked for the transaction."""
    wanted = (subject_id or "").strip().upper()
    query = select(Recipient).where(Recipient.subject_id == wanted)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    recipient = db.session.scalar(query)
    if recipient is None:
        raise NotFound(
            f"No recipient with subject ID {wanted!r} is registered. Check the subject ID on "
            "the recipient's wristband or enrolment form.",
            subject_id=wanted,
        )
    return recipient


def list_recipients(
    status: str | None = None, site: str | None = None, limit: int = 100, offset: int = 0
) -> list[Recipient]:
    query = (
        select(Recipient)
        .options(joinedload(Recipient.dose_level))
        .order_by(Recipient.subject_id)
        .limit(limit)
        .offset(offset)
    )
    if status:
        if status not in schedule.STATUSES:
            raise ValidationFailed(
                f"A recipient status is one of: {', '.join(schedule.STATUSES)}.", field="status"
            )
        query = query.where(Recipient.status == status)
    if site:
        query = query.where(Recipient.site == site.strip())
    return list(db.session.scalars(query))


def wristband(subject_id: str) -> str:
    """The data the recipient's wristband barcode carries: record number and date of birth."""
    recipient = recipient_by_subject_id(subject_id)
    return wristband_data(recipient.hospital_record_number, recipient.birth_date)


# --- registration and measurements ----------------------------------------------------------


def register_recipient(user: User, request: RecipientRequest) -> Recipient:
    """A recipient in screening, at the dose level their phase calls for."""
    authorise(user.role, UseCase.REGISTER_RECIPIENT, "register recipients")
    subject_id = (request.subject_id or "").strip().upper()
    if not _SUBJECT_ID.match(subject_id):
        raise ValidationFailed(
            "A subject ID is 1-32 letters, digits and hyphens (e.g. CAR33-001-01).",
            field="subject_id",
        )
    number = check_patient_number(request.hospital_record_number or "")
    if len(number) > 32:
        raise ValidationFailed(
            "The hospital record number is longer than 32 characters; check it.",
            field="hospital_record_number",
        )
    name = clean_text(request.name, "name", 200, "the recipient's full name")
    site = clean_text(request.site, "site", 100, "the treating site")
    check_birth_date(request.birth_date)
    check_weight(request.weight_kg, request.weight_measured_on, request.birth_date)
    taken = f"Subject ID {subject_id} is already registered. Use that record, or check the ID."
    with write(user, "recipient registered", taken, subject_id=subject_id):
        # Locked: phase and dose-level changes wait for this registration, and it for them.
        trial = current_trial(lock=True)
        if db.session.scalar(select(Recipient.id).where(Recipient.subject_id == subject_id)):
            raise Conflict(taken, subject_id=subject_id)
        phase = request.phase
        level = level_for(trial, phase, request.dose_level)
        recipient = Recipient(
            subject_id=subject_id,
            hospital_record_number=number,
            name=name,
            birth_date=request.birth_date,
            weight_kg=float(request.weight_kg),
            weight_measured_on=request.weight_measured_on,
            site=site,
            phase=phase,
            dose_level=level,
            status=RecipientStatus.SCREENING,
        )
        db.session.add(recipient)
    return recipient


def record_weight(
    user: User, subject_id: str, weight_kg: float, measured_on: date, reason: str
) -> Recipient:
    """A new weight; per-kg doses and the residual CD3+ limit are checked against it."""
    authorise(user.role, UseCase.UPDATE_RECIPIENT, "record a recipient's weight")
    reason = require_reason(reason, "record a new weight")
    with write(user, reason, RACE, subject_id=subject_id):
        recipient = _on_study(subject_id, "record a weight")
        check_weight(weight_kg, measured_on, recipient.birth_date)
        if measured_on < recipient.weight_measured_on:
            raise ValidationFailed(
                f"A newer weight ({recipient.weight_kg:g} kg on "
                f"{recipient.weight_measured_on.isoformat()}) is already recorded; enter the "
                "latest measurement.",
                field="measured_on",
            )
        recipient.weight_kg = float(weight_kg)
        recipient.weight_measured_on = measured_on
    return recipient


# --- status ---------------------------------------------------------------------------------


def change_status(
    user: User, subject_id: str, status: str, reason: str, on: date | None = None
) -> Recipient:
    """Move the recipient along the status table; `on` is the day it happened (default today)."""
    authorise(user.role, UseCase.UPDATE_RECIPIENT, "change a recipient's status")
    reason = require_reason(reason, "change the recipient's status")
    on = on or site_today()
    with write(user, reason, RACE, subject_id=subject_id):
        recipient = recipient_by_subject_id(subject_id, lock=True)
        registered = recipient.created_at.astimezone(site_zone()).date()
        if not registered <= on <= site_today():
            raise ValidationFailed(
                f"The date of the change, {on.isoformat()}, must be between the recipient's "
                f"registration ({registered.isoformat()}) and today.",
                field="on",
            )
        target = schedule.plan_status_change(recipient.status.value, status)
        if target in (RecipientStatus.ENROLLED, RecipientStatus.LYMPHODEPLETION):
            require_dose_level(recipient, target)
        recipient.status = RecipientStatus(target)
        recipient.status_reason = f"{on.isoformat()}: {reason}"[:500]
    return recipient


def assign_dose_level(user: User, subject_id: str, code: str, reason: str) -> Recipient:
    """Change the dose level, only before infusion 1 and with no bag allocated at the old one."""
    authorise(user.role, UseCase.UPDATE_RECIPIENT, "assign dose levels")
    reason = require_reason(reason, "assign a dose level")
    with write(user, reason, RACE, subject_id=subject_id):
        trial = current_trial(lock=True)
        recipient = _on_study(subject_id, "be assigned a dose level")
        if recipient.day0 is not None or _infusion_numbers(recipient):
            raise IllegalTransition(
                f"Recipient {recipient.subject_id} has had infusion 1; the dose level is "
                "fixed once the first infusion is given.",
                subject_id=recipient.subject_id,
            )
        level = level_for(trial, recipient.phase, code)
        if level.id == recipient.dose_level_id:
            raise ValidationFailed(
                f"Recipient {recipient.subject_id} is already at {level.code}; nothing changed.",
                dose_level=level.code,
            )
        bags = _active_allocated_bags(recipient)
        if bags:
            raise IllegalTransition(
                f"Bag(s) {', '.join(bags)} are allocated to {recipient.subject_id} at the "
                "current dose level. De-allocate them first, then change the dose level and "
                "allocate bags for the new one.",
                bags=bags,
            )
        recipient.dose_level = level
    return recipient


# --- the investigator's orders and clinical events -------------------------------------------


def order_second_infusion(user: User, subject_id: str, ordered: bool, reason: str) -> Recipient:
    """Record the investigator's decision on infusion 2 (day 7), after infusion 1 and by day 7."""
    authorise(user.role, UseCase.UPDATE_RECIPIENT, "record the order for a second infusion")
    reason = require_reason(reason, "record the investigator's decision")
    with write(user, reason, RACE, subject_id=subject_id):
        recipient = _on_study(subject_id, "have a second infusion ordered")
        if recipient.day0 is None:
            raise IllegalTransition(
                "Infusion 2 is decided after infusion 1, and no first infusion is recorded for "
                f"{recipient.subject_id} yet.",
                subject_id=recipient.subject_id,
            )
        last_day = recipient.day0 + timedelta(schedule.INFUSION_2_DAY)
        if site_today() > last_day:
            raise IllegalTransition(
                f"Infusion 2 is given on day {schedule.INFUSION_2_DAY} ({last_day.isoformat()}), "
                "which has passed; the order can no longer be changed.",
                day7=last_day.isoformat(),
            )
        if 2 in _infusion_numbers(recipient):
            raise IllegalTransition(
                f"Infusion 2 has already been given to {recipient.subject_id}.",
                subject_id=recipient.subject_id,
            )
        if recipient.second_infusion_ordered == ordered:
            state = "ordered" if ordered else "not ordered"
            raise ValidationFailed(f"Infusion 2 is already {state}; nothing was changed.")
        bags = _active_allocated_bags(recipient, number=2)
        if not ordered and bags:
            raise IllegalTransition(
                f"Bag(s) {', '.join(bags)} are allocated for infusion 2. De-allocate them first, "
                "then cancel the order.",
                bags=bags,
            )
        recipient.second_infusion_ordered = ordered
    return recipient


def record_discharge(user: User, subject_id: str, on: date) -> Recipient:
    """The day the recipient left hospital; weekly clinic visits follow if before day 35."""
    authorise(user.role, UseCase.UPDATE_RECIPIENT, "record a discharge")
    with write(user, "discharge recorded", RACE, subject_id=subject_id):
        recipient = _on_study(subject_id, "be discharged")
        check_after_day0(recipient, on, "discharge")
        recipient.discharged_on = on
    return recipient


def record_transplant(user: User, subject_id: str, on: date, reason: str) -> FollowUpSample:
    """A bone-marrow transplant: one blood sample is due about a month later, then off study."""
    authorise(user.role, UseCase.UPDATE_RECIPIENT, "record a transplant")
    reason = require_reason(reason, "record the transplant")
    with write(user, reason, RACE, subject_id=subject_id):
        recipient = _on_study(subject_id, "have a transplant recorded")
        if recipient.transplant_on is not None:
            raise IllegalTransition(
                f"A transplant on {recipient.transplant_on.isoformat()} is already recorded for "
                f"{recipient.subject_id}.",
                transplant_on=recipient.transplant_on.isoformat(),
            )
        check_after_day0(recipient, on, "transplant")
        recipient.transplant_on = on
        sample = FollowUpSample(
            code=f"SMP-{secrets.token_hex(4).upper()}",
            recipient=recipient,
            kind=POST_TRANSPLANT_KIND,
            due_on=on + timedelta(schedule.POST_TRANSPLANT_SAMPLE_DAYS),
        )
        db.session.add(sample)
    return sample


# --- helpers --------------------------------------------------------------------------------


def _on_study(subject_id: str, doing: str) -> Recipient:
    recipient = recipient_by_subject_id(subject_id, lock=True)
    if recipient.status.value in schedule.FINAL_STATUSES:
        raise IllegalTransition(
            f"Recipient {recipient.subject_id} is {recipient.status.value.replace('_', ' ')} "
            f"and no longer on the study: they cannot {doing}.",
            current_status=recipient.status.value,
        )
    return recipient


def _infusion_numbers(recipient: Recipient) -> set[int]:
    return set(
        db.session.scalars(
            select(Infusion.infusion_number).where(Infusion.recipient_id == recipient.id)
        )
    )


def _active_allocated_bags(recipient: Recipient, number: int | None = None) -> list[str]:
    query = (
        select(Bag.code)
        .join(Allocation, Allocation.bag_id == Bag.id)
        .where(Allocation.recipient_id == recipient.id, Allocation.active)
        .order_by(Bag.code)
    )
    if number is not None:
        query = query.where(Allocation.infusion_number == number)
    return list(db.session.scalars(query))
