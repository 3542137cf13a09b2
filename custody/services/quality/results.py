"""QC results of a lot: entered against its specification, judged at once, corrected in the open.

A result is never edited in place: a correction is a new row that replaces the old one, which
stays visible with the reason (Annex 11 §9). Out-of-specification results are flagged and
wait for an investigation note. Any change to the results of a lot QA has already signed
withdraws the signature and puts the lot back in quarantine for re-review, except a result
that a conditional release named as pending and that arrives in specification. A pending
result that arrives out of specification raises an alert naming every bag and recipient.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from custody.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from custody.domain.permissions import UseCase, allows
from custody.domain.release_rules import QUALITATIVE, Criterion, defined_value, judge
from custody.extensions import db
from custody.models import Disposition, Lot, QcResult, User
from custody.services.bags.lookup import locked_lot
from custody.services.core.transactions import write
from custody.services.quality.alerts import raise_alert
from custody.services.quality.lot_quality import attach_specification, criteria_of
from custody.services.quality.release_signature import latest_decision, reopen_for_review

# QC analysts work as technicians here; QA may enter too (segregation is checked at release).
MAX_TEXT = 64


@dataclass(frozen=True)
class ResultRequest:
    test: str
    value_numeric: float | None = None
    value_text: str | None = None
    unit: str = ""
    method: str = ""
    instrument: str = ""
    attachment_ref: str = ""
    investigation_note: str = ""


def enter_result(user: User, lot_number: str, request: ResultRequest) -> QcResult:
    """The first result of a test for the lot; a second one is a correction, with a reason."""
    _check_enterer(user)
    race = f"Someone entered a result for lot {lot_number} at the same moment; look again."
    with write(user, f"QC result entered: {request.test}", race, lot=lot_number):
        lot = locked_lot(lot_number)
        attach_specification(lot)
        criterion = _criterion(lot, request.test)
        if _current(lot, criterion.test) is not None:
            raise Conflict(
                f"Lot {lot_number} has a {criterion.title} result already: to change it, "
                "correct it and give the reason.",
                lot=lot_number,
                test=criterion.test,
            )
        result = _new_result(user, lot, criterion, request)
        _after_change(lot, result, correction=False)
    return result


def correct_result(user: User, lot_number: str, request: ResultRequest, reason: str) -> QcResult:
    """Replace the test's current result; the old one stays, marked as corrected, with why."""
    _check_enterer(user)
    if not reason.strip():
        raise ValidationFailed(
            "A correction needs its reason (e.g. 'transcription error').", field="reason"
        )
    race = f"Someone changed a result of lot {lot_number} at the same moment; look again."
    with write(user, f"QC result corrected: {reason.strip()}", race, lot=lot_number):
        lot = locked_lot(lot_number)
        attach_specification(lot)
        criterion = _criterion(lot, request.test)
        old = _current(lot, criterion.test)
        if old is None:
            raise NotFound(
                f"Lot {lot_number} has no {criterion.title} result to correct; enter it.",
                lot=lot_number,
                test=criterion.test,
            )
        result = _new_result(user, lot, criterion, request, correction_reason=reason.strip())
        old.superseded_by_id = result.id
        _after_change(lot, result, correction=True)
    return result


def record_investigation(user: User, lot_number: str, test: str, note: str) -> QcResult:
    """The investigation note an out-of-specification result waits for."""
    _check_enterer(user)
    if not note.strip():
        raise ValidationFailed("Write the investigation's finding.", field="note")
    with write(user, f"OOS investigation recorded: {test}", lot=lot_number):
        lot = locked_lot(lot_number)
        attach_specification(lot)
        criterion = _criterion(lot, test)
        result = _current(lot, criterion.test)
        if result is None or result.within_spec is not False:
            raise ValidationFailed(
                f"Only an out-of-specification result takes an investigation note; lot "
                f"{lot_number}'s {criterion.title} result is not one.",
                test=criterion.test,
            )
        result.investigation_note = note.strip()
    return result


def _check_enterer(user: User) -> None:
    if not allows(user.role, UseCase.ENTER_RESULT):
        raise Forbidden(
            f"QC results are entered by the lab or QA; you are signed in as {user.role.value}.",
            role=user.role.value,
        )


def _criterion(lot: Lot, test: str) -> Criterion:
    criteria = {c.test: c for c in criteria_of(lot)}
    key = test.strip()
    if key not in criteria:
        raise ValidationFailed(
            f"'{key}' is not a release test of lot {lot.lot_number}'s specification; tests "
            f"are: {', '.join(criteria)}.",
            field="test",
        )
    return criteria[key]


def _current(lot: Lot, test: str) -> QcResult | None:
    return db.session.scalar(
        select(QcResult).where(
            QcResult.lot_id == lot.id,
            QcResult.test == test,
            QcResult.superseded_by_id.is_(None),
        )
    )


def _new_result(
    user: User,
    lot: Lot,
    criterion: Criterion,
    request: ResultRequest,
    correction_reason: str | None = None,
) -> QcResult:
    text = (request.value_text or "").strip() or None
    if text is not None and len(text) > MAX_TEXT:
        raise ValidationFailed(f"A result in words has at most {MAX_TEXT} characters.")
    if criterion.kind == QUALITATIVE and criterion.allowed_values:
        # One of the specification's values, in its spelling; anything else is refused whole.
        text = defined_value(criterion, text)
    unit = _unit(criterion, request)
    within = _within(criterion, request.value_numeric, text)
    result = QcResult(
        lot_id=lot.id,
        test=criterion.test,
        value_numeric=request.value_numeric if criterion.kind == "numeric" else None,
        value_text=text.lower() if criterion.kind == "qualitative" else text,
        unit=unit,
        method=request.method.strip(),
        instrument=request.instrument.strip(),
        attachment_ref=request.attachment_ref.strip(),
        within_spec=within,
        investigation_note="" if within is not False else request.investigation_note.strip(),
        entered_by_id=user.id,
        correction_reason=correction_reason,
    )
    db.session.add(result)
    db.session.flush()
    return result


def _unit(criterion: Criterion, request: ResultRequest) -> str:
    unit = request.unit.strip()
    if criterion.judged_at_allocation:
        # Measured on the product (e.g. % CD3+ of all cells), judged per recipient's weight.
        if request.value_numeric is not None and not unit:
            raise ValidationFailed(f"Give the unit of the {criterion.title} value.", field="unit")
        return unit
    unit = unit or criterion.unit
    if criterion.unit and unit != criterion.unit:
        raise ValidationFailed(
            f"{criterion.title} is specified in {criterion.unit}, not {unit}: convert the "
            "value, or check the test.",
            field="unit",
        )
    return unit


def _within(criterion: Criterion, value: float | None, text: str | None) -> bool | None:
    """The verdict against the specification; None for a test judged later, per recipient."""
    if criterion.judged_at_allocation:
        if value is None and text is None:
            raise ValidationFailed(f"Enter the {criterion.title} value.", field="value_numeric")
        return None
    return judge(criterion, value, text)


def _after_change(lot: Lot, result: QcResult, correction: bool) -> None:
    """What a new or corrected result does to a lot QA has already signed."""
    decision = latest_decision(lot)
    if decision is None or decision.invalidated_at is not None:
        return
    if lot.disposition is Disposition.QUARANTINE:
        return
    awaited = (
        lot.disposition is Disposition.CONDITIONALLY_RELEASED
        and not correction
        and result.test in decision.pending_tests
    )
    if awaited and result.within_spec:
        return  # the result the conditional release waited for: QA's final release is next
    if awaited:
        message = (
            f"Lot {lot.lot_number}: the {result.test} result awaited at conditional release is "
            f"out of specification ({result.value_text or result.value_numeric}). Every bag not "
            "yet infused is blocked; inform the physicians of the recipients listed."
        )
        reopen_for_review(lot, f"{result.test} out of specification after conditional release")
        raise_alert(lot, result, message)
        return
    words = "corrected" if correction else "entered"
    reopen_for_review(lot, f"{result.test} result {words} after QA signed the lot")
