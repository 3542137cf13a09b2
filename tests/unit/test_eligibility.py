"""Donor eligibility on the product: the worst determination wins, and its fixed label words."""

from __future__ import annotations

import pytest

from custody.domain.eligibility import warnings_for, worst

# The statements of 21 CFR 1271.60(d) / 1271.65 as DOMAIN.md §3 gives them, word for word.
NOT_EVALUATED = "NOT EVALUATED FOR INFECTIOUS SUBSTANCES"
ADVISE = "WARNING: Advise patient of communicable disease risks"


@pytest.mark.parametrize(
    ("determination", "statements"),
    [
        ("eligible", []),
        ("incomplete", [NOT_EVALUATED, ADVISE]),
        # Not yet determined: the product is not known to be evaluated either.
        ("pending", [NOT_EVALUATED, ADVISE]),
        ("ineligible", ["BIOHAZARD", ADVISE]),
    ],
)
def test_each_determination_carries_its_statements(determination, statements):
    assert warnings_for(determination) == statements


@pytest.mark.parametrize(
    ("determinations", "result"),
    [
        (["eligible", "ineligible", "incomplete"], "ineligible"),
        (["eligible", "incomplete", "pending"], "incomplete"),
        (["eligible", "pending"], "pending"),
        (["eligible", "eligible"], "eligible"),
        # Nothing known about any donor: not eligible until determined.
        ([], "pending"),
        (["unheard-of"], "pending"),
    ],
)
def test_the_worst_determination_behind_a_lot_wins(determinations, result):
    assert worst(determinations) == result


def test_any_iterable_of_determinations_will_do():
    assert worst(d for d in ("eligible", "incomplete")) == "incomplete"
