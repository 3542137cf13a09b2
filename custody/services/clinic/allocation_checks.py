"""What allocation asks of each scanned bag and of its lot, before any dose is worked out.

Apart from `allocation` because these are questions about the product, not about the
recipient or the request: is the bag free, at a step of its life cycle that may go towards a
patient and made for the recipient's dose level; does QA's release of its lot still hold; what
is the lot's residual CD3+ T cell result, and what limit does its specification set per kg.
The answers come from the lot's QC record (`quality.lot_quality`) and whether its release
still holds (`quality.release_signature`), read once per lot however many of its bags are
scanned; `allocation_outcome` reads the limit again to report it, so it is public here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from custody.domain import bag_lifecycle, dosing
from custody.domain.errors import Conflict, IllegalTransition, ValidationFailed
from custody.domain.scan_targets import ScanTarget
from custody.extensions import db
from custody.models import Allocation, Bag, DoseLevel, Lot, Recipient, User
from custody.services.bags.lookup import situation
from custody.services.quality.lot_quality import criteria_of, current_results
from custody.services.quality.release_signature import release_holds

RESIDUAL_CD3 = "residual_cd3"


@dataclass(frozen=True)
class LotFacts:
    """What allocation needs of a lot, read once however many of its bags are scanned."""

    residual_cd3_pct: float
    cd3_limit: dosing.Cd3Limit


def active_allocation(bag: Bag) -> Allocation | None:
    return db.session.scalar(
        select(Allocation).where(Allocation.bag_id == bag.id, Allocation.active.is_(True))
    )


def bag_doses(
    scanned: Sequence[tuple[Bag, ScanTarget]], recipient: Recipient
) -> list[tuple[dosing.BagDose, LotFacts]]:
    """Each scanned bag checked, as the dose rules see it, with the facts of its lot."""
    facts: dict[int, LotFacts] = {}
    doses = []
    for bag, _ in scanned:
        check_bag(bag, recipient)
        if bag.lot_id not in facts:
            facts[bag.lot_id] = lot_facts(bag.lot)
        lot = facts[bag.lot_id]
        dose = dosing.BagDose(
            bag.code, bag.viable_car_nk_cells, bag.volume_ml, bag.total_cells, lot.residual_cd3_pct
        )
        doses.append((dose, lot))
    return doses


def check_bag(bag: Bag, recipient: Recipient) -> None:
    """Not someone else's, allowed towards a patient by the life cycle, of the right dose level."""
    holder = active_allocation(bag)
    if holder is not None:
        when = holder.allocated_at.strftime("%Y-%m-%d %H:%M UTC")
        by = db.session.get(User, holder.allocated_by_id)
        raise Conflict(
            f"Bag {bag.code} is already allocated to recipient {holder.recipient.subject_id} "
            f"(infusion {holder.infusion_number}) by {by.full_name} at {when}. Choose another "
            "bag, or de-allocate it first with a reason.",
            bag=bag.code,
            allocated_to=holder.recipient.subject_id,
            allocated_by=by.full_name,
        )
    bag_lifecycle.plan("allocate", situation(bag))
    if bag.dose_level_id is not None and bag.dose_level_id != recipient.dose_level_id:
        level = db.session.get(DoseLevel, bag.dose_level_id)
        raise ValidationFailed(
            f"Bag {bag.code} was made for dose level {level.code}, but recipient "
            f"{recipient.subject_id} is on {recipient.dose_level.code}. Choose a bag for "
            f"{recipient.dose_level.code}.",
            bag=bag.code,
            bag_dose_level=level.code,
            recipient_dose_level=recipient.dose_level.code,
        )


def lot_facts(lot: Lot) -> LotFacts:
    check_release_holds(lot)
    return LotFacts(residual_cd3_pct(lot), cd3_limit(lot))


def check_release_holds(lot: Lot) -> None:
    """The lot may still read released while QA's signature no longer holds (withdrawn, or the
    record changed after it was signed): the signature, not the disposition, lets its bags go
    towards a patient."""
    holds, why = release_holds(lot)
    if not holds:
        raise IllegalTransition(
            f"QA's release of lot {lot.lot_number} no longer holds ({why}). No bag of this lot "
            "may be allocated until QA reviews and signs it again.",
            lot=lot.lot_number,
            reason=why,
        )


def residual_cd3_pct(lot: Lot) -> float:
    """The lot's residual CD3+ T cells as % of all cells: only a percentage turns into cells
    per kg for this recipient."""
    result = next((r for r in current_results(lot) if r.test == RESIDUAL_CD3), None)
    if result is None or result.value_numeric is None:
        raise IllegalTransition(
            f"Lot {lot.lot_number} has no residual CD3+ T cell result, so the dose of CD3+ "
            "cells per kg cannot be checked. QA: enter it as % of all cells.",
            lot=lot.lot_number,
        )
    if result.unit.strip() != "%":
        raise IllegalTransition(
            f"Lot {lot.lot_number}'s residual CD3+ T cell result is in "
            f"'{result.unit or 'no unit'}', but allocation needs it as % CD3+ of all cells to "
            "work out the cells per kg. QA: correct the result to the percentage, unit '%' "
            "(the lot then needs QA's release again).",
            lot=lot.lot_number,
            unit=result.unit,
        )
    return result.value_numeric


def cd3_limit(lot: Lot) -> dosing.Cd3Limit:
    """The upper limit of residual CD3+ T cells per kg in the lot's specification."""
    criterion = next((c for c in criteria_of(lot) if c.test == RESIDUAL_CD3), None)
    if criterion is None or criterion.upper is None:
        raise IllegalTransition(
            f"Lot {lot.lot_number}'s specification states no upper limit for residual CD3+ T "
            "cells per kg, so the infusion cannot be checked against it. QA must review the "
            "specification.",
            lot=lot.lot_number,
        )
    return dosing.Cd3Limit(criterion.upper, criterion.upper_inclusive)


def strictest(limits: set[dosing.Cd3Limit]) -> dosing.Cd3Limit:
    """Bags of several lots in one infusion: the lowest limit applies (exclusive before
    inclusive at the same value)."""
    return min(limits, key=lambda limit: (limit.upper, limit.inclusive))
