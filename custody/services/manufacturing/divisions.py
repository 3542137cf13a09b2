"""Bags filled from a lot, and a filled bag divided into smaller ones: the ISBT 128 divisions.

Each bag's identity is the lot's DIN and a product code whose last two characters are its
division: filling takes the next free first-level letters (A0, B0, ...), dividing a
first-level bag gives second-level ones (Aa, Ab, ...). Genealogy is kept as data: each bag's
lot and, for a bag divided further, its parent (Bag.parent). Every write locks the lot first,
so two people filling or dividing in the same lot at once take distinct divisions; the
unique constraint on bag identity stays as the last line of defence and a race that reaches
it is a Conflict, not a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from custody.domain import bag_lifecycle, isbt128
from custody.domain.errors import IllegalTransition, NotFound, ValidationFailed
from custody.domain.scan_targets import bag_code
from custody.extensions import db
from custody.models import Bag, BagStatus, CustodyEvent, DoseLevel, Lot, User
from custody.models.base import utcnow
from custody.services.bags.lookup import locked_lot, situation
from custody.services.collection.donations import CELL_LAB
from custody.services.core.transactions import write
from custody.services.manufacturing.lots import COLLECTION_TYPE, in_quarantine

FIRST_LEVEL = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SECOND_LEVEL = FIRST_LEVEL.lower()
# A bag may be divided only before release, out of storage.
DIVISIBLE = frozenset({BagStatus.FILLED, BagStatus.QUARANTINED, BagStatus.STORED})


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
        lot = locked_lot(lot_number)
        in_quarantine(lot, "bags can be filled")
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
        lot = locked_lot(lot_number)
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
    in_quarantine(lot, "bags can be divided")
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
