"""A qualitative release test offers only the results its specification defines: a result is one
of them (case and surrounding spaces aside), stored in the specification's spelling; anything
else, a typo included, is refused whole, naming the values, and nothing is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from custody.domain.errors import ValidationFailed
from custody.domain.release_rules import Criterion
from custody.extensions import db
from custody.models import AuditEntry, QcResult, QcSpecification
from custody.services.quality import specifications as specs
from custody.services.quality.queries import lot_quality
from custody.services.quality.results import ResultRequest, correct_result, enter_result

CULTURE = ("negative", "positive", "indeterminate")


@pytest.fixture
def lot(quality, make_lot):
    quality.specification()
    return make_lot()


def _rows(lot, test: str) -> list[QcResult]:
    db.session.expire_all()
    query = select(QcResult).where(QcResult.lot_id == lot.id, QcResult.test == test)
    return list(db.session.scalars(query.order_by(QcResult.id)))


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


def test_the_standard_qualitative_tests_define_their_values():
    defined = {c.test: c.allowed_values for c in specs.STANDARD_RELEASE_TESTS if c.allowed_values}
    assert defined == {"sterility": CULTURE, "mycoplasma": CULTURE}


def test_a_lots_quality_lists_each_qualitative_tests_values(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("viability", value_numeric=91.5))
    tests = {t["test"]: t["allowed_values"] for t in lot_quality(lot.lot_number)["tests"]}
    assert tests["sterility"] == ["negative", "positive", "indeterminate"]
    assert tests["mycoplasma"] == ["negative", "positive", "indeterminate"]
    assert tests["viability"] == []


# Typed → stored, verdict. Only case and surrounding spaces may differ from a defined value.
ACCEPTED = [
    ("negative", "negative", "pass"),
    ("Negative ", "negative", "pass"),
    ("  NEGATIVE\t", "negative", "pass"),
    ("positive", "positive", "fail"),
    ("Indeterminate", "indeterminate", "fail"),
]


@pytest.mark.parametrize(("typed", "stored", "verdict"), ACCEPTED)
def test_a_defined_value_is_stored_in_the_specifications_spelling(
    lot, analyst, typed, stored, verdict
):
    enter_result(analyst, lot.lot_number, ResultRequest("sterility", value_text=typed))
    (row,) = _rows(lot, "sterility")
    assert row.value_text == stored
    assert row.within_spec is (verdict == "pass")


REFUSED = ["negativ", "Negativ", "neg", "negative.", "not detected", "n e g a t i v e", "0", "-"]


@pytest.mark.parametrize("typed", REFUSED)
def test_free_text_is_refused_naming_the_values_and_nothing_is_stored(lot, analyst, typed):
    before = _audit_count()
    with pytest.raises(ValidationFailed) as refused:
        enter_result(analyst, lot.lot_number, ResultRequest("sterility", value_text=typed))
    assert refused.value.message == (
        f"'{typed}' is not a result of Sterility (14-day culture): choose one of 'negative', "
        "'positive', 'indeterminate', as its specification defines them."
    )
    assert refused.value.details == {
        "test": "sterility",
        "field": "value_text",
        "allowed_values": ["negative", "positive", "indeterminate"],
    }
    assert _rows(lot, "sterility") == []
    assert _audit_count() == before


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_missing_qualitative_result_names_the_values(lot, analyst, blank):
    with pytest.raises(ValidationFailed) as refused:
        enter_result(analyst, lot.lot_number, ResultRequest("mycoplasma", value_text=blank))
    assert refused.value.message == (
        "Mycoplasma (PCR) is qualitative: choose one of 'negative', 'positive', "
        "'indeterminate', as its specification defines them."
    )
    assert _rows(lot, "mycoplasma") == []


def test_a_correction_is_held_to_the_same_values(lot, analyst):
    enter_result(analyst, lot.lot_number, ResultRequest("sterility", value_text="positive"))
    with pytest.raises(ValidationFailed, match="'negativ' is not a result of Sterility"):
        correct_result(
            analyst, lot.lot_number, ResultRequest("sterility", value_text="negativ"), "typo"
        )
    corrected = correct_result(
        analyst, lot.lot_number, ResultRequest("sterility", value_text="NEGATIVE"), "misread"
    )
    assert (corrected.value_text, corrected.within_spec) == ("negative", True)
    assert [r.value_text for r in _rows(lot, "sterility")] == ["positive", "negative"]


# --- what a specification must say about a qualitative test ---------------------------------


def _qualitative(**fields) -> Criterion:
    return Criterion("sterility", "Sterility", "qualitative", **fields)


SPECIFICATION_REFUSALS = {
    "no values": (
        _qualitative(expected_text="negative"),
        "Test sterility is qualitative: list every result it can have, at least two "
        "(e.g. negative, positive, indeterminate).",
    ),
    "only the passing value": (
        _qualitative(expected_text="negative", allowed_values=("negative",)),
        "Test sterility is qualitative: list every result it can have, at least two "
        "(e.g. negative, positive, indeterminate).",
    ),
    "a blank value": (
        _qualitative(expected_text="negative", allowed_values=("negative", " ")),
        "Test sterility is qualitative: list every result it can have, at least two "
        "(e.g. negative, positive, indeterminate).",
    ),
    "a value twice, in another case": (
        _qualitative(expected_text="negative", allowed_values=("negative", "Positive", "positive")),
        "Test sterility: the value positive is listed twice (case aside).",
    ),
    "the expected value not among them": (
        _qualitative(expected_text="not detected", allowed_values=CULTURE),
        "Test sterility: the expected result 'not detected' must be one of its values "
        "(negative, positive, indeterminate).",
    ),
    "values on a numeric test": (
        Criterion("viability", "Viability", unit="%", lower=70.0, allowed_values=CULTURE),
        "Test viability is numeric: values to choose from are for qualitative tests.",
    ),
}


@pytest.mark.parametrize(
    ("criterion", "message"), SPECIFICATION_REFUSALS.values(), ids=SPECIFICATION_REFUSALS.keys()
)
def test_a_qualitative_test_without_a_usable_list_of_values_is_refused(quality, criterion, message):
    with pytest.raises(ValidationFailed) as refused:
        specs.create_specification(quality.qa, specs.SpecificationRequest("D0001", (criterion,)))
    assert refused.value.message == message
    assert db.session.scalar(select(func.count()).select_from(QcSpecification)) == 0


def test_a_sites_own_values_are_kept_in_lower_case_and_offered(quality):
    own = _qualitative(expected_text="Conforms", allowed_values=(" Conforms ", "Does not conform"))
    spec = specs.create_specification(quality.qa, specs.SpecificationRequest("D0002", (own,)))
    (item,) = spec.items
    assert (item.expected_text, item.allowed_values) == (
        "conforms",
        ["conforms", "does not conform"],
    )
    shown = specs.specification_detail("D0002", spec.version)["tests"][0]
    assert shown["allowed_values"] == ["conforms", "does not conform"]
    assert shown["criterion"] == "Conforms"
