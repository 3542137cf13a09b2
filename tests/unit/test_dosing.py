"""Dose arithmetic: the window, whole and partial bags, refusals with numbers, residual CD3+."""

from __future__ import annotations

import pytest

from custody.domain.dosing import (
    BagDose,
    Cd3Limit,
    DoseLine,
    DosePlan,
    DoseTarget,
    DoseWindow,
    cells_words,
    check_residual_cd3,
    dose_window,
    plan_dose,
)
from custody.domain.errors import ValidationFailed

DL1 = DoseTarget("DL1", "flat", 6e8, 20.0)
DL2 = DoseTarget("DL2", "flat", 1.2e9, 20.0)
DL3 = DoseTarget("DL3", "flat", 1.8e9, 20.0)
DL4 = DoseTarget("DL4", "per_kg", 1.5e7, 20.0)


def bag(code="A", cells=1.2e9, volume=20.0, total=1.5e9, cd3=0.2) -> BagDose:
    return BagDose(code, cells, volume, total, cd3)


def test_flat_window_is_target_plus_minus_tolerance():
    window = dose_window(DL2, weight_kg=70)
    assert window.target == 1.2e9
    assert window.lower == pytest.approx(9.6e8)
    assert window.upper == pytest.approx(1.44e9)


def test_per_kg_window_scales_with_weight():
    window = dose_window(DL4, weight_kg=60)
    assert window.target == pytest.approx(9e8)
    assert (window.lower, window.upper) == (pytest.approx(7.2e8), pytest.approx(1.08e9))


def test_a_bag_within_the_window_is_given_whole():
    plan = plan_dose(DL2, 70, [bag()])
    (line,) = plan.lines
    assert not line.partial
    assert line.volume_to_infuse_ml == 20.0
    assert line.planned_cells == plan.planned_cells == 1.2e9


@pytest.mark.parametrize("cells", [9.6e8, 1.44e9])
def test_the_window_includes_its_bounds(cells):
    (line,) = plan_dose(DL2, 70, [bag(cells=cells)]).lines
    assert not line.partial and line.planned_cells == cells


def test_per_kg_dose_draws_part_of_the_bag():
    """1.5e7/kg × 60 kg = 9e8 cells; the bag holds 1.2e9 in 20 mL (6e7/mL): 15.0 mL."""
    plan = plan_dose(DL4, 60, [bag()])
    (line,) = plan.lines
    assert line.partial
    assert line.volume_to_infuse_ml == 15.0
    assert line.planned_cells == pytest.approx(9e8)
    assert plan.basis == "per_kg" and plan.weight_kg == 60


def test_partial_volume_is_rounded_down_to_a_tenth_of_a_millilitre():
    # 6e8 of a bag with 1.3e9 cells in 20 mL: 9.2307... mL → 9.2 mL, never more than the dose.
    plan = plan_dose(DL1, 70, [bag(cells=1.3e9)])
    (line,) = plan.lines
    assert line.volume_to_infuse_ml == 9.2
    assert line.planned_cells == pytest.approx(1.3e9 / 20 * 9.2)
    assert line.planned_cells < 6e8


def test_two_bags_for_one_infusion_the_last_in_part():
    plan = plan_dose(DL3, 70, [bag("A"), bag("B")])
    first, last = plan.lines
    assert (first.code, first.partial, first.volume_to_infuse_ml) == ("A", False, 20.0)
    assert (last.code, last.partial, last.volume_to_infuse_ml) == ("B", True, 10.0)
    assert plan.planned_cells == pytest.approx(1.8e9)


def test_two_bags_whole_when_their_sum_is_in_the_window():
    plan = plan_dose(DL3, 70, [bag("A", cells=9e8), bag("B", cells=9e8)])
    assert [line.partial for line in plan.lines] == [False, False]
    assert plan.planned_cells == 1.8e9


def test_too_few_cells_are_refused_saying_how_many_are_missing():
    with pytest.raises(ValidationFailed) as refused:
        plan_dose(DL3, 70, [bag(cells=1.2e9)])
    message = refused.value.message
    assert "1.20 × 10⁹" in message and "1.80 × 10⁹" in message
    assert "1.44 × 10⁹" in message  # the lowest acceptable dose
    assert "2.40 × 10⁸ cells are missing" in message
    assert refused.value.details["missing_cells"] == pytest.approx(2.4e8)


def test_a_bag_not_needed_is_refused():
    with pytest.raises(ValidationFailed, match="Bag B is not needed"):
        plan_dose(DL2, 70, [bag("A"), bag("B")])


def test_a_partial_volume_under_one_millilitre_is_refused():
    # DL3 with 1.75e9 + 1.2e9: 5e7 cells of the second bag = 0.8 mL.
    with pytest.raises(ValidationFailed, match=r"Only 0\.8 mL of bag B") as refused:
        plan_dose(DL3, 70, [bag("A", cells=1.75e9), bag("B")])
    assert refused.value.details["volume_to_infuse_ml"] == 0.8


def test_no_bags_or_a_bag_without_cells_is_refused():
    with pytest.raises(ValidationFailed, match="at least one bag"):
        plan_dose(DL2, 70, [])
    with pytest.raises(ValidationFailed, match="no viable CAR\\+ NK cells"):
        plan_dose(DL2, 70, [bag(cells=0.0)])


def test_weight_must_be_positive():
    with pytest.raises(ValidationFailed, match="weight"):
        dose_window(DL4, 0)


def test_residual_cd3_per_kg_counts_only_the_part_infused():
    # 1.5e9 total cells × 0.2 % = 3e6 CD3+; 15 of 20 mL → 2.25e6; / 60 kg = 3.75e4 per kg.
    plan = plan_dose(DL4, 60, [bag()])
    assert plan.residual_cd3_per_kg == pytest.approx(3.75e4)
    check_residual_cd3(plan, Cd3Limit(2e5))


def test_residual_cd3_over_the_limit_is_refused_naming_value_and_limit():
    plan = plan_dose(DL2, 70, [bag(cd3=5.0)])  # 7.5e7 / 70 kg = 1.07e6 per kg
    with pytest.raises(ValidationFailed) as refused:
        check_residual_cd3(plan, Cd3Limit(2e5))
    assert "1.07 × 10⁶" in refused.value.message
    assert "< 2 × 10⁵" in refused.value.message
    assert refused.value.details["limit"] == 2e5


def test_residual_cd3_at_the_limit_passes_only_when_inclusive():
    plan = plan_dose(DL2, 75, [bag(total=1.5e9, cd3=1.0)])  # 1.5e7 / 75 = 2e5 per kg exactly
    assert plan.residual_cd3_per_kg == pytest.approx(2e5)
    limit = plan.residual_cd3_per_kg
    check_residual_cd3(plan, Cd3Limit(limit, inclusive=True))
    with pytest.raises(ValidationFailed, match="above the limit of < "):
        check_residual_cd3(plan, Cd3Limit(limit, inclusive=False))


def test_cells_words_never_shows_a_value_as_the_limit_it_exceeds():
    assert cells_words(1.2e9) == "1.20 × 10⁹"
    assert cells_words(2.0000001e5, beside=2e5) == "2.0000001 × 10⁵"
    assert cells_words(2.0000001e5) == "2.00 × 10⁵"


# --- worked numbers: accumulation, rounding and the edges of the window ----------------------


def test_two_bags_accumulate_cells_and_residual_cd3_worked_by_hand():
    # DL3: 1.8e9 flat, ±20 % → window 1.44e9 .. 2.16e9, for 70 kg.
    # A: 1.2e9 viable in 20 mL, 1.5e9 cells of which 0.2 % CD3+ → 3e6 CD3+, given whole.
    # B: 1.2e9 viable in 20 mL (6e7/mL), 1.6e9 cells of which 0.5 % CD3+ → 8e6 CD3+.
    # A + B = 2.4e9 > 2.16e9, so B is drawn up to the target: 1.8e9 − 1.2e9 = 6e8 cells,
    # 6e8 / 6e7 per mL = 10.0 mL, half the bag → 4e6 CD3+.
    # Planned 1.2e9 + 6e8 = 1.8e9; CD3+ (3e6 + 4e6) / 70 kg = 1e5 per kg.
    a = BagDose("A", 1.2e9, 20.0, 1.5e9, 0.2)
    b = BagDose("B", 1.2e9, 20.0, 1.6e9, 0.5)
    plan = plan_dose(DL3, 70, [a, b])
    assert (plan.level, plan.basis, plan.weight_kg) == ("DL3", "flat", 70)
    assert plan.window == DoseWindow(1.8e9, pytest.approx(1.44e9), pytest.approx(2.16e9))
    assert plan.lines == (
        DoseLine("A", 20.0, 20.0, 1.2e9, False, pytest.approx(3e6)),
        DoseLine("B", 20.0, 10.0, pytest.approx(6e8), True, pytest.approx(4e6)),
    )
    assert plan.planned_cells == pytest.approx(1.8e9)
    assert plan.residual_cd3_per_kg == pytest.approx(1e5)


def test_three_bags_count_everything_scanned_before_each():
    # 7e8 + 7e8 = 1.4e9 already exceeds DL2's 1.2e9 target before the third bag: C is not needed
    # (each bag alone is below the target; only the running sum tells).
    with pytest.raises(ValidationFailed) as refused:
        plan_dose(DL2, 70, [bag("A", 7e8), bag("B", 7e8), bag("C", 7e8)])
    assert refused.value.message == (
        "Bag C is not needed: the bags scanned before it already give 1.40 × 10⁹ cells, the "
        "target is 1.20 × 10⁹. Leave it out of this allocation."
    )
    assert refused.value.details == {"bag": "C", "cells_before": 1.4e9, "target_cells": 1.2e9}


def test_a_bag_is_needed_while_the_bags_before_it_are_one_cell_short():
    # A holds 1,199,999,999 cells: one short of DL2's 1.2e9 target, so B is still needed
    # (the sum 2.4e9 − 1 is over the window's 1.44e9 top, so B is drawn in part: 1 cell ≈ 0 mL
    # of B, rounded down to 0.0 mL, is under 1 mL and refused as unmeasurable).
    with pytest.raises(ValidationFailed, match=r"^Only 0 mL of bag B would be needed"):
        plan_dose(DL2, 70, [bag("A", 1_199_999_999), bag("B")])
    # A holding exactly the target makes B unneeded.
    with pytest.raises(ValidationFailed, match=r"^Bag B is not needed"):
        plan_dose(DL2, 70, [bag("A", 1_200_000_000), bag("B")])


@pytest.mark.parametrize(
    ("cells", "volume", "drawn"),
    [
        # DL1 = 6e8 flat. 1.4e9 in 20 mL = 7e7/mL; 6e8 / 7e7 = 8.5714… mL → 8.5 mL (not 8.6).
        (1.4e9, 20.0, 8.5),
        # 1.3e9 in 20 mL = 6.5e7/mL; 6e8 / 6.5e7 = 9.2307… mL → 9.2 mL.
        (1.3e9, 20.0, 9.2),
        # 1.2e9 in 40 mL = 3e7/mL; 6e8 / 3e7 = 20 mL exactly (as a float 20.000000000000004).
        (1.2e9, 40.0, 20.0),
        # 1.5e9 in 10 mL = 1.5e8/mL; 6e8 / 1.5e8 = 4 mL exactly.
        (1.5e9, 10.0, 4.0),
    ],
)
def test_partial_volumes_round_down_to_the_syringes_tenth(cells, volume, drawn):
    (line,) = plan_dose(DL1, 70, [bag(cells=cells, volume=volume)]).lines
    assert line.partial and line.volume_ml == volume
    assert line.volume_to_infuse_ml == drawn
    assert line.planned_cells == pytest.approx(cells / volume * drawn)
    assert line.planned_cells <= 6e8 * (1 + 1e-12)


def test_a_partial_draw_of_exactly_one_millilitre_is_allowed():
    # DL3: 1.8e9. A gives 1.74e9; 6e7 more from B (6e7/mL) is exactly 1.0 mL.
    plan = plan_dose(DL3, 70, [bag("A", 1.74e9), bag("B")])
    assert plan.lines[1].volume_to_infuse_ml == 1.0
    assert plan.planned_cells == pytest.approx(1.8e9)


def test_a_partial_draw_under_one_millilitre_is_refused_with_its_details():
    with pytest.raises(ValidationFailed) as refused:
        plan_dose(DL3, 70, [bag("A", 1.75e9), bag("B")])
    assert refused.value.message == (
        "Only 0.8 mL of bag B would be needed, less than 1 mL, which cannot be measured "
        "reliably. Leave the bag out, or choose bags that give the dose whole."
    )
    assert refused.value.details == {"bag": "B", "volume_to_infuse_ml": 0.8}


def test_rounding_down_can_leave_the_dose_under_the_window():
    # A 1 % window: 1.2e9 ± 1.2e7 → 1.188e9 .. 1.212e9. A concentrated bag, 1.8e10 in 20 mL
    # (9e8/mL): 1.2e9 / 9e8 = 1.333… mL → 1.3 mL → 1.17e9 cells, 1.8e7 under the bottom.
    narrow = DoseTarget("N1", "flat", 1.2e9, 1.0)
    with pytest.raises(ValidationFailed) as refused:
        plan_dose(narrow, 70, [bag(cells=1.8e10)])
    assert refused.value.message == (
        "These bags hold 1.17 × 10⁹ viable CAR+ NK cells; dose level N1 needs 1.20 × 10⁹ (at "
        "least 1.19 × 10⁹, −1 %). 1.80 × 10⁷ cells are missing: scan another bag as well."
    )
    assert refused.value.details == {
        "planned_cells": pytest.approx(1.17e9),
        "target_cells": 1.2e9,
        "lower": pytest.approx(1.188e9),
        "missing_cells": pytest.approx(1.8e7),
    }


def test_too_few_cells_details_are_the_numbers_in_the_message():
    with pytest.raises(ValidationFailed) as refused:
        plan_dose(DL3, 70, [bag(cells=1.2e9)])
    assert refused.value.message == (
        "These bags hold 1.20 × 10⁹ viable CAR+ NK cells; dose level DL3 needs 1.80 × 10⁹ (at "
        "least 1.44 × 10⁹, −20 %). 2.40 × 10⁸ cells are missing: scan another bag as well."
    )
    assert refused.value.details == {
        "planned_cells": 1.2e9,
        "target_cells": 1.8e9,
        "lower": pytest.approx(1.44e9),
        "missing_cells": pytest.approx(2.4e8),
    }


@pytest.mark.parametrize(
    ("cells", "outcome"),
    [
        # DL2: 1.2e9 ± 20 % = 9.6e8 .. 1.44e9 (written as integers: 960,000,000 .. 1,440,000,000).
        (959_999_999, "too few"),  # one cell under −20 %
        (960_000_000, "whole"),  # exactly −20 %
        (960_000_001, "whole"),
        (1_439_999_999, "whole"),
        (1_440_000_000, "whole"),  # exactly +20 %
        (1_440_000_001, "partial"),  # one cell over +20 %: drawn in part
    ],
)
def test_the_tolerance_edges_are_exact(cells, outcome):
    try:
        (line,) = plan_dose(DL2, 70, [bag(cells=cells)]).lines
    except ValidationFailed as refused:
        assert refused.message.startswith("These bags hold")
        found = "too few"
    else:
        found = "partial" if line.partial else "whole"
    assert found == outcome


def test_per_kg_window_edges_worked_by_hand():
    # DL4: 1.5e7/kg × 80 kg = 1.2e9, ±20 %: 9.6e8 .. 1.44e9, as for DL2.
    window = dose_window(DL4, 80)
    assert (window.target, window.lower, window.upper) == (
        1.2e9,
        pytest.approx(9.6e8, rel=1e-15),
        pytest.approx(1.44e9, rel=1e-15),
    )
    assert dose_window(DoseTarget("Z", "flat", 1e9, 0.0), 70) == DoseWindow(1e9, 1e9, 1e9)


@pytest.mark.parametrize("weight", [0, -1, 0.0])
def test_a_weight_that_is_not_positive_is_refused(weight):
    with pytest.raises(ValidationFailed) as refused:
        dose_window(DL4, weight)
    assert refused.value.message == (
        "The recipient's weight is missing or not positive: record the weight in kg before "
        "allocating."
    )
    assert refused.value.details == {"weight_kg": weight}


def test_a_small_positive_weight_is_a_weight():
    # Half a kilogram: 1.5e7 × 0.5 = 7.5e6 cells.
    assert dose_window(DL4, 0.5).target == 7.5e6
    assert dose_window(DL4, 1).target == 1.5e7


def test_no_bag_is_refused_naming_the_field():
    with pytest.raises(ValidationFailed) as refused:
        plan_dose(DL2, 70, [])
    assert refused.value.message == "Scan at least one bag to allocate."
    assert refused.value.details == {"field": "bags"}


@pytest.mark.parametrize(("cells", "volume"), [(0.0, 20.0), (-5.0, 20.0), (1.2e9, 0.0)])
def test_a_bag_without_cells_or_volume_is_refused(cells, volume):
    with pytest.raises(ValidationFailed) as refused:
        plan_dose(DL2, 70, [bag("E", cells=cells, volume=volume)])
    assert refused.value.message == (
        "Bag E records no viable CAR+ NK cells or no volume, so no dose can be drawn from it. "
        "Check the bag's cell count with the lab."
    )
    assert refused.value.details == {"bag": "E"}


def test_a_bag_of_one_cell_or_one_millilitre_is_counted_not_refused_as_empty():
    with pytest.raises(ValidationFailed, match=r"^These bags hold 1 viable"):
        plan_dose(DL2, 70, [bag(cells=1.0)])
    (line,) = plan_dose(DL2, 70, [bag(volume=1.0)]).lines
    assert (line.volume_ml, line.volume_to_infuse_ml, line.partial) == (1.0, 1.0, False)


def _plan_with_residual(value: float) -> DosePlan:
    window = DoseWindow(1.2e9, 9.6e8, 1.44e9)
    return DosePlan("DL2", "flat", 70, window, (), 1.2e9, value)


def test_residual_cd3_just_over_the_limit_does_not_print_as_the_limit():
    with pytest.raises(ValidationFailed) as refused:
        check_residual_cd3(_plan_with_residual(200_000.01), Cd3Limit(2e5, inclusive=True))
    assert refused.value.message == (
        "These bags would give 2.0000001 × 10⁵ residual CD3+ T cells per kg (70 kg), above the "
        "limit of ≤ 2 × 10⁵ per kg: the risk of graft-versus-host disease is too high. "
        "Allocate other bags (from a lot with fewer CD3+ cells), or fewer cells."
    )
    assert refused.value.details == {
        "residual_cd3_per_kg": 200_000.01,
        "limit": 2e5,
        "upper_inclusive": True,
    }


@pytest.mark.parametrize(
    ("value", "inclusive", "passes"),
    [
        (199_999.99, False, True),
        (200_000.0, False, False),  # exactly at an exclusive limit: refused
        (200_000.0, True, True),  # exactly at an inclusive limit: allowed
        (200_000.01, True, False),
    ],
)
def test_residual_cd3_limit_edges(value, inclusive, passes):
    plan = _plan_with_residual(value)
    if passes:
        assert check_residual_cd3(plan, Cd3Limit(2e5, inclusive=inclusive)) is None
    else:
        with pytest.raises(ValidationFailed) as refused:
            check_residual_cd3(plan, Cd3Limit(2e5, inclusive=inclusive))
        assert refused.value.details["upper_inclusive"] is inclusive
