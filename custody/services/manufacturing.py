"""Manufacturing: lots made from received collections, the batch record, and the bags filled.

Genealogy is kept as data: a lot's donations (Lot.donations), each bag's lot and, for a bag
divided further, its parent (Bag.parent). Every write locks the lot first, so two people
filling or dividing in the same lot at once take distinct divisions and batch-step numbers;
the unique constraints on bag identity and step number stay as the last line of defence and
a race that reaches them is a Conflict, not a crash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text

from custody.domain import bag_lifecycle, isbt128
from custody.domain.errors import Conflict, IllegalTransition, NotFound, ValidationFailed
from custody.domain.scan_targets import bag_code
from custody.extensions import db
from custody.models import (
    Bag,
    BagStatus,
    BatchMaterial,
    BatchStep,
    CustodyEvent,
    Disposition,
    Donation,
    DoseLevel,
    Lot,
    MaterialKind,
    User,
    lot_donations,
)
from custody.models.accounts import Role
from custody.models.base import utcnow
from custody.services.bag_lookup import situation
from custody.services.collections import CELL_LAB, CLOCK_SKEW, din_from, write
from custody.services.identifiers import take_dins

COLLECTION_TYPE = "V"  # volunteer allogeneic donation (ISBT 128 collection type)
FIRST_LEVEL = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SECOND_LEVEL = FIRST_LEVEL.lower()
MAX_DONATIONS = 20
_LOT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,31}$")
# PostgreSQL advisory lock key serialising generated lot numbers (SQLite writers are serial).
_LOT_NUMBER_LOCK = 0x4C4F54  # "LOT"
# A bag may be divided only before release, out of storage.
DIVISIBLE = frozenset({BagStatus.FILLED, BagStatus.QUARANTINED, BagStatus.STORED})
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


def _locked_lot(lot_number: str) -> Lot:
    lot = db.session.scalar(
        select(Lot)
        .where(Lot.lot_number == lot_number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if lot is None:
        raise NotFound(f"No lot {lot_number} is known here.", lot=lot_number)
    return lot


def _in_quarantine(lot: Lot, doing: str) -> None:
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
        lot = _locked_lot(lot_number)
        _in_quarantine(lot, "the batch record can be added to")
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


# --- bags ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BagSpec:
    volume_ml: float
    total_cells: float
    viable_car_nk_cells: float
    dose_level: str | None = None
    expires_at: datetime | None = None


def fill_bags(user: User, lot_number: str, specs: Sequence[BagSpec]) -> list[Bag]:
    """Fill final product into bags, each with its own identity: the lot's DIN and a product
    code whose division is the next free first-level letter (A0, B0, ...). A filled bag is
    `filled`; the 'quarantine' scan then takes it into quarantine."""
    if not specs:
        raise ValidationFailed("Fill at least one bag.", field="bags")
    race = "Someone filled bags into this lot at the same moment; nothing was saved. Fill again."
    with write(user, "bags filled", race):
        lot = _locked_lot(lot_number)
        _in_quarantine(lot, "bags can be filled")
        letters = _free_first_level(lot, len(specs))
        now = utcnow()
        pairs = zip(specs, letters, strict=True)
        bags = [_filled_bag(user, lot, spec, letter, now) for spec, letter in pairs]
        if lot.manufactured_at is None:
            lot.manufactured_at = now
    return bags


def _free_first_level(lot: Lot, count: int) -> str:
    used = {b.product_code[6] for b in lot.bags if b.product_code[6] in FIRST_LEVEL}
    start = max((FIRST_LEVEL.index(c) + 1 for c in used), default=0)
    letters = FIRST_LEVEL[start : start + count]
    if len(letters) < count:
        raise ValidationFailed(
            f"Lot {lot.lot_number} has room for {len(letters)} more first-level divisions "
            f"(A0 to Z0), not {count}.",
            lot=lot.lot_number,
            free=len(letters),
        )
    return letters


def _filled_bag(user: User, lot: Lot, spec: BagSpec, letter: str, now: datetime) -> Bag:
    _check_cells(spec.volume_ml, spec.total_cells, spec.viable_car_nk_cells)
    product_code = f"{lot.product_description_code}{COLLECTION_TYPE}{letter}0"
    isbt128.encode_product_code(product_code)
    bag = Bag(
        code=bag_code(lot.din, product_code),
        din=lot.din,
        product_code=product_code,
        volume_ml=spec.volume_ml,
        total_cells=spec.total_cells,
        viable_car_nk_cells=spec.viable_car_nk_cells,
        dose_level=_dose_level(spec.dose_level),
        expires_at=_expiry(lot, spec.expires_at, now),
        status=BagStatus.FILLED,
    )
    lot.bags.append(bag)
    db.session.add(_event(bag, user, "fill", None, BagStatus.FILLED, now, f"lot {lot.lot_number}"))
    return bag


def _check_cells(volume_ml: float, total_cells: float, viable_car_nk: float) -> None:
    if volume_ml <= 0 or total_cells <= 0 or viable_car_nk <= 0:
        raise ValidationFailed("Volume and cell counts of a bag must be above 0.", field="bags")
    if viable_car_nk > total_cells:
        raise ValidationFailed(
            "The viable CAR+ NK cells cannot exceed the total cells of the bag.", field="bags"
        )


def _dose_level(code: str | None) -> DoseLevel | None:
    if not code:
        return None
    levels = db.session.scalars(select(DoseLevel).where(DoseLevel.code == code)).all()
    if len(levels) == 1:
        return levels[0]
    if levels:
        raise ValidationFailed(f"Dose level {code} exists in several trials.", dose_level=code)
    known = db.session.scalars(select(DoseLevel.code).order_by(DoseLevel.code)).all()
    raise ValidationFailed(
        f"No dose level {code!r}. Known dose levels: {', '.join(known) or 'none'}.",
        field="dose_level",
    )


def _expiry(lot: Lot, expires_at: datetime | None, now: datetime) -> datetime:
    expiry = expires_at or lot.expires_at
    if expiry is None:
        raise ValidationFailed(
            "Give the bags' expiry (or the lot's): a label cannot be printed without it.",
            field="expires_at",
        )
    if expiry <= now:
        raise ValidationFailed("The expiry is already past.", field="expires_at")
    if lot.expires_at is not None and expiry > lot.expires_at:
        raise ValidationFailed(
            f"A bag cannot expire after its lot ({lot.expires_at:%Y-%m-%d %H:%M} UTC).",
            field="expires_at",
        )
    isbt128.encode_expiry(expiry)
    return expiry


def _event(bag, user, action, before, after, when, notes, reason="") -> CustodyEvent:
    return CustodyEvent(
        bag=bag,
        action=action,
        from_status=before.value if before else None,
        to_status=after.value,
        occurred_at=when,
        actor_id=user.id,
        to_party=CELL_LAB,
        notes=f"{notes}{'; ' + reason if reason else ''}",
    )


# --- divisions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitRequest:
    parts: int | None = None
    volumes_ml: Sequence[float] | None = None
    reason: str = ""


def split_bag(user: User, lot_number: str, code: str, request: SplitRequest) -> list[Bag]:
    """Divide a first-level bag (D0001VA0) into second-level ones (D0001VAa, D0001VAb, ...).

    Cells are shared in proportion to volume; the children keep the parent's state, dose
    level and expiry; the parent is discarded with the reason "divided into ...".
    """
    race = "Someone changed this bag at the same moment; nothing was saved. Look at it again."
    with write(user, "bag divided", race):
        lot = _locked_lot(lot_number)
        parent = _lot_bag(lot, code)
        _check_divisible(lot, parent)
        volumes = _child_volumes(parent, request)
        now = utcnow()
        children = [_child(user, parent, i, v, now) for i, v in enumerate(volumes)]
        names = ", ".join(c.product_code for c in children)
        db.session.add(
            _event(
                parent,
                user,
                "discard",
                parent.status,
                BagStatus.DISCARDED,
                now,
                f"divided into {names}",
                request.reason.strip(),
            )
        )
        parent.status = BagStatus.DISCARDED
    return children


def _lot_bag(lot: Lot, code: str) -> Bag:
    wanted = code.strip()
    full = wanted if "-" in wanted else bag_code(lot.din, wanted)
    bag = db.session.scalar(
        select(Bag)
        .where(Bag.code == full, Bag.lot_id == lot.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if bag is None:
        raise NotFound(f"Lot {lot.lot_number} has no bag {wanted}.", lot=lot.lot_number, bag=wanted)
    return bag


def _check_divisible(lot: Lot, bag: Bag) -> None:
    _in_quarantine(lot, "bags can be divided")
    allowed = bag_lifecycle.allowed_actions(situation(bag))
    if bag.status not in DIVISIBLE:
        raise IllegalTransition(
            f"Bag {bag.code} is {bag.status.value.upper()}: it cannot be divided, because only "
            "a bag that is filled, quarantined or stored (and out of storage), before release, "
            f"can be. Allowed now: {', '.join(allowed) or 'nothing'}.",
            current_state=bag.status.value,
            allowed_actions=allowed,
            bag=bag.code,
        )
    if bag.storage_position is not None:
        raise IllegalTransition(
            f"Bag {bag.code} is in storage position {bag.storage_position.code}: retrieve it "
            "from storage (scan 'retrieve') before dividing it.",
            current_state=bag.status.value,
            allowed_actions=allowed,
            bag=bag.code,
        )
    if bag.division[0] not in FIRST_LEVEL or bag.division[1] != "0":
        raise IllegalTransition(
            f"Bag {bag.code} (division {bag.division}) is not a first-level division: only a "
            "bag like ...A0 can be divided here into ...Aa, ...Ab.",
            current_state=bag.status.value,
            bag=bag.code,
        )


def _child_volumes(parent: Bag, request: SplitRequest) -> list[float]:
    if (request.parts is None) == (request.volumes_ml is None):
        raise ValidationFailed(
            "Say how to divide: either 'parts' (equal shares) or 'volumes_ml' (one per bag).",
            field="parts",
        )
    if request.volumes_ml is None:
        volumes = [parent.volume_ml / request.parts] * request.parts
    else:
        volumes = list(request.volumes_ml)
    if not 2 <= len(volumes) <= len(SECOND_LEVEL):
        raise ValidationFailed(
            f"A bag divides into 2 to {len(SECOND_LEVEL)} bags.", field="volumes_ml"
        )
    if any(v <= 0 for v in volumes) or sum(volumes) > parent.volume_ml * (1 + 1e-9):
        raise ValidationFailed(
            f"Each share must be above 0 mL and together at most the bag's "
            f"{parent.volume_ml:g} mL.",
            field="volumes_ml",
        )
    return volumes


def _child(user: User, parent: Bag, index: int, volume_ml: float, now: datetime) -> Bag:
    share = volume_ml / parent.volume_ml
    product_code = parent.product_code[:7] + SECOND_LEVEL[index]
    child = Bag(
        code=bag_code(parent.din, product_code),
        din=parent.din,
        product_code=product_code,
        volume_ml=volume_ml,
        total_cells=parent.total_cells * share,
        viable_car_nk_cells=parent.viable_car_nk_cells * share,
        dose_level_id=parent.dose_level_id,
        expires_at=parent.expires_at,
        status=parent.status,
        parent=parent,
    )
    parent.lot.bags.append(child)
    db.session.add(
        _event(child, user, "divide", None, parent.status, now, f"divided from {parent.code}")
    )
    return child


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
