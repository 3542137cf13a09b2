"""A qualitative test's defined values, pinned as literal tables: which lists a specification
may define, which typed results are taken (and stored in the specification's spelling), which
are refused, with the words QA and the lab read."""

from __future__ import annotations

import pytest

from custody.domain.errors import ValidationFailed
from custody.domain.release_rules import Criterion, check_criterion, defined_value, judge

STERILITY = Criterion(
    test="sterility",
    title="Sterility",
    kind="qualitative",
    expected_text="negative",
    allowed_values=("negative", "positive", "indeterminate"),
)


def _qualitative(expected: str | None, *values: str) -> Criterion:
    return Criterion(
        test="sterility",
        title="Sterility",
        kind="qualitative",
        expected_text=expected,
        allowed_values=values,
    )


@pytest.mark.parametrize(
    ("expected", "values"),
    [
        ("negative", ("negative", "positive")),  # two: the least a failing result needs
        ("negative", ("negative", "positive", "indeterminate")),
        (" Negative ", ("negative", "positive")),  # the expected one, case and blanks aside
        ("negative", ("negative", "p" * 64)),  # 64 characters: the longest value
    ],
)
def test_a_specification_may_define_these_values(expected, values):
    check_criterion(_qualitative(expected, *values))


@pytest.mark.parametrize(
    ("expected", "values", "message"),
    [
        (
            "negative",
            ("negative",),
            "Test sterility is qualitative: list every result it can have, at least two "
            "(e.g. negative, positive, indeterminate).",
        ),
        (
            "negative",
            ("negative", "  "),
            "Test sterility is qualitative: list every result it can have, at least two "
            "(e.g. negative, positive, indeterminate).",
        ),
        (
            "negative",
            ("negative", "p" * 65),
            "Test sterility: a result value has at most 64 characters.",
        ),
        (
            "negative",
            ("negative", "positive", "Positive"),
            "Test sterility: the value positive is listed twice (case aside).",
        ),
        (
            "negative",
            ("Negative", "positive", "NEGATIVE", "POSITIVE"),
            "Test sterility: the value negative, positive is listed twice (case aside).",
        ),
        (
            "sterile",
            ("negative", "positive"),
            "Test sterility: the expected result 'sterile' must be one of its values "
            "(negative, positive).",
        ),
        (
            None,
            ("negative", "positive"),
            "Test sterility is qualitative: give the expected result (e.g. 'negative').",
        ),
    ],
)
def test_a_specification_may_not_define_these(expected, values, message):
    with pytest.raises(ValidationFailed) as refused:
        check_criterion(_qualitative(expected, *values))
    assert refused.value.message == message
    assert refused.value.details == {"test": "sterility"}


def test_a_numeric_test_has_no_values_to_choose_from():
    numeric = Criterion(test="viability", title="Viability", lower=70, allowed_values=("a", "b"))
    with pytest.raises(ValidationFailed) as refused:
        check_criterion(numeric)
    assert refused.value.message == (
        "Test viability is numeric: values to choose from are for qualitative tests."
    )
    assert refused.value.details == {"test": "viability"}


@pytest.mark.parametrize(
    ("typed", "stored", "passes"),
    [
        ("negative", "negative", True),
        ("Negative ", "negative", True),
        ("  NEGATIVE", "negative", True),
        ("positive", "positive", False),
        ("Indeterminate", "indeterminate", False),
    ],
)
def test_a_defined_value_is_taken_in_the_specifications_spelling(typed, stored, passes):
    assert defined_value(STERILITY, typed) == stored
    assert judge(STERILITY, None, typed) is passes


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "negativ",
            "'negativ' is not a result of Sterility: choose one of 'negative', 'positive', "
            "'indeterminate', as its specification defines them.",
        ),
        (
            "no growth",
            "'no growth' is not a result of Sterility: choose one of 'negative', 'positive', "
            "'indeterminate', as its specification defines them.",
        ),
        (
            "  ",
            "Sterility is qualitative: choose one of 'negative', 'positive', 'indeterminate', "
            "as its specification defines them.",
        ),
        (
            None,
            "Sterility is qualitative: choose one of 'negative', 'positive', 'indeterminate', "
            "as its specification defines them.",
        ),
    ],
)
def test_anything_else_is_refused_naming_the_values(typed, message):
    for ask in (lambda: defined_value(STERILITY, typed), lambda: judge(STERILITY, None, typed)):
        with pytest.raises(ValidationFailed) as refused:
            ask()
        assert refused.value.message == message
        assert refused.value.details == {
            "test": "sterility",
            "field": "value_text",
            "allowed_values": ["negative", "positive", "indeterminate"],
        }
