"""The limits and value lists the schemas check requests against, written out.

They live in domain/ so that the API's schemas and the services read the same numbers; a
change to one of them must be made here too, on purpose.
"""

from __future__ import annotations

from custody.domain import (
    audit_chain,
    bedside_checks,
    dosing,
    eligibility,
    schedule,
    storage_tree,
    trace_scopes,
)


def test_donor_results_and_determinations():
    assert eligibility.TEST_RESULTS == ("non-reactive", "reactive", "indeterminate", "pending")
    assert eligibility.DETERMINATIONS == ("eligible", "ineligible", "incomplete")


def test_weights_doses_and_windows():
    assert (dosing.MIN_WEIGHT_KG, dosing.MAX_WEIGHT_KG) == (1.0, 400.0)
    assert dosing.MAX_DOSE_CELLS == 1e13
    assert bedside_checks.MAX_POST_THAW_MINUTES == 1440
    assert schedule.MAX_DAYS_AHEAD == 366


def test_the_storage_tree():
    assert storage_tree.MAX_LOCATION_CODE == 39
    assert storage_tree.MAX_POSITIONS == 100
    assert storage_tree.MAX_DEPTH == 4


def test_where_a_trace_starts_and_how_it_is_named():
    assert trace_scopes.SCOPES == ("donor", "din", "lot", "reagent_lot")
    assert trace_scopes.SCOPE_WORDS == {
        "donor": "donor",
        "din": "donation (DIN)",
        "lot": "lot",
        "reagent_lot": "reagent or vector lot",
    }


def test_what_an_audit_entry_can_record():
    assert audit_chain.ENTRY_ACTIONS == ("create", "update", "delete")
