"""The batch record of a lot: each manufacturing step as performed, with its materials and
any deviation (with its reason), numbered in the order recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from custody.domain.errors import ValidationFailed
from custody.domain.permissions import UseCase, allows
from custody.extensions import db
from custody.models import BatchMaterial, BatchStep, MaterialKind, User
from custody.models.base import utcnow
from custody.services.bags.lookup import locked_lot
from custody.services.collection.donations import CLOCK_SKEW
from custody.services.core.transactions import write
from custody.services.manufacturing.lots import in_quarantine


@dataclass(frozen=True)
class MaterialRequest:
    kind: str
    name: str
    lot_number: str


@dataclass(frozen=True)
class StepRequest:
    step: str
    started_at: datetime
    ended_at: datetime | None = None
    operator: str | None = None
    equipment: str = ""
    observations: str = ""
    deviation: bool = False
    deviation_reason: str = ""
    materials: Sequence[MaterialRequest] = field(default_factory=tuple)


def record_step(user: User, lot_number: str, request: StepRequest) -> BatchStep:
    """One batch-record step as performed, numbered in the order recorded."""
    _check_step(request)
    race = "Someone recorded a step of this lot at the same moment; record yours again."
    with write(user, f"batch step recorded: {request.step.strip()}", race):
        lot = locked_lot(lot_number)
        in_quarantine(lot, "the batch record can be added to")
        last = db.session.scalar(select(func.max(BatchStep.sequence)).where(BatchStep.lot == lot))
        step = BatchStep(
            lot=lot,
            sequence=(last or 0) + 1,
            step=request.step.strip(),
            operator=_operator(request.operator, user),
            started_at=request.started_at,
            ended_at=request.ended_at,
            equipment=request.equipment.strip(),
            observations=request.observations.strip(),
            deviation=request.deviation,
            deviation_reason=request.deviation_reason.strip(),
        )
        for material in request.materials:
            step.materials.append(
                BatchMaterial(
                    kind=MaterialKind(material.kind),
                    name=material.name.strip(),
                    lot_number=material.lot_number.strip(),
                )
            )
        db.session.add(step)
    return step


def _check_step(request: StepRequest) -> None:
    if not request.step.strip():
        raise ValidationFailed("Name the step (e.g. 'CAR transduction').", field="step")
    now = utcnow() + CLOCK_SKEW
    if request.started_at > now:
        raise ValidationFailed("The step's start is in the future.", field="started_at")
    if request.ended_at is not None:
        if request.ended_at <= request.started_at:
            raise ValidationFailed(
                "The step's end must come after its start; check both times.", field="ended_at"
            )
        if request.ended_at > now:
            raise ValidationFailed("The step's end is in the future.", field="ended_at")
    if request.deviation and not request.deviation_reason.strip():
        raise ValidationFailed(
            "A deviation needs its reason: what differed from the procedure and why.",
            field="deviation_reason",
        )
    if request.deviation_reason.strip() and not request.deviation:
        raise ValidationFailed(
            "A deviation reason was given without 'deviation: true'. Mark the step as a "
            "deviation, or put the text in the observations.",
            field="deviation",
        )
    for material in request.materials:
        if material.kind not in {k.value for k in MaterialKind}:
            raise ValidationFailed("A material is a reagent or a vector.", field="materials")
        if not material.name.strip() or not material.lot_number.strip():
            raise ValidationFailed(
                "Each reagent or vector needs its name and lot number (for recalls).",
                field="materials",
            )


def _operator(username: str | None, recorder: User) -> User:
    if not username:
        return recorder
    operator = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if operator is None or not operator.active:
        raise ValidationFailed(
            f"No active user {username!r} can be the operator.", field="operator"
        )
    if not allows(operator.role, UseCase.PERFORM_BATCH_STEP):
        raise ValidationFailed(
            f"{operator.full_name} is {operator.role.value}; the operator of a manufacturing "
            "step is a technician (or an administrator).",
            field="operator",
        )
    return operator


def step_summary(step: BatchStep) -> dict:
    """A batch-record step as the API and the lot page show it."""
    return {
        "lot": step.lot.lot_number,
        "sequence": step.sequence,
        "step": step.step,
        "operator": step.operator.full_name,
        "operator_username": step.operator.username,
        "started_at": step.started_at,
        "ended_at": step.ended_at,
        "equipment": step.equipment,
        "observations": step.observations,
        "deviation": step.deviation,
        "deviation_reason": step.deviation_reason,
        "materials": [
            {"kind": m.kind.value, "name": m.name, "lot_number": m.lot_number}
            for m in step.materials
        ],
        "recorded_at": step.recorded_at,
    }
