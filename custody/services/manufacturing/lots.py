"""Manufacturing lots made from received collections, and each lot's batch record.

Genealogy is kept as data: a lot's donations (Lot.donations); the bags filled from a lot and
divided further are custody.services.manufacturing.divisions. Every write to a lot, or to its bags,
locks the lot first (`locked_lot`), so two people recording steps in the same lot at once
take distinct batch-step numbers; the unique constraints stay as the last line of defence
and a race that reaches them is a Conflict, not a crash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text

from custody.domain import isbt128
from custody.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from custody.extensions import db
from custody.models import (
    BatchMaterial,
    BatchStep,
    Disposition,
    Donation,
    Lot,
    MaterialKind,
    User,
    lot_donations,
)
from custody.models.accounts import Role
from custody.models.base import utcnow
from custody.services.collection.donations import CLOCK_SKEW, din_from
from custody.services.core.identifiers import take_dins
from custody.services.core.transactions import write
from custody.services.quality.specifications import current_specification

COLLECTION_TYPE = "V"  # volunteer allogeneic donation (ISBT 128 collection type)
MAX_DONATIONS = 20
_LOT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
# PostgreSQL advisory lock key serialising generated lot numbers (SQLite writers are serial).
_LOT_NUMBER_LOCK = 0x4C4F54  # "LOT"
OPERATOR_ROLES = frozenset({Role.TECHNICIAN, Role.ADMIN})


# --- lots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LotRequest:
    donations: Sequence[str]
    product_description_code: str
    lot_number: str | None = None
    manufactured_at: datetime | None = None
    expires_at: datetime | None = None


def create_lot(user: User, request: LotRequest, fin: str) -> Lot:
    """A lot from one or more received collections, none already in another lot.

    A single-donation lot carries its donation's DIN; a pooled lot gets a new DIN, so each
    product identity names exactly one lot.
    """
    dins = _distinct_dins(request.donations)
    pdc = _product_description_code(request.product_description_code)
    if request.expires_at is not None and request.expires_at <= utcnow():
        raise ValidationFailed("The lot's expiry is already past.", field="expires_at")
    if request.manufactured_at is not None and request.manufactured_at > utcnow() + CLOCK_SKEW:
        raise ValidationFailed("The manufacturing date is in the future.", field="manufactured_at")
    race = "Another lot took this lot number or these collections at the same moment; look again."
    with write(user, "manufacturing lot created", race):
        donations = _usable_donations(dins)
        lot = Lot(
            lot_number=_lot_number(request.lot_number),
            din=donations[0].din if len(donations) == 1 else take_dins(fin, None, 1)[0],
            product_description_code=pdc,
            specification=current_specification(pdc),
            manufactured_at=request.manufactured_at,
            expires_at=request.expires_at,
        )
        lot.donations.extend(donations)
        db.session.add(lot)
    return lot


def _distinct_dins(raw: Sequence[str]) -> list[str]:
    if not raw:
        raise ValidationFailed("Name at least one collection (its DIN).", field="donations")
    if len(raw) > MAX_DONATIONS:
        raise ValidationFailed(
            f"A lot pools at most {MAX_DONATIONS} collections.", field="donations"
        )
    dins = [din_from(d, field="donations") for d in raw]
    twice = sorted({d for d in dins if dins.count(d) > 1})
    if twice:
        raise ValidationFailed(
            f"DIN {', '.join(twice)} is listed twice; name each collection once.",
            field="donations",
        )
    return dins


def _usable_donations(dins: list[str]) -> list[Donation]:
    """The donations, locked, each received at the lab and in no other lot."""
    found = db.session.scalars(
        select(Donation)
        .where(Donation.din.in_(dins))
        .order_by(Donation.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    by_din = {d.din: d for d in found}
    unknown = [d for d in dins if d not in by_din]
    if unknown:
        raise NotFound(
            f"No collection with DIN {', '.join(unknown)} is recorded here.", dins=unknown
        )
    not_received = [d for d in dins if by_din[d].received_at is None]
    if not_received:
        raise IllegalTransition(
            f"Collection {', '.join(not_received)} has not been received at the cell lab: "
            "scan it in at receipt (condition and temperature) before it goes into a lot.",
            dins=not_received,
            current_state="collected",
        )
    taken = db.session.execute(
        select(Donation.din, Lot.lot_number)
        .join(lot_donations, lot_donations.c.donation_id == Donation.id)
        .join(Lot, Lot.id == lot_donations.c.lot_id)
        .where(Donation.din.in_(dins))
    ).all()
    if taken:
        words = "; ".join(f"{din} is in lot {lot}" for din, lot in taken)
        raise Conflict(
            f"A collection goes into one lot only: {words}.",
            lots={din: lot for din, lot in taken},
        )
    return [by_din[d] for d in dins]


def _lot_number(requested: str | None) -> str:
    if requested:
        number = requested.strip().upper()
        if not _LOT_NUMBER.match(number):
            raise ValidationFailed(
                "A lot number is 1 to 32 letters, digits or dashes (e.g. L26-0042).",
                field="lot_number",
            )
        if db.session.scalar(select(Lot.id).where(Lot.lot_number == number)):
            raise Conflict(f"Lot {number} already exists; choose another number.", lot=number)
        return number
    return _next_lot_number()


def _next_lot_number() -> str:
    """L<yy>-<nnnn>: the next free number of this year."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOT_NUMBER_LOCK})
    prefix = f"L{utcnow().year % 100:02d}-"
    numbers = db.session.scalars(
        select(Lot.lot_number).where(
            Lot.lot_number.like(f"{prefix}%"), func.length(Lot.lot_number) == len(prefix) + 4
        )
    ).all()
    used = [int(n[len(prefix) :]) for n in numbers if n[len(prefix) :].isdigit()]
    following = max(used, default=0) + 1
    if following > 9999:
        raise ValidationFailed("This year's generated lot numbers are used up; give one.")
    return f"{prefix}{following:04d}"


def _product_description_code(pdc: str) -> str:
    pdc = pdc.strip().upper()
    if len(pdc) != 5:
        raise ValidationFailed(
            "A product description code has 5 characters (e.g. D0001).",
            field="product_description_code",
        )
    isbt128.encode_product_code(f"{pdc}{COLLECTION_TYPE}A0")  # says what is wrong, if anything
    return pdc


def locked_lot(lot_number: str) -> Lot:
    """The lot, row-locked: every write to a lot or its bags takes this lock first."""
    lot = db.session.scalar(
        select(Lot)
        .where(Lot.lot_number == lot_number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    return lot


def in_quarantine(lot: Lot, doing: str) -> None:
    """Refuse `doing` once QA has given the lot its disposition."""
    if lot.disposition is not Disposition.QUARANTINE:
        raise IllegalTransition(
            f"Lot {lot.lot_number} is {lot.disposition.value.replace('_', ' ')}: {doing} only "
            "while the lot is in quarantine, before QA's disposition.",
            lot=lot.lot_number,
            lot_disposition=lot.disposition.value,
        )


# --- batch record --------------------------------------------------------------------------


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
    if operator.role not in OPERATOR_ROLES:
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
