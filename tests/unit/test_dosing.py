"""Dose arithmetic: the window, whole and partial bags, refusals with numbers, residual CD3+."""

from __future__ import annotations

import pytest

from custody.domain.dosing import (
    BagDose,
    Cd3Limit,
    DoseTarget,
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
    assert "1.2 × 10^9" in message and "1.8 × 10^9" in message
    assert "1.44 × 10^9" in message  # the lowest acceptable dose
    assert "2.4 × 10^8 cells are missing" in message
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
    assert "1.07 × 10^6" in refused.value.message
    assert "< 2 × 10^5" in refused.value.message
    assert refused.value.details["limit"] == 2e5


def test_residual_cd3_at_the_limit_passes_only_when_inclusive():
    plan = plan_dose(DL2, 75, [bag(total=1.5e9, cd3=1.0)])  # 1.5e7 / 75 = 2e5 per kg exactly
    assert plan.residual_cd3_per_kg == pytest.approx(2e5)
    limit = plan.residual_cd3_per_kg
    check_residual_cd3(plan, Cd3Limit(limit, inclusive=True))
    with pytest.raises(ValidationFailed, match="above the limit of < "):
        check_residual_cd3(plan, Cd3Limit(limit, inclusive=False))


def test_cells_words_never_shows_a_value_as_the_limit_it_exceeds():
    assert cells_words(1.2e9) == "1.2 × 10^9"
    assert cells_words(2.0000001e5, beside=2e5) == "2.0000001 × 10^5"
    assert cells_words(2.0000001e5) == "2 × 10^5"
