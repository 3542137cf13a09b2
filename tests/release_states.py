"""Lots in the states a QA signature meets, built quickly: a three-test specification (one that
may be pending, two numeric), results entered through the services, as QC enters them.

Shared by the release-blocker tests of the services and of the lot page.
"""

from __future__ import annotations

from custody.services.quality import specifications as specs
from custody.services.quality.results import ResultRequest, enter_result, record_investigation
from tests.factories import PASSING_RESULTS, PASSWORD

# Sterility may be pending at a conditional release; viability and potency may not.
TESTS = ("sterility", "viability", "potency")
STERILITY = "Sterility (14-day culture)"
VIABILITY = "Viability (7-AAD)"
POTENCY = "Potency: cytotoxicity vs CD33+ targets"


def small_specification(qa, approve: bool = True):
    """The standard specification's sterility, viability and potency, approved by `qa`."""
    tests = [c for c in specs.STANDARD_RELEASE_TESTS if c.test in TESTS]
    spec = specs.create_specification(qa, specs.SpecificationRequest("D0001", tests))
    if approve:
        spec = specs.approve_specification(qa, "D0001", spec.version, qa.username, PASSWORD)
    return spec


def enter_results(lot_number: str, by, skip=(), **values) -> None:
    """Every result passing unless given (test=numeric value), entered by `by`."""
    for test in TESTS:
        if test in skip:
            continue
        fields = {"value_numeric": values[test]} if test in values else PASSING_RESULTS[test]
        enter_result(by, lot_number, ResultRequest(test, **fields))


def investigate(lot_number: str, by, test: str = "viability") -> None:
    record_investigation(by, lot_number, test, "INV-7: thaw handling; cells intact")
