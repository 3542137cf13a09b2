"""How a shipment discrepancy may end: the outcomes per kind, pinned, and the reason rule."""

from __future__ import annotations

import pytest

from custody.domain.errors import ValidationFailed
from custody.domain.shipment_discrepancies import (
    MAX_REASON,
    OUTCOME_WORDS,
    OUTCOMES_BY_KIND,
    ResolutionOutcome,
    checked_reason,
    outcome_for,
)


def test_each_kind_ends_in_its_own_outcomes():
    assert {k: [o.value for o in v] for k, v in OUTCOMES_BY_KIND.items()} == {
        "missing": ["found_and_received", "confirmed_lost", "destroyed"],
        "unexpected": ["returned_to_sender", "destroyed"],
    }
    assert OUTCOME_WORDS[ResolutionOutcome.FOUND_AND_RECEIVED] == "found and received"
    assert set(OUTCOME_WORDS) == set(ResolutionOutcome)


def test_an_outcome_of_its_kind_is_taken():
    assert outcome_for("missing", "confirmed_lost") is ResolutionOutcome.CONFIRMED_LOST
    assert outcome_for("unexpected", "returned_to_sender") is ResolutionOutcome.RETURNED_TO_SENDER


@pytest.mark.parametrize(
    ("kind", "outcome"),
    [("missing", "returned_to_sender"), ("unexpected", "confirmed_lost"), ("missing", "lost")],
)
def test_an_outcome_of_another_kind_is_refused_naming_the_allowed_ones(kind, outcome):
    with pytest.raises(ValidationFailed) as refused:
        outcome_for(kind, outcome)
    assert refused.value.details == {
        "field": "outcome",
        "allowed": [o.value for o in OUTCOMES_BY_KIND[kind]],
    }
    assert f"A {kind} bag cannot be resolved as '{outcome}'" in refused.value.message
    assert "'destroyed' (destroyed)" in refused.value.message


def test_the_reason_is_required_and_kept_without_surrounding_blanks():
    assert checked_reason("  Courier confirmed the loss \n") == "Courier confirmed the loss"
    assert checked_reason("x" * MAX_REASON) == "x" * 2000
    for blank in ("", "   ", None):
        with pytest.raises(ValidationFailed) as refused:
            checked_reason(blank)
        assert refused.value.details == {"field": "reason"}
    with pytest.raises(ValidationFailed, match="longer than 2000"):
        checked_reason("x" * 2001)


def test_the_refusals_say_what_to_do_in_these_words():
    """The words a technician reads on the resolve form, written out."""
    with pytest.raises(ValidationFailed) as refused:
        outcome_for("unexpected", "confirmed_lost")
    assert refused.value.message == (
        "A unexpected bag cannot be resolved as 'confirmed_lost': choose one of "
        "'returned_to_sender' (returned to sender), 'destroyed' (destroyed)."
    )
    with pytest.raises(ValidationFailed) as refused:
        checked_reason(" ")
    assert refused.value.message == (
        "Say why: what was found or done, and on whose word (a resolution needs its reason)."
    )
    with pytest.raises(ValidationFailed) as refused:
        checked_reason("x" * 2001)
    assert refused.value.message == "The reason is longer than 2000 characters."
    assert refused.value.details == {"field": "reason"}
