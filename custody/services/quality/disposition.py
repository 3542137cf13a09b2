"""QA's disposition of a lot, by electronic signature: release, conditional release, reject,
return to quarantine.

The order is the system's to enforce (21 CFR 11.10(f),(g)): only QA signs; nothing is
released with a required result missing or out of specification unless QA records an
exceptional release at a physician's request; product of an ineligible or not fully evaluated
donor is released only with its statements acknowledged; and whoever entered a result does not
release the lot. The signature covers a hash of the lot's content (`release_signature`), which
also says afterwards whether it still holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from custody.config import settings
from custody.domain.errors import IllegalTransition, SignatureRefused, ValidationFailed
from custody.domain.permissions import UseCase
from custody.domain.release_rules import (
    RELEASING,
    DispositionAction,
    canonical_json,
    disposition_action,
    result_problems,
)
from custody.extensions import db
from custody.models import Disposition, Lot, QcResult, ReleaseDecision, User
from custody.models.base import utcnow
from custody.services.bags.lookup import locked_lot
from custody.services.bags.queries import lot_determinations
from custody.services.bags.recall_status import active_recall_codes
from custody.services.core.signatures import check_signer, reauthenticate, sign
from custody.services.core.transactions import write
from custody.services.quality.certificates import issue_certificate
from custody.services.quality.lot_quality import criteria_of, current_results, readings_of
from custody.services.quality.release_signature import signed_content

# Donor determinations whose product is released only with its statements acknowledged.
NEEDS_STATEMENTS = frozenset({"incomplete", "ineligible"})


@dataclass(frozen=True)
class DispositionRequest:
    action: str
    username: str
    password: str
    reason: str = ""
    pending_tests: Sequence[str] = ()
    exceptional: bool = False
    physician: str = ""
    physician_request: str = ""
    justification: str = ""
    statements_acknowledged: bool = False


def sign_disposition(user: User, lot_number: str, request: DispositionRequest) -> ReleaseDecision:
    """Sign the lot's disposition; for a release, conditional release or rejection, issue the
    certificate in the same transaction and keep its bytes."""
    check_signer(user, UseCase.SIGN_DISPOSITION, "a lot's disposition")
    reauthenticate(user, request.username, request.password)
    race = f"Someone signed lot {lot_number} at the same moment; look at it again."
    reason = f"lot {request.action.replace('_', ' ')}: {request.reason.strip()}".strip(": ")
    with write(user, reason, race, lot=lot_number):
        lot = locked_lot(lot_number)
        rule = disposition_action(request.action, lot.disposition.value, lot_number)
        results = current_results(lot)
        check_request(lot, rule, request, results, settings().release_segregation, user)
        decision = signed_decision(user, lot, rule, request, results)
        lot.disposition = Disposition(rule.disposition)
        if rule.disposition != Disposition.QUARANTINE:
            issue_certificate(decision, lot)
    return decision


def check_request(
    lot: Lot,
    rule: DispositionAction,
    request: DispositionRequest,
    results: list[QcResult],
    segregation: bool,
    user: User,
) -> None:
    if rule.reason_required and not request.reason.strip():
        raise ValidationFailed(
            f"'{rule.meaning}' needs its reason: say why, in words QA would sign.",
            field="reason",
        )
    if request.exceptional and request.action != "release":
        raise ValidationFailed("Only a release can be exceptional.", field="exceptional")
    if request.action in RELEASING:
        _check_not_recalled(lot)
        _check_releasable(lot, request, results)
        if segregation:
            _check_segregation(lot, results, user)


def _check_not_recalled(lot: Lot) -> None:
    recall = active_recall_codes(lot.id)
    if recall:
        raise IllegalTransition(
            f"Lot {lot.lot_number} is under recall {recall}: it cannot be released while the "
            "recall stands. Lift the recall (a signed action) first, or reject the lot.",
            lot=lot.lot_number,
            recall=recall,
        )


def _check_releasable(lot: Lot, request: DispositionRequest, results: list[QcResult]) -> None:
    if not lot.bags:
        raise IllegalTransition(
            f"Lot {lot.lot_number} has no bags filled: there is nothing to release.",
            lot=lot.lot_number,
        )
    _check_statements(lot, request)
    pending = _pending_tests(lot, request)
    problems = result_problems(criteria_of(lot), readings_of(results), pending)
    if not criteria_of(lot):
        problems = ["the lot has no approved specification to judge it by"]
    if request.exceptional:
        _check_exceptional(request, results)
        return
    if problems:
        raise IllegalTransition(
            f"Lot {lot.lot_number} cannot be released: {'; '.join(problems)}. Enter the "
            "missing results, or, at a physician's request, record an exceptional release.",
            lot=lot.lot_number,
            problems=problems,
        )


def _pending_tests(lot: Lot, request: DispositionRequest) -> list[str]:
    pending = sorted({t.strip() for t in request.pending_tests if t.strip()})
    if request.action == "conditional_release" and not pending:
        raise ValidationFailed(
            "A conditional release names the results still pending (e.g. sterility); with "
            "every result in, release the lot instead.",
            field="pending_tests",
        )
    if request.action == "release" and pending:
        raise ValidationFailed(
            "A release has no pending results; release conditionally to name them.",
            field="pending_tests",
        )
    return pending


def _check_exceptional(request: DispositionRequest, results: list[QcResult]) -> None:
    missing = [
        words
        for words, value in (
            ("the requesting physician", request.physician),
            ("the physician's request", request.physician_request),
            ("the justification", request.justification),
        )
        if not value.strip()
    ]
    if missing:
        raise ValidationFailed(
            f"An exceptional release records {', '.join(missing)}.", field="exceptional"
        )
    uninvestigated = [
        r.test for r in results if r.within_spec is False and not r.investigation_note
    ]
    if uninvestigated:
        raise IllegalTransition(
            f"Out-of-specification result {', '.join(uninvestigated)} has no investigation "
            "note: record the investigation before an exceptional release.",
            tests=uninvestigated,
        )


def _check_statements(lot: Lot, request: DispositionRequest) -> None:
    determination = lot_determinations({lot.id})[lot.id]
    if determination == "pending":
        raise IllegalTransition(
            f"Donor eligibility behind lot {lot.lot_number} has not been determined: QA "
            "determines it before the lot can be released.",
            lot=lot.lot_number,
        )
    if determination in NEEDS_STATEMENTS and not request.statements_acknowledged:
        raise IllegalTransition(
            f"The donor behind lot {lot.lot_number} is {determination}: the product may go out "
            "only with its statements on every label and on the certificate (NOT EVALUATED / "
            "BIOHAZARD, and the advice to the patient). Acknowledge them to release.",
            lot=lot.lot_number,
            donor_eligibility=determination,
        )


def _check_segregation(lot: Lot, results: list[QcResult], user: User) -> None:
    entered = sorted({r.test for r in results if r.entered_by_id == user.id})
    if entered:
        raise SignatureRefused(
            f"You entered the {', '.join(entered)} result of lot {lot.lot_number}: a different "
            "QA person must sign its release.",
            tests=entered,
        )


def signed_decision(
    user: User,
    lot: Lot,
    rule: DispositionAction,
    request: DispositionRequest,
    results: list[QcResult],
    now: datetime | None = None,
    previous_disposition: str | None = None,
) -> ReleaseDecision:
    """The decision and its signature over the lot's content, inside the caller's transaction,
    once `check_request` has passed. `now` and `previous_disposition` are for loaders of past
    records (the demo), which write lots with their final disposition."""
    now = now or utcnow()
    pending = sorted({t.strip() for t in request.pending_tests if t.strip()})
    decision = ReleaseDecision(
        lot_id=lot.id,
        disposition=rule.disposition,
        previous_disposition=previous_disposition or lot.disposition.value,
        reason=request.reason.strip(),
        exceptional=request.exceptional,
        physician=request.physician.strip(),
        physician_request=request.physician_request.strip(),
        justification=request.justification.strip(),
        pending_tests=pending,
        decided_at=now,
    )
    content = signed_content(lot, decision, results, user.username, rule.meaning, now)
    decision.signed_content = canonical_json(content)
    decision.signature = sign(
        user, rule.meaning, "lot", lot.id, content, now, reason=decision.reason
    )
    db.session.add(decision)
    db.session.flush()
    return decision
