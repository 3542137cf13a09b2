"""Numbers as every page, PDF and label writes them: powers of ten raised, never e-notation.

The tables are literal on purpose: a change of notation must show up here as a changed line.
"""

from __future__ import annotations

import math

import pytest

from custody.domain.formatting import caret_powers, cell_count, exact_number, power_of_ten


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "0"),
        (1, "1"),
        (12, "12"),
        (999, "999"),  # the largest count written out in full
        (999.4, "999"),
        (999.5, "1.00 × 10³"),  # rounds up into a power of ten
        (1000, "1.00 × 10³"),  # the first count written as a power of ten
        (1234, "1.23 × 10³"),
        (6e5, "6.00 × 10⁵"),
        (1.2e8, "1.20 × 10⁸"),  # trailing zeros are significant: kept
        (6.4e8, "6.40 × 10⁸"),  # the page once printed this as 6.4e+08
        (9.994e8, "9.99 × 10⁸"),
        (9.995e8, "1.00 × 10⁹"),  # rounding carries into the exponent
        (9.999e8, "1.00 × 10⁹"),
        (1.86e9, "1.86 × 10⁹"),
        (123_456_789, "1.23 × 10⁸"),
        (2.4e10, "2.40 × 10¹⁰"),  # a two-digit exponent, both digits raised
        (-1.86e9, "-1.86 × 10⁹"),  # never a real count, but shown rather than hidden
        (-5, "-5"),
        (1e-5, "1.00 × 10⁻⁵"),  # a negative exponent keeps its raised minus
        (0.001, "0.001"),  # the smallest number written out
        (0.000999, "9.99 × 10⁻⁴"),  # just below it: a power of ten
    ],
)
def test_a_cell_count_has_three_significant_figures_and_a_raised_power_of_ten(value, words):
    assert cell_count(value) == words


def test_a_count_just_over_a_limit_gets_the_digits_that_tell_it_from_the_limit():
    assert cell_count(2.0000001e5, beside=2e5) == "2.0000001 × 10⁵"
    assert cell_count(2.0000001e5) == "2.00 × 10⁵"
    assert cell_count(2e5, beside=2e5) == "2.00 × 10⁵"  # equal to the limit: nothing to tell
    assert cell_count(1.234e9, beside=2e5) == "1.23 × 10⁹"  # far from it: three figures


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, ""),
        (0, "0"),
        (70, "70"),
        (0.5, "0.5"),
        (99_999, "99999"),  # below 10⁵: written out
        (1e5, "1 × 10⁵"),
        (2e5, "2 × 10⁵"),
        (1.5e9, "1.5 × 10⁹"),
        (-2e5, "-2 × 10⁵"),
        (0.001, "0.001"),
        (0.0005, "5 × 10⁻⁴"),
        (99_960_000.0, "9.996 × 10⁷"),  # never rounded onto the limit of 1 × 10⁸
        (123_456.0, "1.23456 × 10⁵"),
    ],
)
def test_a_specified_number_is_exact_with_a_raised_power_of_ten(value, words):
    assert exact_number(value) == words


@pytest.mark.parametrize(
    ("exponent", "words"), [(0, "10⁰"), (5, "10⁵"), (9, "10⁹"), (12, "10¹²"), (-4, "10⁻⁴")]
)
def test_a_power_of_ten_is_written_with_superscript_characters(exponent, words):
    assert power_of_ten(exponent) == words


@pytest.mark.parametrize("value", [1e3, 6.4e8, 1.86e9, 2.4e10, 1e-5, -1.86e9, 1.23456789e17])
def test_no_number_is_ever_written_in_e_notation_or_with_a_caret(value):
    for words in (cell_count(value), exact_number(value)):
        assert "e" not in words.lower() and "^" not in words and "10" in words


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_what_is_not_a_number_is_refused_rather_than_printed(value):
    with pytest.raises(ValueError, match="is not a number that can be shown"):
        cell_count(value)
    with pytest.raises(ValueError, match="is not a number that can be shown"):
        exact_number(value)


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("Cell dose 1.20 × 10⁸ viable CAR+ NK cells", "Cell dose 1.20 × 10^8 viable CAR+ NK cells"),
        ("2.40 × 10¹⁰ and 1 × 10⁻⁴", "2.40 × 10^10 and 1 × 10^-4"),
        ("Volume 100 mL; store at −150 °C", "Volume 100 mL; store at −150 °C"),  # untouched
    ],
)
def test_for_a_printer_font_without_superscripts_powers_are_written_with_a_caret(text, printed):
    assert caret_powers(text) == printed
