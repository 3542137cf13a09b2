"""Issuing a bag's label and what becomes of it: the live-label rule, superseding, reprint,
void, application, reconciliation, the audit trail, and two people printing at once.

A bag has one live label; what it says follows the lot's release (quarantine until QA's
signature holds, conditional and exceptional releases stated in words). Each test reads the
label rows back from the database rather than trusting what the service returned.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from custody.domain import eligibility
from custody.domain.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    LabelCannotPrint,
    ValidationFailed,
)
from custody.extensions import db
from custody.models import Bag, LabelPrint, LabelStatus
from custody.services.audit.review import entries_of
from custody.services.core.audit_trail import acting_as
from custody.services.labelling import jobs, prints
from custody.services.quality.results import (
    ResultRequest,
    correct_result,
    enter_result,
    record_investigation,
)
from tests.factories import approve_label_templates
from tests.races import race

ROUNDS = 3


@pytest.fixture
def qa(qa, make):
    """Quinn, who has approved the shipped label templates (no label prints before)."""
    return approve_label_templates(make, signer=qa)


def labels_of(bag: Bag) -> list[LabelPrint]:
    db.session.expire_all()
    query = select(LabelPrint).where(LabelPrint.subject_key == bag.code).order_by(LabelPrint.id)
    return list(db.session.scalars(query))


def live(bag: Bag) -> list[LabelPrint]:
    return [label for label in labels_of(bag) if label.status is not LabelStatus.VOIDED]


def tally(printed, reprints, applied, voided, issued_not_applied) -> dict[str, int]:
    return {
        "printed": printed,
        "reprints": reprints,
        "applied": applied,
        "voided": voided,
        "issued_not_applied": issued_not_applied,
    }


def test_without_an_approved_template_nothing_prints(make, make_lot, tech):
    bag = make_lot(bags=1).bags[0]
    with pytest.raises(LabelCannotPrint, match="QA approves a template version") as refused:
        jobs.bag_label(tech, bag.code)
    assert refused.value.http_status == 409
    assert labels_of(bag) == []


def test_a_quarantined_bag_gets_one_quarantine_label_and_the_same_bytes_again(
    qa, make_lot, tech, make
):
    bag = make_lot(bags=1).bags[0]
    first = jobs.bag_label(tech, bag.code)
    first_id, first_pdf = first.id, first.pdf
    again = jobs.bag_label(make.user("technician"), bag.code)
    (stored,) = labels_of(bag)
    assert (stored.purpose, stored.action) == ("quarantine_product", "print")
    assert stored.status is LabelStatus.ISSUED
    assert again.id == first_id == stored.id and again.pdf == first_pdf
    assert stored.values["release_statement"] == ""
    assert stored.printed_by_id == tech.id and stored.template_version == 1


def test_release_issues_the_final_label_and_voids_the_quarantine_one(qa, quality, make_lot, tech):
    quality.specification()
    lot = make_lot(bags=1)
    bag = lot.bags[0]
    jobs.bag_label(tech, bag.code)
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number)
    final = jobs.bag_label(tech, bag.code)
    quarantine, stored_final = labels_of(bag)
    assert stored_final.id == final.id and stored_final.purpose == "final_product"
    assert stored_final.values["release_statement"] == ""
    assert quarantine.status is LabelStatus.VOIDED
    assert "final product label" in quarantine.void_reason
    assert quarantine.voided_by_id == tech.id


def test_conditional_release_is_stated_then_superseded_by_the_full_release(
    qa, quality, make_lot, tech, make
):
    quality.specification()
    lot = make_lot(bags=1)
    bag = lot.bags[0]
    quality.results(lot.lot_number, skip=("sterility",))
    pending = {"reason": "Urgent", "pending_tests": ["sterility"]}
    quality.sign(lot.lot_number, "conditional_release", **pending)
    conditional = jobs.bag_label(tech, bag.code)
    statement = conditional.values["release_statement"]
    assert statement.startswith("CONDITIONAL RELEASE") and "Sterility" in statement
    sterile = ResultRequest("sterility", value_text="negative")
    enter_result(make.user("technician"), lot.lot_number, sterile)
    quality.sign(lot.lot_number)
    jobs.bag_label(tech, bag.code)
    old, new = labels_of(bag)
    assert old.status is LabelStatus.VOIDED and "release_statement" in old.void_reason
    assert "superseded" in old.void_reason
    assert (new.purpose, new.values["release_statement"]) == ("final_product", "")
    assert new.status is LabelStatus.ISSUED


def test_exceptional_release_is_stated_on_the_final_label(qa, quality, make_lot, tech):
    quality.specification()
    lot = make_lot(bags=1)
    quality.results(lot.lot_number, viability={"value_numeric": 60.0})
    record_investigation(quality.qa, lot.lot_number, "viability", "Thaw handling; cells intact")
    quality.sign(
        lot.lot_number,
        exceptional=True,
        physician="Dr A. Osler",
        physician_request="Request 2026-17: no alternative product",
        justification="Benefit outweighs risk per PI",
    )
    label = jobs.bag_label(tech, lot.bags[0].code)
    assert label.purpose == "final_product"
    assert label.values["release_statement"].startswith("EXCEPTIONAL RELEASE")
    assert "Dr A. Osler" in label.values["release_statement"]


def test_a_correction_after_release_brings_back_the_quarantine_label(
    qa, quality, make_lot, tech, make
):
    lot = quality.released_lot(make_lot, bags=1)
    bag = lot.bags[0]
    jobs.bag_label(tech, bag.code)
    correction = ResultRequest("viability", value_numeric=90.0)
    correct_result(make.user("technician"), lot.lot_number, correction, "transcription error")
    jobs.bag_label(tech, bag.code)
    final, quarantine = labels_of(bag)
    assert final.status is LabelStatus.VOIDED and "quarantine product" in final.void_reason
    assert (quarantine.purpose, quarantine.status) == ("quarantine_product", LabelStatus.ISSUED)


@pytest.mark.parametrize("status", ["infused", "discarded"])
def test_a_bag_out_of_the_facilitys_custody_gets_no_label(qa, make_lot, tech, status):
    bag = make_lot(bags=1, status=status).bags[0]
    with pytest.raises(LabelCannotPrint, match=status):
        jobs.bag_label(tech, bag.code)
    assert labels_of(bag) == []


def test_a_final_label_without_an_expiry_does_not_print(qa, quality, make_lot, tech):
    lot = quality.released_lot(make_lot, bags=1)
    bag = lot.bags[0]
    with acting_as("system:test", reason="test setup"):
        bag.expires_at = None
        db.session.commit()
    with pytest.raises(LabelCannotPrint, match="no expiry"):
        jobs.bag_label(tech, bag.code)
    assert labels_of(bag) == []


@pytest.mark.parametrize(
    ("determination", "biohazard"),
    [("eligible", ""), ("incomplete", ""), ("ineligible", eligibility.BIOHAZARD)],
)
def test_eligibility_warnings_are_printed_for_donors_not_found_eligible(
    qa, quality, make_lot, tech, determination, biohazard
):
    quality.specification()
    lot = make_lot(bags=1, eligibility=determination)
    quarantine = jobs.bag_label(tech, lot.bags[0].code).values
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number, statements_acknowledged=determination != "eligible")
    final = jobs.bag_label(tech, lot.bags[0].code).values
    expected = eligibility.warnings_for(determination)
    for values in (quarantine, final):
        assert values["biohazard"] == biohazard
        assert values["eligibility_warnings"].splitlines() == [
            w for w in expected if w != eligibility.BIOHAZARD
        ]
    assert (eligibility.ADVISE_PATIENT in final["eligibility_warnings"]) is bool(expected)


def test_reprint_needs_qa_and_a_reason_and_voids_the_old_label(qa, make_lot, tech):
    bag = make_lot(bags=1).bags[0]
    old_id = jobs.bag_label(tech, bag.code).id
    with pytest.raises(Forbidden):
        jobs.reprint(tech, old_id, "Label smudged in the freezer")
    with pytest.raises(ValidationFailed, match="at least 5"):
        jobs.reprint(qa, old_id, " bad ")
    assert [(x.id, x.status) for x in labels_of(bag)] == [(old_id, LabelStatus.ISSUED)]
    new_id = jobs.reprint(qa, old_id, "Label smudged in the freezer").id
    old, new = labels_of(bag)
    assert (new.id, new.action, new.replaces_id) == (new_id, "reprint", old_id)
    assert new.reason == "Label smudged in the freezer"
    assert new.values == old.values and new.printed_by_id == qa.id
    assert old.status is LabelStatus.VOIDED
    assert old.void_reason == "replaced by a reprint: Label smudged in the freezer"
    assert jobs.bag_label(tech, bag.code).id == new_id
    with pytest.raises(IllegalTransition, match="voided"):
        jobs.reprint(qa, old_id, "Another copy please")


def test_a_quarantine_label_is_not_reprinted_after_the_release(qa, quality, make_lot, tech):
    quality.specification()
    lot = make_lot(bags=1)
    bag = lot.bags[0]
    label_id = jobs.bag_label(tech, bag.code).id
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number)
    with pytest.raises(IllegalTransition, match="it is now a final_product label"):
        jobs.reprint(qa, label_id, "Label smudged in the freezer")
    assert [(x.id, x.status) for x in labels_of(bag)] == [(label_id, LabelStatus.ISSUED)]


def test_void_needs_a_reason_happens_once_and_the_bag_then_gets_a_fresh_label(qa, make_lot, tech):
    bag = make_lot(bags=1).bags[0]
    label_id = jobs.bag_label(tech, bag.code).id
    with pytest.raises(ValidationFailed, match="reason"):
        prints.void(tech, label_id, "")
    prints.void(tech, label_id, "Printer jammed, label torn")
    with pytest.raises(IllegalTransition, match="already void") as twice:
        prints.void(tech, label_id, "Printer jammed, label torn")
    assert twice.value.http_status == 409
    fresh = jobs.bag_label(tech, bag.code).id
    voided, issued = labels_of(bag)
    assert voided.id == label_id and voided.void_reason == "Printer jammed, label torn"
    assert (issued.id, issued.action, issued.status) == (fresh, "print", LabelStatus.ISSUED)


def test_apply_takes_the_bags_own_scan_only_and_happens_once(qa, make_lot, tech):
    lot = make_lot(bags=2)
    bag, other = lot.bags
    label_id = jobs.bag_label(tech, bag.code).id
    with pytest.raises(ValidationFailed, match=other.code):
        prints.apply(tech, label_id, other.code)
    assert labels_of(bag)[0].status is LabelStatus.ISSUED
    prints.apply(tech, label_id, bag.code)
    (applied,) = labels_of(bag)
    assert applied.status is LabelStatus.APPLIED
    assert applied.applied_by_id == tech.id and applied.applied_at is not None
    with pytest.raises(IllegalTransition, match="applied"):
        prints.apply(tech, label_id, bag.code)
    prints.void(tech, label_id, "Fell off during thaw")
    with pytest.raises(IllegalTransition, match="voided"):
        prints.apply(tech, label_id, bag.code)


def test_reconciliation_counts_each_purpose_and_the_bags_still_missing_a_label(
    qa, quality, make_lot, tech
):
    quality.specification()
    lot = make_lot(bags=3)
    first, second, third = lot.bags
    printed = jobs.bag_label(tech, first.code).id
    reprinted = jobs.reprint(qa, printed, "Label smudged in the freezer").id
    prints.apply(tech, reprinted, first.code)
    prints.void(tech, jobs.bag_label(tech, second.code).id, "Printed on wrong stock")
    counts = jobs.reconciliation(lot.lot_number)
    assert (counts["label_needed"], counts["bags"]) == ("quarantine_product", 3)
    assert counts["purposes"] == {"quarantine_product": tally(3, 1, 1, 2, 0)}
    assert counts["bags_without_current_label"] == [second.code, third.code]
    quality.results(lot.lot_number)
    quality.sign(lot.lot_number)
    assert len(jobs.lot_labels(tech, lot.lot_number)) == 3
    after = jobs.reconciliation(lot.lot_number)
    assert after["label_needed"] == "final_product"
    assert after["purposes"]["final_product"] == tally(3, 0, 0, 0, 3)
    assert after["purposes"]["quarantine_product"]["voided"] == 3
    assert after["bags_without_current_label"] == []


def test_print_void_and_apply_are_audited_and_a_refusal_writes_nothing(qa, make_lot, tech):
    lot = make_lot(bags=2)
    label_id = jobs.bag_label(tech, lot.bags[0].code).id

    def entries():
        db.session.expire_all()
        return sorted(entries_of([("label_prints", label_id)], 50), key=lambda e: e.id)

    (created,) = entries()
    assert (created.action, created.actor) == ("create", "tess")
    assert '"status": [null, "issued"]' in created.changes
    with pytest.raises(ValidationFailed):
        prints.apply(tech, label_id, lot.bags[1].code)
    assert len(entries()) == 1
    prints.apply(tech, label_id, lot.bags[0].code)
    prints.void(qa, label_id, "Label fell off during thaw")
    _, applied, voided = entries()
    assert applied.actor == "tess" and '"applied"]' in applied.changes
    assert voided.actor == qa.username and '"voided"]' in voided.changes
    assert "Label fell off during thaw" in voided.reason


def test_two_technicians_asking_for_a_first_label_get_the_same_one(app, qa, make, make_lot):
    make.user("technician", username="tom")
    make.user("technician", username="tia")
    for bag in make_lot(bags=ROUNDS).bags:
        code = bag.code
        outcomes = race(
            app,
            ("tom", lambda user, code=code: jobs.bag_label(user, code).id),
            ("tia", lambda user, code=code: jobs.bag_label(user, code).id),
        )
        assert all(isinstance(o, int) for o in outcomes), outcomes
        assert outcomes[0] == outcomes[1]
        assert [label.id for label in labels_of(bag)] == [outcomes[0]]


def test_a_reprint_racing_a_void_leaves_one_winner_and_at_most_one_live_label(
    app, qa, make_lot, tech
):
    def reprint(label_id):
        return lambda user: jobs.reprint(user, label_id, "Torn label").action

    def void(label_id):
        return lambda user: prints.void(user, label_id, "Wrong printer").status.value

    for bag in make_lot(bags=ROUNDS).bags:
        label_id = jobs.bag_label(tech, bag.code).id
        outcomes = race(app, (qa.username, reprint(label_id)), ("tess", void(label_id)))
        won = [o for o in outcomes if isinstance(o, str)]
        lost = [o for o in outcomes if not isinstance(o, str)]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert isinstance(lost[0], IllegalTransition | Conflict), lost
        assert lost[0].http_status == 409
        assert len(live(bag)) == (1 if won == ["reprint"] else 0)
        assert len(labels_of(bag)) == (2 if won == ["reprint"] else 1)


def test_reconciliation_still_counts_a_lot_whose_release_signature_broke(
    qa, quality, make_lot, tech
):
    lot = quality.released_lot(make_lot, bags=1)
    jobs.bag_label(tech, lot.bags[0].code)
    db.session.execute(db.text("UPDATE qc_results SET value_numeric = 99.0 WHERE test = 'potency'"))
    db.session.commit()
    counts = jobs.reconciliation(lot.lot_number)
    assert counts["purposes"]["final_product"]["issued_not_applied"] == 1
    assert counts["label_needed"] is None and "no longer holds" in counts["note"]
    assert counts["bags_without_current_label"] == []
