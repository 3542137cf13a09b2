"""Dose arithmetic at allocation: how much of which bag gives the recipient their dose.

The protocol sets each dose level as viable CAR+ NK cells per infusion (flat) or per kg of the
recipient's weight (per_kg), with a tolerance around it. The bags are taken in the order the
user scanned them: whole while their sum stays in the window; when the whole set would
overshoot it, the last bag is given in part, drawn up to the target and rounded down to what a
syringe measures (0.1 mL), so the recipient never gets more than the protocol allows.

Residual CD3+ T cells are measured on the product as % of all cells, but their limit is per kg
of the recipient (GVHD risk in an allogeneic product), so they are only judged here, once the
recipient, the bags and the volumes are known.

Pure Python: no Flask, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from custody.domain.errors import ValidationFailed
from custody.domain.formatting import cell_count as cells_words
from custody.domain.release_rules import number_words

FLAT = "flat"
PER_KG = "per_kg"
# A syringe is read to 0.1 mL; less than 1 mL of a bag cannot be drawn up reliably.
VOLUME_STEP_ML = 0.1
MIN_PARTIAL_ML = 1.0
# A recipient's weight, in kg, that can be true: anything outside is a typing error.
MIN_WEIGHT_KG, MAX_WEIGHT_KG = 1.0, 400.0
# A dose level's dose, in cells (flat or per kg): anything above is a typing error.
MAX_DOSE_CELLS = 1e13


@dataclass(frozen=True)
class DoseTarget:
    """A dose level as the protocol states it."""

    code: str
    basis: str  # FLAT or PER_KG
    dose_cells: float
    tolerance_pct: float


@dataclass(frozen=True)
class DoseWindow:
    """The cells this recipient should receive, and the lowest and highest acceptable."""

    target: float
    lower: float
    upper: float


@dataclass(frozen=True)
class BagDose:
    """What the arithmetic needs of one scanned bag."""

    code: str
    viable_cells: float  # viable CAR+ NK cells in the whole bag
    volume_ml: float
    total_cells: float
    residual_cd3_pct: float  # CD3+ T cells as % of all cells, from the bag's lot


@dataclass(frozen=True)
class DoseLine:
    """One bag's part of the infusion."""

    code: str
    volume_ml: float
    volume_to_infuse_ml: float
    planned_cells: float
    partial: bool
    residual_cd3_cells: float


@dataclass(frozen=True)
class DosePlan:
    level: str
    basis: str
    weight_kg: float
    window: DoseWindow
    lines: tuple[DoseLine, ...]
    planned_cells: float
    residual_cd3_per_kg: float


@dataclass(frozen=True)
class Cd3Limit:
    """The specification's upper limit for residual CD3+ T cells per kg of recipient."""

    upper: float
    inclusive: bool = False


def dose_window(target: DoseTarget, weight_kg: float) -> DoseWindow:
    """Target ∓ tolerance, in cells for this recipient."""
    if weight_kg <= 0:
        raise ValidationFailed(
            "The recipient's weight is missing or not positive: record the weight in kg "
            "before allocating.",
            weight_kg=weight_kg,
        )
    cells = target.dose_cells * weight_kg if target.basis == PER_KG else target.dose_cells
    spread = target.tolerance_pct / 100
    return DoseWindow(target=cells, lower=cells * (1 - spread), upper=cells * (1 + spread))


def plan_dose(target: DoseTarget, weight_kg: float, bags: Sequence[BagDose]) -> DosePlan:
    """The bags, whole or the last in part, that give a dose within the window; or a refusal."""
    window = dose_window(target, weight_kg)
    if not bags:
        raise ValidationFailed("Scan at least one bag to allocate.", field="bags")
    for bag in bags:
        _check_bag(bag)
    _check_each_needed(window, bags)
    total = sum(b.viable_cells for b in bags)
    if total < window.lower:
        raise _too_few(target, window, total)
    lines = [_whole(b) for b in bags]
    if total > window.upper:
        before = total - bags[-1].viable_cells
        lines[-1] = _partial(bags[-1], window.target - before)
    planned = sum(line.planned_cells for line in lines)
    if planned < window.lower:
        raise _too_few(target, window, planned)
    residual = sum(line.residual_cd3_cells for line in lines) / weight_kg
    return DosePlan(
        level=target.code,
        basis=target.basis,
        weight_kg=weight_kg,
        window=window,
        lines=tuple(lines),
        planned_cells=planned,
        residual_cd3_per_kg=residual,
    )


def check_residual_cd3(plan: DosePlan, limit: Cd3Limit) -> None:
    """Refuse an infusion whose residual CD3+ T cells per kg exceed the specification."""
    value = plan.residual_cd3_per_kg
    within = value <= limit.upper if limit.inclusive else value < limit.upper
    if within:
        return
    sign = "≤" if limit.inclusive else "<"
    raise ValidationFailed(
        f"These bags would give {cells_words(value, beside=limit.upper)} residual CD3+ T cells "
        f"per kg ({plan.weight_kg:g} kg), above the limit of {sign} "
        f"{number_words(limit.upper)} per kg: the risk of graft-versus-host disease is too "
        "high. Allocate other bags (from a lot with fewer CD3+ cells), or fewer cells.",
        residual_cd3_per_kg=value,
        limit=limit.upper,
        upper_inclusive=limit.inclusive,
    )


def _check_bag(bag: BagDose) -> None:
    if bag.viable_cells <= 0 or bag.volume_ml <= 0:
        raise ValidationFailed(
            f"Bag {bag.code} records no viable CAR+ NK cells or no volume, so no dose can be "
            "drawn from it. Check the bag's cell count with the lab.",
            bag=bag.code,
        )


def _check_each_needed(window: DoseWindow, bags: Sequence[BagDose]) -> None:
    """A bag scanned after the dose was already reached would be allocated for nothing."""
    before = 0.0
    for bag in bags:
        if before >= window.target:
            raise ValidationFailed(
                f"Bag {bag.code} is not needed: the bags scanned before it already give "
                f"{cells_words(before)} cells, the target is {cells_words(window.target)}. "
                "Leave it out of this allocation.",
                bag=bag.code,
                cells_before=before,
                target_cells=window.target,
            )
        before += bag.viable_cells


def _too_few(target: DoseTarget, window: DoseWindow, cells: float) -> ValidationFailed:
    missing = window.lower - cells
    return ValidationFailed(
        f"These bags hold {cells_words(cells)} viable CAR+ NK cells; dose level {target.code} "
        f"needs {cells_words(window.target)} (at least {cells_words(window.lower)}, "
        f"−{target.tolerance_pct:g} %). {cells_words(missing)} cells are missing: scan "
        "another bag as well.",
        planned_cells=cells,
        target_cells=window.target,
        lower=window.lower,
        missing_cells=missing,
    )


def _whole(bag: BagDose) -> DoseLine:
    return DoseLine(
        code=bag.code,
        volume_ml=bag.volume_ml,
        volume_to_infuse_ml=bag.volume_ml,
        planned_cells=bag.viable_cells,
        partial=False,
        residual_cd3_cells=bag.total_cells * bag.residual_cd3_pct / 100,
    )


def _partial(bag: BagDose, cells_wanted: float) -> DoseLine:
    """Part of the last bag: the volume that gives `cells_wanted`, rounded down to 0.1 mL."""
    per_ml = bag.viable_cells / bag.volume_ml
    volume = _round_down(cells_wanted / per_ml)
    if volume < MIN_PARTIAL_ML:
        raise ValidationFailed(
            f"Only {volume:g} mL of bag {bag.code} would be needed, less than "
            f"{MIN_PARTIAL_ML:g} mL, which cannot be measured reliably. Leave the bag out, or "
            "choose bags that give the dose whole.",
            bag=bag.code,
            volume_to_infuse_ml=volume,
        )
    fraction = volume / bag.volume_ml
    return DoseLine(
        code=bag.code,
        volume_ml=bag.volume_ml,
        volume_to_infuse_ml=volume,
        planned_cells=per_ml * volume,
        partial=True,
        residual_cd3_cells=bag.total_cells * bag.residual_cd3_pct / 100 * fraction,
    )


def _round_down(volume_ml: float) -> float:
    """Down to the syringe's 0.1 mL; rounding away float noise first (15.0 is not 14.9)."""
    steps = math.floor(round(volume_ml / VOLUME_STEP_ML, 6))
    return round(steps * VOLUME_STEP_ML, 1)
