"""Release rules as the SOP reads them: judging a result, what stands in the way of release,
which disposition a signature may give, and the hash a signature is bound to."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.domain.errors import IllegalTransition, ValidationFailed
from custody.domain.release_rules import (
    ACTIONS,
    AT_ALLOCATION,
    FAIL,
    PASS,
    PENDING,
    Criterion,
    Reading,
    canonical_json,
    check_criterion,
    content_hash,
    criterion_words,
    disposition_action,
    judge,
    number_words,
    result_problems,
    verdict,
)

VIABILITY = Criterion("viability", "Viability", unit="%", lower=70.0)
ENDOTOXIN = Criterion("endotoxin", "Endotoxin", unit="EU/mL", upper=5.0)
STERILITY = Criterion(
    "sterility", "Sterility", "qualitative", expected_text="negative", may_be_pending=True
)
MYCOPLASMA = Criterion("mycoplasma", "Mycoplasma", "qualitative", expected_text="Negative")
RESIDUAL_CD3 = Criterion(
    "residual_cd3", "Residual CD3+", unit="cells/kg", upper=2e5, judged_at_allocation=True
)


# --- judging one value -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "value", "meets"),
    [
        (VIABILITY, 70.0, True),  # a lower limit is inclusive unless told
        (VIABILITY, 69.999, False),
        (Criterion("v", "V", lower=70.0, lower_inclusive=False), 70.0, False),
        (Criterion("v", "V", lower=70.0, lower_inclusive=False), 70.001, True),
        (ENDOTOXIN, 5.0, False),  # an upper limit is exclusive unless told: "< 5 EU/mL"
        (ENDOTOXIN, 4.999, True),
        (ENDOTOXIN, -0.0, True),
        (Criterion("e", "E", upper=5.0, upper_inclusive=True), 5.0, True),
        (Criterion("e", "E", upper=5.0, upper_inclusive=True), 5.001, False),
        (Criterion("r", "R", lower=1.0, upper=5.0), 1.0, True),
        (Criterion("r", "R", lower=1.0, upper=5.0), 0.999, False),
        (Criterion("r", "R", lower=1.0, upper=5.0), 5.0, False),
        (Criterion("r", "R", lower=1.0, upper=5.0), 3.0, True),
    ],
)
def test_numeric_limits_inclusive_and_exclusive(criterion, value, meets):
    assert judge(criterion, value, None) is meets


@pytest.mark.parametrize(
    ("criterion", "text", "meets"),
    [
        (STERILITY, "negative", True),
        (STERILITY, "Negative", True),
        (STERILITY, "  NEGATIVE \n", True),
        (STERILITY, "positive", False),
        (STERILITY, "not negative", False),
        (MYCOPLASMA, "negative", True),  # the expected text is compared case-blind too
        (Criterion("g", "G", "qualitative", expected_text="Straße"), "STRASSE", True),
    ],
)
def test_qualitative_results_compare_without_case(criterion, text, meets):
    assert judge(criterion, None, text) is meets


@pytest.mark.parametrize("text", [None, "", "   "])
def test_a_qualitative_test_wants_words_not_a_number(text):
    with pytest.raises(ValidationFailed, match=r"Sterility is qualitative.*'negative'") as caught:
        judge(STERILITY, 1.0, text)
    assert caught.value.details == {"test": "sterility"}


def test_a_numeric_test_wants_a_number_in_its_unit_not_words():
    with pytest.raises(ValidationFailed, match="Viability is numeric: enter the value in %") as e:
        judge(VIABILITY, None, "92")
    assert e.value.details == {"test": "viability"}
    with pytest.raises(ValidationFailed, match="in its unit"):
        judge(Criterion("x", "X", lower=1.0), None, None)


@pytest.mark.parametrize(
    ("criterion", "words"),
    [
        (Criterion("k", "K", kind="ordinal", lower=1.0), "kind is 'numeric' or 'qualitative'"),
        (Criterion("k", "K"), "give a lower limit, an upper limit or both"),
        (Criterion("k", "K", lower=5.0, upper=1.0), "lower limit is above the upper limit"),
        (Criterion("k", "K", "qualitative"), "give the expected result"),
        (Criterion("k", "K", "qualitative", expected_text="  "), "give the expected result"),
    ],
)
def test_a_criterion_that_cannot_be_judged_is_refused(criterion, words):
    with pytest.raises(ValidationFailed, match=words) as refused:
        check_criterion(criterion)
    assert refused.value.details == {"test": "k"}


def test_a_criterion_that_can_be_judged_passes_its_check():
    picked = Criterion("s", "S", "qualitative", expected_text="negative",
                       allowed_values=("negative", "positive", "indeterminate"))  # fmt: skip
    for criterion in (VIABILITY, ENDOTOXIN, picked, RESIDUAL_CD3):
        check_criterion(criterion)
    check_criterion(Criterion("k", "K", lower=5.0, upper=5.0, upper_inclusive=True))


# --- the criterion and the number in words -----------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "words"),
    [
        (VIABILITY, "≥ 70 %"),
        (ENDOTOXIN, "< 5 EU/mL"),
        (Criterion("v", "V", unit="%", lower=70.0, lower_inclusive=False), "> 70 %"),
        (Criterion("e", "E", unit="EU/mL", upper=5.0, upper_inclusive=True), "≤ 5 EU/mL"),
        (Criterion("c", "C", unit="u", lower=0.5, upper=5.0), "≥ 0.5 and < 5 u"),
        (Criterion("n", "N", lower=3.0), "≥ 3"),
        (Criterion("c", "C", unit="cells", lower=1e8), "≥ 1 × 10⁸ cells"),
        (STERILITY, "Negative"),
        (MYCOPLASMA, "Negative"),
        (RESIDUAL_CD3, "< 2 × 10⁵ cells/kg (judged per recipient at allocation)"),
    ],
)
def test_criterion_words_as_a_certificate_prints_them(criterion, words):
    assert criterion_words(criterion) == words


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, ""),
        (0.0, "0"),
        (70.0, "70"),
        (70.25, "70.25"),
        (0.5, "0.5"),
        (0.001, "0.001"),
        (99999.0, "99999"),
        (1e5, "1 × 10⁵"),
        (2e5, "2 × 10⁵"),
        (1.5e9, "1.5 × 10⁹"),
        (-2e5, "-2 × 10⁵"),
        (0.0005, "5 × 10⁻⁴"),
    ],
)
def test_number_words_as_people_write_them(value, words):
    assert number_words(value) == words


def test_a_value_just_under_a_limit_does_not_print_as_the_limit():
    # 99 960 000 cells fails "≥ 1 × 10⁸": rounded to 3 digits it would read as the limit.
    assert number_words(99_960_000.0) == "9.996 × 10⁷"
    assert number_words(123_456.0) == "1.23456 × 10⁵"
    assert number_words(69.99999) == "69.99999"


# --- verdicts and what stands in the way of release ----------------------------------------------


def _reading(test: str, within: bool | None, numeric: float | None = 1.0) -> Reading:
    return Reading(test, numeric, None, within)


def test_verdict_of_each_reading():
    assert verdict(VIABILITY, None) == PENDING
    assert verdict(VIABILITY, _reading("viability", True)) == PASS
    assert verdict(VIABILITY, _reading("viability", False)) == FAIL
    assert verdict(RESIDUAL_CD3, _reading("residual_cd3", None)) == AT_ALLOCATION


CRITERIA = (STERILITY, MYCOPLASMA, VIABILITY, RESIDUAL_CD3)
ALL_IN = {
    "sterility": _reading("sterility", True, None),
    "mycoplasma": _reading("mycoplasma", True, None),
    "viability": _reading("viability", True),
    "residual_cd3": _reading("residual_cd3", None),  # judged per recipient, not here
}


def _without(*tests: str) -> dict[str, Reading]:
    return {t: r for t, r in ALL_IN.items() if t not in tests}


def test_every_result_in_and_in_spec_leaves_nothing_in_the_way():
    assert result_problems(CRITERIA, ALL_IN) == []


def test_a_missing_result_is_named_with_its_title():
    assert result_problems(CRITERIA, _without("viability")) == ["Viability has no result"]


def test_a_result_judged_at_allocation_must_still_be_in():
    assert result_problems(CRITERIA, _without("residual_cd3")) == ["Residual CD3+ has no result"]


def test_an_out_of_specification_result_is_named():
    readings = {**ALL_IN, "viability": _reading("viability", False)}
    assert result_problems(CRITERIA, readings) == ["Viability is out of specification"]


def test_a_test_the_specification_lets_be_pending_may_be_pending():
    assert result_problems(CRITERIA, _without("sterility"), pending=["sterility"]) == []


def test_a_test_that_may_not_be_pending_is_refused_as_pending():
    problems = result_problems(
        CRITERIA, _without("sterility", "mycoplasma"), pending=["sterility", "mycoplasma"]
    )
    assert problems == ["Mycoplasma may not be pending at release"]


def test_a_pending_test_with_its_result_in_is_not_pending():
    problems = result_problems(CRITERIA, ALL_IN, pending=["sterility"])
    assert problems == ["Sterility has its result already; it is not pending"]


def test_a_pending_test_not_in_the_specification_is_named():
    problems = result_problems(CRITERIA, ALL_IN, pending=["potency"])
    assert problems == ["potency is not a test of this lot's specification"]


def test_every_problem_is_listed_at_once_in_specification_order():
    readings = {"viability": _reading("viability", False)}
    assert result_problems(CRITERIA, readings, pending=["mycoplasma"]) == [
        "Sterility has no result",
        "Mycoplasma may not be pending at release",
        "Viability is out of specification",
        "Residual CD3+ has no result",
    ]


# --- what a disposition signature may do -------------------------------------------------------

STATES = ("quarantine", "conditionally_released", "released", "rejected")
LEADS_TO = {
    "release": "released",
    "conditional_release": "conditionally_released",
    "reject": "rejected",
    "quarantine": "quarantine",
}
ALLOWED = {
    "release": {"quarantine", "conditionally_released"},
    "conditional_release": {"quarantine"},
    "reject": {"quarantine", "conditionally_released", "released"},
    "quarantine": {"conditionally_released", "released"},
}


@pytest.mark.parametrize("action", sorted(ALLOWED))
@pytest.mark.parametrize("current", STATES)
def test_each_disposition_is_given_only_from_where_the_sop_allows(action, current):
    if current in ALLOWED[action]:
        assert disposition_action(action, current, "L26-0001").disposition == LEADS_TO[action]
        return
    with pytest.raises(IllegalTransition) as caught:
        disposition_action(action, current, "L26-0001")
    error = caught.value
    allowed_now = [a for a in ACTIONS if current in ALLOWED[a]]
    assert error.message.startswith(f"Lot L26-0001 is {current.replace('_', ' ')}")
    assert f"Allowed now: {', '.join(allowed_now) or 'nothing'}." in error.message
    assert error.details == {
        "lot": "L26-0001",
        "current_state": current,
        "allowed_actions": allowed_now,
    }


def test_a_rejected_lot_can_be_given_no_disposition():
    with pytest.raises(IllegalTransition, match="Allowed now: nothing"):
        disposition_action("release", "rejected", "L1")


def test_an_unknown_disposition_is_refused_with_the_choices():
    with pytest.raises(ValidationFailed) as refused:
        disposition_action("approve", "quarantine", "L1")
    assert refused.value.message == (
        "'approve' is not a disposition; choose one of release, conditional_release, reject, "
        "quarantine."
    )
    assert refused.value.details == {"field": "action"}


def test_a_qualitative_criterion_without_expected_words_matches_nothing():
    # check_criterion refuses such a criterion; should one slip through, no result meets it
    # and the certificate prints no criterion rather than an invented one.
    blank = Criterion("s", "S", "qualitative", expected_text=None)
    assert judge(blank, None, "XXXX") is False
    assert judge(blank, None, "negative") is False
    assert criterion_words(blank) == ""


def test_meanings_and_which_dispositions_need_a_reason():
    meanings = {name: (rule.meaning, rule.reason_required) for name, rule in ACTIONS.items()}
    assert meanings == {
        "release": ("Approved for release", False),
        "conditional_release": ("Approved for conditional release", True),
        "reject": ("Rejected", True),
        "quarantine": ("Returned to quarantine for re-review", True),
    }


# --- the hash a signature is bound to ----------------------------------------------------------

CONTENT = {
    "lot": "L26-0001",
    "results": [[1, "viability", 91.5, None, "%", True]],
    "warnings": ["Identity: CD56+CD3−"],
    "exceptional": None,
}


def test_the_canonical_form_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": [1, "−"]}) == '{"a":[1,"−"],"b":1}'
    expected = hashlib.sha256('{"a":[1,"−"],"b":1}'.encode()).hexdigest()
    assert content_hash({"b": 1, "a": [1, "−"]}) == expected


def test_the_hash_does_not_depend_on_key_order():
    reordered = dict(reversed(list(CONTENT.items())))
    assert content_hash(reordered) == content_hash(CONTENT)
    assert len(content_hash(CONTENT)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"lot": "L26-0002"},
        {"results": [[1, "viability", 91.6, None, "%", True]]},
        {"results": [[2, "viability", 91.5, None, "%", True]]},
        {"results": [[1, "viability", 91.5, None, "%", False]]},
        {"results": [[1, "viability", "91.5", None, "%", True]]},
        {"warnings": ["Identity: CD56+CD3-"]},  # a hyphen for the minus sign
        {"exceptional": ["Dr A", "request", "why"]},
        {"extra": None},
    ],
)
def test_any_change_to_the_content_changes_the_hash(change):
    assert content_hash({**CONTENT, **change}) != content_hash(CONTENT)


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            lambda inner: st.lists(inner, max_size=3),
            max_leaves=6,
        ),
        max_size=6,
    )
)
def test_the_hash_is_stable_for_any_content(content):
    assert content_hash(content) == content_hash(dict(reversed(list(content.items()))))
