"""Every blocker of a disposition at once, each saying who clears it; the signing service
refuses by the same list, on its first blocker, with the error it has always answered.

Which blockers the signing dialog clears (and so are shown as "to do in the dialog", not as
a disabled button) is pinned here by name: a reason, the donor statements, the pending
results of a conditional release, an exceptional release's physician fields. Nothing else.
"""

from __future__ import annotations

import pytest

from custody.domain.errors import IllegalTransition, SignatureRefused, ValidationFailed
from custody.extensions import db
from custody.models import Disposition, Lot
from custody.services.quality.disposition import DispositionRequest, sign_disposition
from custody.services.quality.release_blockers import disposition_blockers
from custody.services.traceability.recalls import SignedRequest, raise_recall
from tests.factories import PASSWORD
from tests.release_states import (
    POTENCY,
    STERILITY,
    enter_results,
    investigate,
    small_specification,
)

# The blockers the signing dialog itself clears: the page lists them as things to do there.
IN_DIALOG = {"reason_required", "statements", "pending_tests", "physician_request"}
PHYSICIAN = {
    "physician": "Dr A. Osler",
    "physician_request": "REQ-17: no other product",
    "justification": "Benefit outweighs the risk",
}


@pytest.fixture
def spec(qa):
    return small_specification(qa)


def _codes(lot, action, user, **kw) -> tuple[list[str], list[str]]:
    """(blocking codes, codes to do in the dialog) before any dialog opens."""
    found = disposition_blockers(db.session.get(Lot, lot.id), action, user, **kw)
    return [b.code for b in found if not b.in_dialog], [b.code for b in found if b.in_dialog]


def _sign(user, lot, action="release", **fields):
    request = DispositionRequest(action, user.username, PASSWORD, **fields)
    return sign_disposition(user, lot.lot_number, request)


def test_a_lot_blocked_every_way_lists_every_blocker_at_once(spec, make_lot, qa, analyst):
    lot = make_lot(eligibility="pending")
    enter_results(lot.lot_number, analyst, skip=("potency", "viability"))
    enter_results(lot.lot_number, qa, skip=("sterility", "potency"), viability=55.0)
    raise_recall(qa, "lot", lot.lot_number, SignedRequest("Donor look-back", "quinn", PASSWORD))

    found = disposition_blockers(db.session.get(Lot, lot.id), "release", qa)

    assert [(b.code, b.in_dialog) for b in found] == [
        ("recalled", False),
        ("eligibility_pending", False),
        ("out_of_specification", False),
        ("result_missing", False),
        ("segregation", False),
    ]
    by_code = {b.code: b for b in found}
    assert by_code["result_missing"].message == f"{POTENCY} has no result."
    assert by_code["result_missing"].clears == f"QC enters the {POTENCY} result."
    assert by_code["segregation"].clears == (
        "A QA person other than you signs the release; you may still reject the lot."
    )
    assert by_code["recalled"].clears.startswith("QA lifts recall RCL-")
    assert by_code["eligibility_pending"].clears == (
        "QA determines the donor's eligibility once the donor's tests are in."
    )


def test_the_server_refuses_on_the_first_blocker_with_every_blocker_in_the_details(
    spec, make_lot, qa, analyst
):
    lot = make_lot()
    enter_results(lot.lot_number, analyst, skip=("potency",))

    with pytest.raises(IllegalTransition) as refused:
        _sign(qa, lot, "release")

    assert refused.value.http_status == 409
    assert refused.value.message == (
        f"Lot {lot.lot_number} cannot be released: {POTENCY} has no result. Enter the missing "
        "results, or, at a physician's request, record an exceptional release."
    )
    assert refused.value.details["problems"] == [f"{POTENCY} has no result"]
    assert [b["code"] for b in refused.value.details["blockers"]] == ["result_missing"]
    assert db.session.get(Lot, lot.id).disposition is Disposition.QUARANTINE


def test_segregation_is_refused_as_a_signature_and_listed_with_the_results(
    spec, make_lot, qa, analyst
):
    lot = make_lot()
    enter_results(lot.lot_number, analyst, skip=("potency",))
    enter_results(lot.lot_number, qa, skip=("sterility", "viability"), potency=12.0)

    with pytest.raises(IllegalTransition) as refused:
        _sign(qa, lot, "release")
    assert [b["code"] for b in refused.value.details["blockers"]] == [
        "out_of_specification",
        "segregation",
    ]
    # Results in order: only segregation stands, and it is a refused signature (403).
    other = make_lot()
    enter_results(other.lot_number, qa)
    with pytest.raises(SignatureRefused, match="a different QA person must sign") as refused:
        _sign(qa, other, "release")
    assert refused.value.http_status == 403
    assert refused.value.details["tests"] == ["potency", "sterility", "viability"]


@pytest.mark.parametrize(
    ("action", "extra", "blocking", "in_dialog"),
    [
        ("release", {}, ["result_missing"], ["statements"]),
        ("release", {"exceptional": True}, [], ["statements", "physician_request"]),
        ("conditional_release", {}, [], ["reason_required", "statements", "pending_tests"]),
        ("reject", {}, [], ["reason_required"]),
    ],
)
def test_what_the_dialog_clears_is_a_thing_to_do_there_not_a_blocker(
    spec, make_lot, qa, analyst, action, extra, blocking, in_dialog
):
    lot = make_lot(eligibility="incomplete")
    enter_results(lot.lot_number, analyst, skip=("sterility",))
    assert _codes(lot, action, qa, **extra) == (blocking, in_dialog)
    assert set(in_dialog) <= IN_DIALOG


def test_the_to_dos_say_what_to_do_in_the_dialog(spec, make_lot, qa, analyst):
    lot = make_lot(eligibility="incomplete")
    enter_results(lot.lot_number, analyst, skip=("sterility",))
    found = disposition_blockers(db.session.get(Lot, lot.id), "conditional_release", qa)
    assert [b.clears for b in found] == [
        "You write the reason in the signing dialog.",
        "You acknowledge the donor-eligibility statements in the signing dialog.",
        f"You tick {STERILITY} as pending in the signing dialog.",
    ]


@pytest.mark.parametrize(
    ("fields", "error", "codes"),
    [
        ({"pending_tests": ["sterility"], "statements_acknowledged": True}, ValidationFailed,
         ["reason_required"]),
        # Sterility not named pending is a missing result as well.
        ({"reason": "Urgent", "statements_acknowledged": True}, ValidationFailed,
         ["pending_tests", "result_missing"]),
        ({"reason": "Urgent", "pending_tests": ["sterility"]}, IllegalTransition,
         ["statements"]),
    ],
)  # fmt: skip
def test_a_to_do_left_undone_in_the_dialog_is_refused(
    spec, make_lot, qa, analyst, fields, error, codes
):
    lot = make_lot(eligibility="incomplete")
    enter_results(lot.lot_number, analyst, skip=("sterility",))
    with pytest.raises(error) as refused:
        _sign(qa, lot, "conditional_release", **fields)
    assert [b["code"] for b in refused.value.details["blockers"]] == codes
    done = {"reason": "Urgent", "pending_tests": ["sterility"], "statements_acknowledged": True}
    _sign(qa, lot, "conditional_release", **done)
    assert db.session.get(Lot, lot.id).disposition is Disposition.CONDITIONALLY_RELEASED


def test_a_conditional_release_with_nothing_that_may_be_pending_is_blocked(
    spec, make_lot, qa, analyst
):
    lot = make_lot()
    enter_results(lot.lot_number, analyst, skip=("potency",))
    assert _codes(lot, "conditional_release", qa) == (
        ["nothing_pending", "result_missing"],
        ["reason_required"],
    )


def test_an_exceptional_release_needs_results_in_the_way_and_investigations(
    spec, make_lot, qa, analyst
):
    clean = make_lot()
    enter_results(clean.lot_number, analyst)
    assert _codes(clean, "release", qa, exceptional=True) == (["exceptional_not_needed"], [])
    with pytest.raises(ValidationFailed, match="nothing to release exceptionally"):
        _sign(qa, clean, exceptional=True, **PHYSICIAN)

    failed = make_lot()
    enter_results(failed.lot_number, analyst, viability=55.0)
    assert _codes(failed, "release", qa, exceptional=True) == (
        ["investigation_needed"],
        ["physician_request"],
    )
    investigate(failed.lot_number, analyst)
    assert _codes(failed, "release", qa, exceptional=True) == ([], ["physician_request"])
    assert _sign(qa, failed, exceptional=True, **PHYSICIAN).exceptional


def test_no_approved_specification_blocks_every_release_and_says_who_approves(make_lot, qa):
    small_specification(qa, approve=False)
    lot = make_lot()
    for action, extra in (("release", {}), ("release", {"exceptional": True})):
        found = disposition_blockers(db.session.get(Lot, lot.id), action, qa, **extra)
        (blocker,) = [b for b in found if not b.in_dialog]
        assert blocker.code == "no_specification"
        assert blocker.clears == "QA approves specification D0001 version 1."
    with pytest.raises(IllegalTransition, match="no approved specification"):
        _sign(qa, lot, exceptional=True, **PHYSICIAN)


def test_a_lot_without_bags_and_an_illegal_action_are_blockers_too(spec, make_lot, qa, analyst):
    empty = make_lot(bags=0)
    enter_results(empty.lot_number, analyst)
    assert _codes(empty, "release", qa) == (["no_bags"], [])
    assert _codes(empty, "quarantine", qa) == (["illegal_transition"], [])
    (illegal,) = disposition_blockers(db.session.get(Lot, empty.id), "quarantine", qa)
    assert illegal.clears == (
        "Nobody, from this disposition: choose what it allows "
        "(release, conditional_release, reject)."
    )


def test_only_qa_signs_and_segregation_follows_the_sites_setting(spec, make_lot, qa, analyst):
    lot = make_lot()
    enter_results(lot.lot_number, qa)
    assert _codes(lot, "release", analyst)[0] == ["not_qa"]
    assert _codes(lot, "release", qa, segregation=False) == ([], [])
    assert _codes(lot, "reject", qa) == ([], ["reason_required"])  # no segregation to reject
