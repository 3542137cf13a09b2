"""Blockers about results: the pending results of a conditional release, the results
against the specification, and what an exceptional release asks instead.

Part of `release_blockers`, which calls these in the order the server refuses.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from custody.domain.errors import ValidationFailed
from custody.domain.release_rules import Criterion, result_problems
from custody.extensions import db
from custody.models import QcSpecification, SpecificationStatus
from custody.services.quality.disposition_facts import Blocker, DispositionRequest, LotFacts
from custody.services.quality.specifications import current_specification

EXCEPTIONAL_NOT_NEEDED = "exceptional_not_needed"


def pending_blockers(
    facts: LotFacts, action: str, request: DispositionRequest | None
) -> tuple[list[str], list[Blocker]]:
    """The results a conditional release leaves pending, and what is wrong with naming them.

    Before the dialog, the only set that can pass is every missing result the specification
    lets be pending: the dialog offers exactly those."""
    if request is not None:
        return _pending_named(request, action)
    if action != "conditional_release":
        return [], []
    missing = [c for c in facts.criteria if c.may_be_pending and c.test not in facts.readings]
    if not missing:
        return [], [
            Blocker(
                "nothing_pending",
                "No result that the specification lets be pending (e.g. sterility) is "
                "missing: there is nothing to release conditionally.",
                "Nothing to clear: once every result is in, QA signs a normal release.",
                error=ValidationFailed,
                details={"field": "pending_tests"},
            )
        ]
    titles = ", ".join(c.title for c in missing)
    return [c.test for c in missing], [
        Blocker(
            "pending_tests",
            f"A conditional release names the results still pending: {titles}.",
            f"You tick {titles} as pending in the signing dialog.",
            in_dialog=True,
            error=ValidationFailed,
            details={"field": "pending_tests"},
        )
    ]


def _pending_named(request: DispositionRequest, action: str) -> tuple[list[str], list[Blocker]]:
    pending = sorted({t.strip() for t in request.pending_tests if t.strip()})
    if action == "conditional_release" and not pending:
        return pending, [
            Blocker(
                "pending_tests",
                "A conditional release names the results still pending (e.g. sterility); "
                "with every result in, release the lot instead.",
                "You tick the results still pending in the signing dialog.",
                error=ValidationFailed,
                details={"field": "pending_tests"},
            )
        ]
    if action == "release" and pending:
        return pending, [
            Blocker(
                "release_has_pending",
                "A release has no pending results; release conditionally to name them.",
                "Leave the pending results out, or sign a conditional release.",
                error=ValidationFailed,
                details={"field": "pending_tests"},
            )
        ]
    return pending, []


# --- results against the specification ---------------------------------------------------------


def result_blockers(facts: LotFacts, pending: Sequence[str]) -> list[Blocker]:
    """One blocker per result problem; the server refuses on them all in one sentence."""
    if not facts.criteria:
        return [_no_specification(facts)]
    unknown = sorted(set(pending) - {c.test for c in facts.criteria})
    found: list[tuple[Criterion | None, str]] = [
        (None, p) for p in result_problems([], {}, unknown)
    ]
    for c in facts.criteria:
        named = set(pending) & {c.test}
        found += [(c, p) for p in result_problems([c], facts.readings, named)]
    words = [p for _, p in found]
    refusal = (
        f"Lot {facts.lot.lot_number} cannot be released: {'; '.join(words)}. Enter the "
        "missing results, or, at a physician's request, record an exceptional release."
    )
    details = {"lot": facts.lot.lot_number, "problems": words}
    blockers = []
    for c, problem in found:
        code, clears = _result_words(facts, c, pending)
        sentence = f"{problem[0].upper()}{problem[1:]}."
        blockers.append(Blocker(code, sentence, clears, refusal=refusal, details=details))
    return blockers


def _result_words(facts: LotFacts, c: Criterion | None, pending: Sequence[str]) -> tuple[str, str]:
    """(code, who clears it) of one result problem."""
    if c is None:
        return ("not_a_test", "You leave it out of the pending results.")
    if c.test in pending and not c.may_be_pending:
        return ("may_not_be_pending", f"QC enters the {c.title} result.")
    if c.test in pending:
        return ("not_pending", "You leave it out of the pending results: its result is in.")
    if c.test not in facts.readings:
        return ("result_missing", f"QC enters the {c.title} result.")
    return (
        "out_of_specification",
        f"QC corrects the {c.title} result if it was entered wrongly; otherwise QA rejects "
        "the lot, or releases it exceptionally at a physician's request.",
    )


def _no_specification(facts: LotFacts) -> Blocker:
    lot = facts.lot
    clears = _specification_clears(lot.product_description_code)
    return Blocker(
        "no_specification",
        "The lot has no approved specification to judge its results by.",
        clears,
        refusal=f"Lot {lot.lot_number} cannot be released: the lot has no approved "
        f"specification to judge it by. {clears}",
        details={
            "lot": lot.lot_number,
            "problems": ["the lot has no approved specification to judge it by"],
        },
    )


def _specification_clears(pdc: str) -> str:
    current = current_specification(pdc)
    if current is not None:
        return (
            f"QC enters the lot's first result: the lot then takes specification {pdc} "
            f"version {current.version}, approved by QA."
        )
    draft = db.session.scalar(
        select(func.max(QcSpecification.version)).where(
            QcSpecification.product_description_code == pdc,
            QcSpecification.status == SpecificationStatus.DRAFT,
        )
    )
    if draft is not None:
        return f"QA approves specification {pdc} version {draft}."
    return f"QA writes and approves a specification for product {pdc}."


# --- an exceptional release ----------------------------------------------------------------------


def exceptional_blockers(facts: LotFacts, request: DispositionRequest | None) -> list[Blocker]:
    """At a physician's request results may be missing or out of specification, but never
    without a specification to judge them by, nor an out-of-specification one uninvestigated."""
    if not facts.criteria:
        return [_no_specification(facts)]
    if not result_problems(facts.criteria, facts.readings):
        return [
            Blocker(
                EXCEPTIONAL_NOT_NEEDED,
                "Every result is in and within specification: there is nothing to release "
                "exceptionally.",
                "Sign a normal release.",
                error=ValidationFailed,
                details={"field": "exceptional"},
            )
        ]
    found = _physician(request)
    uninvestigated = [
        r.test for r in facts.results if r.within_spec is False and not r.investigation_note
    ]
    if uninvestigated:
        tests = ", ".join(uninvestigated)
        found.append(
            Blocker(
                "investigation_needed",
                f"Out-of-specification result {tests} has no investigation note: record the "
                "investigation before an exceptional release.",
                f"QC or QA records the investigation of {tests} on this page.",
                details={"tests": uninvestigated},
            )
        )
    return found


def _physician(request: DispositionRequest | None) -> list[Blocker]:
    fields = (
        ("the requesting physician", request.physician if request else ""),
        ("the physician's request", request.physician_request if request else ""),
        ("the justification", request.justification if request else ""),
    )
    missing = [words for words, value in fields if not value.strip()]
    if not missing:
        return []
    return [
        Blocker(
            "physician_request",
            f"An exceptional release records {', '.join(missing)}.",
            "You enter the physician, the request and the justification in the signing dialog.",
            in_dialog=request is None,
            error=ValidationFailed,
            details={"field": "exceptional"},
        )
    ]
